import type { GatewayError } from '../../core/errors.js'

/** Anthropic's error body: `{type: 'error', error: {type, message}}`. */
export interface AnthropicErrorBody {
  type: 'error'
  error: { type: string; message: string }
}

const UPSTREAM_TYPES = new Set([
  'invalid_request_error',
  'authentication_error',
  'permission_error',
  'not_found_error',
  'request_too_large',
  'rate_limit_error',
  'api_error',
  'overloaded_error',
  'billing_error',
  'timeout_error',
])

/** The error type the Anthropic SDK expects for a status (its error classes follow the status). */
function typeForStatus(status: number): string {
  if (status === 400 || status === 405 || status === 415) return 'invalid_request_error'
  if (status === 401) return 'authentication_error'
  if (status === 402) return 'billing_error'
  if (status === 403) return 'permission_error'
  if (status === 404) return 'not_found_error'
  if (status === 413) return 'request_too_large'
  if (status === 429) return 'rate_limit_error'
  if (status === 504) return 'timeout_error'
  if (status === 529) return 'overloaded_error'
  return 'api_error'
}

/** A gateway error in Anthropic's shape; the upstream's own type is kept when it is one of Anthropic's. */
export function toAnthropicError(err: GatewayError): AnthropicErrorBody {
  const type = UPSTREAM_TYPES.has(err.type) ? err.type : typeForStatus(err.status)
  return { type: 'error', error: { type, message: err.message } }
}
