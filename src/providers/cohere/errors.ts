import type { GatewayError } from '../../core/errors.js'
import { upstreamError, type ParsedProviderError, type UpstreamResponse } from '../http.js'

/** Cohere's error body: `{ "id": "...", "message": "..." }`. */
export function parseCohereError(json: unknown): ParsedProviderError {
  const m = (json as { message?: unknown } | null)?.message
  return { message: typeof m === 'string' ? m : undefined }
}

export function cohereError(
  provider: string,
  status: number,
  text: string,
  headers: UpstreamResponse['headers'],
): GatewayError {
  return upstreamError(provider, status, text, headers, parseCohereError)
}
