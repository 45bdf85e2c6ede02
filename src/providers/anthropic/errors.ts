import { GatewayError } from '../../core/errors.js'
import { upstreamError, type ParsedProviderError, type UpstreamResponse } from '../http.js'

/** Anthropic's error body: `{ "type": "error", "error": { "type", "message" } }`. */
export function parseAnthropicError(json: unknown): ParsedProviderError {
  const err = (json as { error?: unknown } | null)?.error
  if (err && typeof err === 'object') {
    const e = err as Record<string, unknown>
    return {
      message: typeof e.message === 'string' ? e.message : undefined,
      type: typeof e.type === 'string' ? e.type : undefined,
    }
  }
  if (typeof err === 'string') return { message: err }
  const m = (json as { message?: unknown } | null)?.message
  return { message: typeof m === 'string' ? m : undefined }
}

/**
 * A non-2xx answer from Anthropic as a GatewayError. An overload (529, or `overloaded_error` under
 * any status) is always worth another attempt.
 */
export function anthropicError(
  provider: string,
  status: number,
  text: string,
  headers: UpstreamResponse['headers'],
): GatewayError {
  const err = upstreamError(provider, status, text, headers, parseAnthropicError)
  if (err.retryable || (status !== 529 && err.type !== 'overloaded_error')) return err
  return new GatewayError(err.code, err.message, {
    status: err.status,
    type: err.type,
    isBifrostError: err.isBifrostError,
    upstreamCode: err.upstreamCode,
    retryAfterMs: err.retryAfterMs,
    keyDead: err.keyDead,
    retryable: true,
  })
}
