import { GatewayError } from '../../core/errors.js'
import { upstreamError, type ParsedProviderError, type UpstreamResponse } from '../http.js'

/**
 * Google's error body: `{ "error": { "code": 400, "message", "status": "INVALID_ARGUMENT", "details": [...] } }`.
 * `details` may hold an ErrorInfo (`reason: "API_KEY_INVALID"`) and a RetryInfo (`retryDelay: "37s"`).
 */
export interface GeminiErrorBody {
  error?: {
    code?: number
    message?: string
    status?: string
    details?: { '@type'?: string; reason?: string; retryDelay?: string; [k: string]: unknown }[]
  }
}

export interface ParsedGeminiError extends ParsedProviderError {
  /** ErrorInfo.reason, e.g. API_KEY_INVALID. */
  reason?: string
  /** RetryInfo.retryDelay in milliseconds. */
  retryDelayMs?: number
}

export function parseGeminiError(json: unknown): ParsedGeminiError {
  // Some Google front ends answer with a one-element list of error bodies.
  const body = (Array.isArray(json) ? json[0] : json) as GeminiErrorBody | null | undefined
  const e = body?.error
  if (!e || typeof e !== 'object') return {}
  let reason: string | undefined
  let retryDelayMs: number | undefined
  for (const d of Array.isArray(e.details) ? e.details : []) {
    if (typeof d?.reason === 'string') reason ??= d.reason
    if (typeof d?.retryDelay === 'string') retryDelayMs ??= parseProtoDuration(d.retryDelay)
  }
  const status = typeof e.status === 'string' ? e.status : undefined
  return {
    message: typeof e.message === 'string' ? e.message : undefined,
    type: status,
    code: reason ?? status ?? (typeof e.code === 'number' ? e.code : undefined),
    reason,
    retryDelayMs,
  }
}

/** A protobuf Duration in JSON: "37s", "1.5s". */
function parseProtoDuration(value: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)s$/.exec(value.trim())
  return m ? Math.round(Number(m[1]) * 1000) : undefined
}

/**
 * Gemini's non-2xx answer as a GatewayError. Two Google quirks: an invalid key is a 400
 * (API_KEY_INVALID), not a 401, and a 429 says when to come back in RetryInfo, not in Retry-After.
 */
export function geminiError(
  providerName: string,
  status: number,
  text: string,
  headers: UpstreamResponse['headers'],
): GatewayError {
  let parsed: ParsedGeminiError = {}
  const base = upstreamError(providerName, status, text, headers, (json) => (parsed = parseGeminiError(json)))
  const keyInvalid = parsed.reason === 'API_KEY_INVALID'
  const retryAfterMs = base.retryAfterMs ?? parsed.retryDelayMs
  if (!keyInvalid && retryAfterMs === base.retryAfterMs) return base
  return new GatewayError(base.code, base.message, {
    status: base.status,
    type: base.type,
    upstreamCode: base.upstreamCode,
    param: base.param,
    isBifrostError: base.isBifrostError,
    retryAfterMs,
    keyDead: base.keyDead || keyInvalid,
    retryable: base.retryable,
    cause: base.cause,
  })
}
