import type { Linter } from 'eslint'

export declare const ALLOWED: Record<string, string[]>
export declare const UNRESTRICTED: string[]
export declare function boundaryConfigs(): Linter.Config[]
