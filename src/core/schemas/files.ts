import { Type, type Static } from '@sinclair/typebox'
import { FallbacksSchema } from './chat.js'

/**
 * `POST /v1/batches`: OpenAI's batch body, plus Bifrost's optional `model` ("provider/model", which
 * names the provider) and `provider`. The rest (e.g. `output_expires_after`) passes through.
 * Bifrost's inline `requests` serve providers whose batch API takes no input file (Anthropic's);
 * without them, OpenAI's three fields are required (checked by the route).
 */
export const BatchCreateRequestSchema = Type.Object(
  {
    input_file_id: Type.Optional(Type.String({ minLength: 1 })),
    endpoint: Type.Optional(Type.String({ minLength: 1 })),
    completion_window: Type.Optional(Type.String({ minLength: 1 })),
    requests: Type.Optional(Type.Array(Type.Unknown(), { minItems: 1 })),
    metadata: Type.Optional(Type.Union([Type.Record(Type.String(), Type.String()), Type.Null()])),
    model: Type.Optional(Type.String()),
    provider: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
)
export type BatchCreateRequest = Static<typeof BatchCreateRequestSchema>

/** The query of `GET /v1/files` and `GET /v1/batches`, passed upstream as given. */
export interface ListQuery {
  purpose?: string
  limit?: string
  after?: string
  before?: string
  order?: string
}

/** OpenAI's file object, as `POST /v1/files` and `GET /v1/files/{id}` answer it. */
export interface FileObject {
  id: string
  object: 'file'
  bytes: number
  created_at: number
  filename: string
  purpose: string
  status?: string
  expires_at?: number | null
  [k: string]: unknown
}

/** One request's outcome in a finished batch, as OpenAI's output and error files give it. */
export interface BatchResultItem {
  custom_id: string
  response?: { status_code: number; request_id?: string; body?: Record<string, unknown> }
  error?: { code?: string; message?: string }
}

/** `GET /v1/batches/{id}/results`: Bifrost's `BifrostBatchResultsResponse`. */
export interface BatchResultsResponse {
  batch_id: string
  results: BatchResultItem[]
  extra_fields: { request_type: 'batch_results'; provider?: string }
}

/**
 * `POST /v1/count_tokens` (and `/v1/responses/input_tokens`): a Responses-style request, its prompt
 * in `input` (OpenAI's input-tokens endpoint) or `messages` (Bifrost's documented field).
 */
export const CountTokensRequestSchema = Type.Object(
  {
    model: Type.String({ minLength: 1 }),
    input: Type.Optional(Type.Union([Type.String(), Type.Array(Type.Unknown())])),
    messages: Type.Optional(Type.Array(Type.Unknown())),
    instructions: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    tools: Type.Optional(Type.Array(Type.Unknown())),
    fallbacks: Type.Optional(FallbacksSchema),
  },
  { additionalProperties: true },
)
export type CountTokensRequest = Static<typeof CountTokensRequestSchema>

/** Bifrost's count-tokens answer (`BifrostCountTokensResponse`). */
export interface CountTokensResponse {
  object: 'response.input_tokens'
  model: string
  input_tokens: number
  total_tokens: number
  tokens: number[]
  extra_fields: {
    request_type: 'count_tokens'
    provider?: string
    model_requested: string
    latency?: number
  }
}
