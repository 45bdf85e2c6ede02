import { GatewayError } from '../../core/errors.js'
import { upstreamError, type ParsedProviderError, type UpstreamResponse } from '../http.js'
import { parseOpenAIError } from '../openai/errors.js'

/**
 * Anthropic's error body: `{ "type": "error", "error": { "type", "message" } }`, OpenAI's envelope
 * without its `code` and `param` (Anthropic has none; one that appears is not passed on).
 */
export function parseAnthropicError(json: unknown): ParsedProviderError {
  const { message, type } = parseOpenAIError(json)
  return { message, type }
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
