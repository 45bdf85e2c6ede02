import { Type, type Static } from '@sinclair/typebox'
import { FallbacksSchema, type Usage } from './chat.js'

/** OpenAI's legacy text completions. */
export const TextCompletionRequestSchema = Type.Object(
  {
    model: Type.String({ minLength: 1 }),
    prompt: Type.Union([Type.String(), Type.Array(Type.String()), Type.Array(Type.Number())]),
    stream: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
    stream_options: Type.Optional(
      Type.Union([
        Type.Object({ include_usage: Type.Optional(Type.Boolean()) }, { additionalProperties: true }),
        Type.Null(),
      ]),
    ),
    max_tokens: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()])),
    temperature: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
    top_p: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
    stop: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String()), Type.Null()])),
    suffix: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    fallbacks: Type.Optional(FallbacksSchema),
  },
  { additionalProperties: true },
)
export type TextCompletionRequest = Static<typeof TextCompletionRequestSchema>

export interface TextCompletionChoice {
  index: number
  text: string
  finish_reason: string | null
  logprobs: unknown
}

export interface TextCompletionResponse {
  id: string
  object: 'text_completion'
  created: number
  model: string
  choices: TextCompletionChoice[]
  usage?: Usage | null
  [k: string]: unknown
}
