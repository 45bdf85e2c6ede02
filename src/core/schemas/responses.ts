import { Type, type Static } from '@sinclair/typebox'
import { FallbacksSchema } from './chat.js'

/**
 * OpenAI's Responses API. Items are kept open: providers that speak it natively get them as sent,
 * and src/core/convert/ turns them into chat messages for the others.
 */
export const ResponsesRequestSchema = Type.Object(
  {
    model: Type.String({ minLength: 1 }),
    input: Type.Optional(Type.Union([Type.String(), Type.Array(Type.Record(Type.String(), Type.Unknown()))])),
    instructions: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    stream: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
    max_output_tokens: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()])),
    temperature: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
    top_p: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
    tools: Type.Optional(Type.Array(Type.Record(Type.String(), Type.Unknown()))),
    tool_choice: Type.Optional(Type.Unknown()),
    parallel_tool_calls: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
    reasoning: Type.Optional(Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()])),
    text: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    previous_response_id: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    store: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
    metadata: Type.Optional(Type.Unknown()),
    user: Type.Optional(Type.String()),
    fallbacks: Type.Optional(FallbacksSchema),
  },
  { additionalProperties: true },
)
export type ResponsesRequest = Static<typeof ResponsesRequestSchema>

export interface ResponsesUsage {
  input_tokens: number
  output_tokens: number
  total_tokens: number
  input_tokens_details?: { cached_tokens?: number; cache_creation_tokens?: number; [k: string]: unknown }
  output_tokens_details?: { reasoning_tokens?: number; [k: string]: unknown }
}

export type ResponsesOutputItem = Record<string, unknown> & { type: string }

export interface ResponsesResponse {
  id: string
  object: 'response'
  created_at: number
  status: 'completed' | 'incomplete' | 'failed' | 'in_progress' | string
  model: string
  output: ResponsesOutputItem[]
  usage?: ResponsesUsage | null
  [k: string]: unknown
}

/** One server-sent event of a Responses stream: `event: <type>` and its JSON data. */
export interface ResponsesStreamEvent {
  type: string
  sequence_number?: number
  [k: string]: unknown
}
