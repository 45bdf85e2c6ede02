import type { Linter } from 'eslint'

export declare const ALLOWED: Record<string, string[]>
export declare const UNRESTRICTED: string[]
export interface BoundaryException {
  file: string
  imports: string[]
  why: string
}
export declare const EXCEPTIONS: BoundaryException[]
export declare function boundaryConfigs(options?: { withExceptions?: boolean }): Linter.Config[]
