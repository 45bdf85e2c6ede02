/**
 * The one catalogue of errors Heimdall raises. Every error leaves the gateway in Bifrost's error
 * shape (`is_bifrost_error`, `status_code`, `error{type,code,message,param}`, `extra_fields`).
 */

export interface ErrorSpec {
  status: number
  type: string
}

export const ERRORS = {
  // caller's mistakes
  invalid_json: { status: 400, type: 'invalid_request_error' },
  invalid_request: { status: 400, type: 'invalid_request_error' },
  model_required: { status: 400, type: 'invalid_request_error' },
  unknown_provider: { status: 400, type: 'invalid_request_error' },
  provider_not_configured: { status: 400, type: 'invalid_request_error' },
  no_key_for_model: { status: 400, type: 'invalid_request_error' },
  unsupported_operation: { status: 400, type: 'invalid_request_error' },
  body_too_large: { status: 413, type: 'invalid_request_error' },
  unsupported_media_type: { status: 415, type: 'invalid_request_error' },
  route_not_found: { status: 404, type: 'not_found_error' },
  not_found: { status: 404, type: 'not_found_error' },
  method_not_allowed: { status: 405, type: 'invalid_request_error' },
  conflict: { status: 409, type: 'conflict_error' },
  unauthorized: { status: 401, type: 'authentication_error' },
  request_timeout: { status: 408, type: 'invalid_request_error' },
  too_many_connections: { status: 429, type: 'rate_limited' },
  forbidden: { status: 403, type: 'permission_error' },
  // governance decisions (Bifrost's decision names; the body's top-level `type` repeats them)
  virtual_key_required: { status: 401, type: 'virtual_key_required' },
  virtual_key_not_found: { status: 401, type: 'virtual_key_not_found' },
  virtual_key_blocked: { status: 403, type: 'virtual_key_blocked' },
  provider_blocked: { status: 403, type: 'provider_blocked' },
  model_blocked: { status: 403, type: 'model_blocked' },
  mcp_tool_blocked: { status: 403, type: 'mcp_tool_blocked' },
  budget_exceeded: { status: 402, type: 'budget_exceeded' },
  rate_limited: { status: 429, type: 'rate_limited' },
  request_limited: { status: 429, type: 'request_limited' },
  token_limited: { status: 429, type: 'token_limited' },
  governance_unavailable: { status: 503, type: 'service_unavailable' },
  // the upstream provider's failures
  upstream_error: { status: 502, type: 'api_error' },
  upstream_timeout: { status: 504, type: 'timeout_error' },
  upstream_connection_error: { status: 502, type: 'api_error' },
  upstream_bad_response: { status: 502, type: 'api_error' },
  upstream_credentials_exhausted: { status: 502, type: 'api_error' },
  upstream_stream_error: { status: 502, type: 'api_error' },
  attempts_exhausted: { status: 502, type: 'api_error' },
  // the gateway's own state
  request_cancelled: { status: 499, type: 'request_cancelled' },
  queue_full: { status: 503, type: 'service_unavailable' },
  circuit_open: { status: 503, type: 'service_unavailable' },
  shutting_down: { status: 503, type: 'service_unavailable' },
  store_unavailable: { status: 503, type: 'service_unavailable' },
  internal: { status: 500, type: 'api_error' },
  // a plugin's answer, or its failure
  plugin_error: { status: 500, type: 'plugin_error' },
} as const satisfies Record<string, ErrorSpec>

export type ErrorCode = keyof typeof ERRORS

export type RequestType =
  | 'chat_completion'
  | 'chat_completion_stream'
  | 'text_completion'
  | 'text_completion_stream'
  | 'responses'
  | 'responses_stream'
  | 'embedding'
  | 'rerank'
  | 'image_generation'
  | 'image_generation_stream'
  | 'image_edit'
  | 'image_edit_stream'
  | 'image_variation'
  | 'speech'
  | 'speech_stream'
  | 'transcription'
  | 'list_models'
  | 'count_tokens'
  | 'file_upload'
  | 'file_list'
  | 'file_retrieve'
  | 'file_delete'
  | 'file_content'
  | 'batch_create'
  | 'batch_list'
  | 'batch_retrieve'
  | 'batch_cancel'
  | 'batch_results'
  | 'container_create'
  | 'container_list'
  | 'container_retrieve'
  | 'container_delete'
  | 'container_file_create'
  | 'container_file_list'
  | 'container_file_retrieve'
  | 'container_file_delete'
  | 'container_file_content'
  | 'management'

export interface ErrorOptions {
  /** HTTP status, when it differs from the catalogue's (e.g. a provider's own status). */
  status?: number
  /** Overrides the catalogue's `error.type` (e.g. the provider's own error type). */
  type?: string
  param?: string
  /** False when the error came from the upstream provider or from a governance decision. */
  isBifrostError?: boolean
  /** Top-level `type` of the body, as Bifrost sets it for governance decisions. */
  topLevelType?: string
  /** The provider's own error code, stringified. */
  upstreamCode?: string
  /** Milliseconds the caller (or our retry loop) should wait, from the provider's Retry-After. */
  retryAfterMs?: number
  /** Extra headers that go out with the error (e.g. Retry-After, x-ratelimit-*). */
  headers?: Record<string, string>
  /** Whether a retry or fallback may follow this error. Defaults from the status. */
  retryable?: boolean
  /** Whether the provider key that produced it must not be used again in this request. */
  keyDead?: boolean
  /** Extra fields merged into `extra_fields`. */
  extra?: Record<string, unknown>
  cause?: unknown
}

export class GatewayError extends Error {
  readonly code: ErrorCode
  readonly status: number
  readonly type: string
  readonly param: string | undefined
  readonly isBifrostError: boolean
  readonly topLevelType: string | undefined
  readonly upstreamCode: string | undefined
  readonly retryAfterMs: number | undefined
  readonly headers: Record<string, string> | undefined
  readonly retryable: boolean
  readonly keyDead: boolean
  readonly extra: Record<string, unknown> | undefined

  constructor(code: ErrorCode, message: string, opts: ErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause })
    const spec: ErrorSpec = ERRORS[code]
    this.name = 'GatewayError'
    this.code = code
    this.status = opts.status ?? spec.status
    this.type = opts.type ?? spec.type
    this.param = opts.param
    this.isBifrostError = opts.isBifrostError ?? true
    this.topLevelType = opts.topLevelType
    this.upstreamCode = opts.upstreamCode
    this.retryAfterMs = opts.retryAfterMs
    this.headers = opts.headers
    this.retryable = opts.retryable ?? isRetryableStatus(this.status)
    this.keyDead = opts.keyDead ?? false
    this.extra = opts.extra
  }
}

/** 429, 5xx (but not 501), 408 and timeouts are worth another attempt; other 4xx are the caller's to fix. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 408 || (status >= 500 && status !== 501 && status !== 505)
}

export interface ErrorContext {
  provider?: string
  model?: string
  requestType?: RequestType
}

export interface BifrostErrorBody {
  type?: string
  is_bifrost_error: boolean
  status_code: number
  error: { type?: string; code?: string; message: string; param?: string }
  extra_fields?: { provider?: string; model_requested?: string; request_type?: string; [k: string]: unknown }
}

export function toErrorBody(err: GatewayError, ctx: ErrorContext = {}): BifrostErrorBody {
  const body: BifrostErrorBody = {
    is_bifrost_error: err.isBifrostError,
    status_code: err.status,
    error: { type: err.type, code: err.upstreamCode ?? err.code, message: err.message },
  }
  if (err.topLevelType !== undefined) body.type = err.topLevelType
  if (err.param !== undefined) body.error.param = err.param
  if (ctx.provider !== undefined || ctx.model !== undefined || ctx.requestType !== undefined || err.extra) {
    body.extra_fields = {
      ...(ctx.provider !== undefined && { provider: ctx.provider }),
      ...(ctx.model !== undefined && { model_requested: ctx.model }),
      ...(ctx.requestType !== undefined && { request_type: ctx.requestType }),
      ...err.extra,
    }
  }
  return body
}

/** Anything thrown that is not a GatewayError becomes an internal error that does not leak its text. */
export function asGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err
  return new GatewayError('internal', 'internal error', { cause: err })
}
