import { Type, type Static } from '@sinclair/typebox'
import { FallbacksSchema } from './chat.js'

export const EmbeddingRequestSchema = Type.Object(
  {
    model: Type.String({ minLength: 1 }),
    input: Type.Union([
      Type.String(),
      Type.Array(Type.String()),
      Type.Array(Type.Number()),
      Type.Array(Type.Array(Type.Number())),
    ]),
    encoding_format: Type.Optional(Type.Union([Type.Literal('float'), Type.Literal('base64')])),
    dimensions: Type.Optional(Type.Integer({ minimum: 1 })),
    user: Type.Optional(Type.String()),
    fallbacks: Type.Optional(FallbacksSchema),
  },
  { additionalProperties: true },
)
export type EmbeddingRequest = Static<typeof EmbeddingRequestSchema>

export interface EmbeddingResponse {
  object: 'list'
  data: { object: 'embedding'; index: number; embedding: number[] | string }[]
  model: string
  usage: { prompt_tokens: number; total_tokens: number }
  [k: string]: unknown
}
