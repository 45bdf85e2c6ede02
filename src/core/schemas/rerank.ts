import { Type, type Static } from '@sinclair/typebox'
import { FallbacksSchema } from './chat.js'
import type { Usage } from './chat.js'

/** A document to rank: a bare string, or Bifrost's object form with an id and metadata. */
export const RerankDocumentSchema = Type.Union([
  Type.String(),
  Type.Object(
    {
      text: Type.String(),
      id: Type.Optional(Type.String()),
      meta: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    },
    { additionalProperties: true },
  ),
])
export type RerankDocumentInput = Static<typeof RerankDocumentSchema>

/** `POST /v1/rerank`, Bifrost's shape: the parameters sit beside the query, unknown ones pass through. */
export const RerankRequestSchema = Type.Object(
  {
    model: Type.String({ minLength: 1 }),
    query: Type.String(),
    documents: Type.Array(RerankDocumentSchema, { minItems: 1 }),
    top_n: Type.Optional(Type.Integer({ minimum: 1 })),
    max_tokens_per_doc: Type.Optional(Type.Integer({ minimum: 1 })),
    priority: Type.Optional(Type.Integer()),
    return_documents: Type.Optional(Type.Boolean()),
    fallbacks: Type.Optional(FallbacksSchema),
  },
  { additionalProperties: true },
)
export type RerankRequest = Static<typeof RerankRequestSchema>

export interface RerankDocument {
  text: string
  id?: string
  meta?: Record<string, unknown>
}

export interface RerankResult {
  index: number
  relevance_score: number
  document?: RerankDocument
}

/** Bifrost's rerank answer: results by relevance, best first. */
export interface RerankResponse {
  id?: string
  results: RerankResult[]
  model: string
  /** Tokens where the provider counts them; `search_units` where it bills by search. */
  usage?: Usage & { search_units?: number }
  [k: string]: unknown
}

/** A document in its object form. */
export function rerankDocument(doc: RerankDocumentInput): RerankDocument {
  return typeof doc === 'string' ? { text: doc } : doc
}
