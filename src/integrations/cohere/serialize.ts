import { randomUUID } from 'node:crypto'
import type { GatewayError } from '../../core/errors.js'
import type {
  ChatResponse,
  EmbeddingResponse,
  FinishReason,
  RerankResponse,
  Usage,
} from '../../core/schemas/index.js'
import type {
  CohereChatResponse,
  CohereContentBlock,
  CohereEmbeddingType,
  CohereEmbedResponse,
  CohereErrorBody,
  CohereFinishReason,
  CohereRerankResponse,
  CohereUsage,
} from '../../providers/index.js'

const API_VERSION = { version: '2' }

export function toCohereFinishReason(reason: FinishReason | null | undefined): CohereFinishReason {
  if (reason === 'length') return 'MAX_TOKENS'
  if (reason === 'tool_calls' || reason === 'function_call') return 'TOOL_CALL'
  return 'COMPLETE'
}

export function toCohereUsage(u: Usage | undefined): CohereUsage {
  const input = u?.prompt_tokens ?? 0
  const output = u?.completion_tokens ?? 0
  const out: CohereUsage = {
    billed_units: { input_tokens: input, output_tokens: output },
    tokens: { input_tokens: input, output_tokens: output },
  }
  const cached = u?.prompt_tokens_details?.cached_tokens
  if (cached) out.cached_tokens = cached
  return out
}

/** A unified chat completion as Cohere's `/v2/chat` answer. */
export function toCohereChatResponse(res: ChatResponse): CohereChatResponse {
  const choice = res.choices[0]
  const msg = choice?.message
  const text = typeof msg?.content === 'string' ? msg.content : ''
  const content: CohereContentBlock[] = []
  if (msg?.reasoning) content.push({ type: 'thinking', thinking: msg.reasoning })
  const calls = msg?.tool_calls ?? []
  const message: CohereChatResponse['message'] = { role: 'assistant' }
  if (calls.length) {
    if (text) message.tool_plan = text
    message.tool_calls = calls.map((c) => ({
      id: c.id,
      type: 'function',
      function: { name: c.function.name, arguments: c.function.arguments },
    }))
  } else content.push({ type: 'text', text })
  if (content.length) message.content = content
  return {
    id: res.id || randomUUID(),
    message,
    finish_reason: toCohereFinishReason(choice?.finish_reason),
    usage: toCohereUsage(res.usage),
  }
}

/** Unified embeddings as Cohere's `/v2/embed` answer, in the types asked for. */
export function toCohereEmbedResponse(
  res: EmbeddingResponse,
  texts: string[],
  types: CohereEmbeddingType[],
): CohereEmbedResponse {
  const vectors = [...res.data]
    .sort((a, b) => a.index - b.index)
    .map((d) =>
      typeof d.embedding === 'string'
        ? Array.from(new Float32Array(Buffer.from(d.embedding, 'base64').buffer.slice(0)))
        : d.embedding,
    )
  const embeddings: CohereEmbedResponse['embeddings'] = {}
  for (const t of types) {
    embeddings[t] =
      t === 'base64'
        ? vectors.map((v) => Buffer.from(new Float32Array(v).buffer).toString('base64'))
        : vectors
  }
  const tokens = res.usage?.prompt_tokens ?? 0
  return {
    id: randomUUID(),
    response_type: 'embeddings_by_type',
    embeddings,
    texts,
    meta: { api_version: API_VERSION, billed_units: { input_tokens: tokens } },
  }
}

/** A unified rerank answer as Cohere's `/v2/rerank` answer. */
export function toCohereRerankResponse(res: RerankResponse): CohereRerankResponse {
  const billed: NonNullable<CohereRerankResponse['meta']>['billed_units'] = {}
  if (res.usage?.search_units !== undefined) billed.search_units = res.usage.search_units
  else billed.search_units = 1
  return {
    id: res.id ?? randomUUID(),
    results: res.results.map((r) => ({
      index: r.index,
      relevance_score: r.relevance_score,
      ...(r.document && { document: { text: r.document.text } }),
    })),
    meta: { api_version: API_VERSION, billed_units: billed },
  }
}

/** A gateway error as Cohere's error body. */
export function toCohereError(err: GatewayError, requestId: string): CohereErrorBody {
  return { id: requestId, message: err.message }
}
