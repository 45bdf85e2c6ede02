import { GatewayError } from '../../core/errors.js'
import type {
  ChatMessage,
  ChatRequest,
  ContentPart,
  EmbeddingRequest,
  RerankRequest,
} from '../../core/schemas/index.js'
import type {
  CohereChatRequest,
  CohereContentBlock,
  CohereEmbeddingType,
  CohereMessage,
} from '../../providers/index.js'

const invalid = (message: string, param?: string) => new GatewayError('invalid_request', message, { param })

function object(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw invalid('the body must be a JSON object')
  return body as Record<string, unknown>
}

function model(b: Record<string, unknown>): string {
  if (typeof b.model !== 'string' || !b.model) {
    throw new GatewayError('model_required', 'model is required', { param: 'model' })
  }
  return b.model
}

/** Cohere's `/v2/chat` body as a unified chat request. */
export function parseCohereChat(body: unknown): ChatRequest {
  const b = object(body) as Partial<CohereChatRequest> & Record<string, unknown>
  const m = model(b)
  if (!Array.isArray(b.messages) || b.messages.length === 0) {
    throw invalid('messages: must be a non-empty list', 'messages')
  }
  const req: ChatRequest = { model: m, messages: b.messages.map((msg, i) => toUnifiedMessage(msg, i)) }
  if (b.stream === true) req.stream = true
  if (typeof b.max_tokens === 'number') req.max_tokens = b.max_tokens
  if (typeof b.temperature === 'number') req.temperature = b.temperature
  if (typeof b.p === 'number') req.top_p = b.p
  if (Array.isArray(b.stop_sequences)) req.stop = b.stop_sequences
  if (typeof b.seed === 'number') req.seed = b.seed
  if (typeof b.frequency_penalty === 'number') req.frequency_penalty = b.frequency_penalty
  if (typeof b.presence_penalty === 'number') req.presence_penalty = b.presence_penalty
  if (Array.isArray(b.tools)) {
    req.tools = b.tools.map((t, i) => {
      if (!t?.function?.name) throw invalid(`tools[${i}].function.name is required`, `tools[${i}]`)
      return {
        type: 'function',
        function: {
          name: t.function.name,
          ...(t.function.description !== undefined && { description: t.function.description }),
          parameters: t.function.parameters ?? { type: 'object', properties: {} },
          ...(b.strict_tools === true && { strict: true }),
        },
      }
    })
  }
  if (b.tool_choice === 'NONE') req.tool_choice = 'none'
  else if (b.tool_choice === 'REQUIRED') req.tool_choice = 'required'
  if (b.response_format?.type === 'json_object') {
    req.response_format = b.response_format.json_schema
      ? { type: 'json_schema', json_schema: { name: 'response', schema: b.response_format.json_schema } }
      : { type: 'json_object' }
  }
  // Cohere-only fields ride along: a Cohere provider uses them, the others ignore them.
  for (const field of [
    'k',
    'safety_mode',
    'documents',
    'citation_options',
    'thinking',
    'priority',
    'fallbacks',
  ]) {
    if (b[field] !== undefined) (req as Record<string, unknown>)[field] = b[field]
  }
  return req
}

/**
 * Cohere's `thinking` as OpenAI's reasoning effort, for targets that do not speak Cohere (its
 * `thinking` object would mean something else to Anthropic). Disabled thinking asks for nothing.
 */
export function cohereThinkingToEffort(thinking: unknown): string | undefined {
  if (thinking === null || typeof thinking !== 'object') return undefined
  const t = thinking as { type?: unknown; token_budget?: unknown }
  if (t.type !== 'enabled') return undefined
  if (typeof t.token_budget !== 'number') return 'medium'
  return t.token_budget <= 2048 ? 'low' : t.token_budget <= 8192 ? 'medium' : 'high'
}

function toUnifiedMessage(msg: CohereMessage, i: number): ChatMessage {
  if (!msg || typeof msg !== 'object') throw invalid(`messages[${i}] must be an object`, `messages[${i}]`)
  switch (msg.role) {
    case 'system':
      return { role: 'system', content: textOf(msg.content) }
    case 'user':
      return { role: 'user', content: userContent(msg.content, i) }
    case 'assistant': {
      const text = textOf(msg.content) || msg.tool_plan || ''
      const out: ChatMessage = { role: 'assistant', content: text || (msg.tool_calls?.length ? null : '') }
      if (msg.tool_calls?.length) {
        out.tool_calls = msg.tool_calls.map((c) => ({
          id: c.id,
          type: 'function',
          function: { name: c.function?.name ?? '', arguments: c.function?.arguments ?? '{}' },
        }))
      }
      return out
    }
    case 'tool':
      if (typeof msg.tool_call_id !== 'string') {
        throw invalid(`messages[${i}].tool_call_id is required`, `messages[${i}].tool_call_id`)
      }
      return { role: 'tool', tool_call_id: msg.tool_call_id, content: toolText(msg.content) }
    default:
      throw invalid(`messages[${i}].role must be system, user, assistant or tool`, `messages[${i}].role`)
  }
}

function textOf(content: CohereMessage['content']): string {
  if (typeof content === 'string') return content
  if (!Array.isArray(content)) return ''
  return content
    .filter((c) => c?.type === 'text')
    .map((c) => c.text ?? '')
    .join('')
}

/** A tool result: its text, and its documents as JSON. */
function toolText(content: CohereMessage['content']): string {
  if (typeof content === 'string') return content
  if (!Array.isArray(content)) return ''
  return content
    .map((c) => (c?.type === 'document' ? JSON.stringify(c.document?.data ?? null) : (c?.text ?? '')))
    .join('\n')
}

function userContent(content: CohereMessage['content'], i: number): string | ContentPart[] {
  if (typeof content === 'string') return content
  if (!Array.isArray(content)) throw invalid(`messages[${i}].content is required`, `messages[${i}].content`)
  return content.map((c: CohereContentBlock): ContentPart => {
    if (c?.type === 'text') return { type: 'text', text: c.text ?? '' }
    if (c?.type === 'image_url' && c.image_url?.url)
      return { type: 'image_url', image_url: { url: c.image_url.url } }
    throw invalid(`messages[${i}].content: unsupported block ${String(c?.type)}`, `messages[${i}].content`)
  })
}

/** Cohere's `/v2/embed` body as a unified request, and the embedding types the caller wants back. */
export function parseCohereEmbed(body: unknown): { request: EmbeddingRequest; types: CohereEmbeddingType[] } {
  const b = object(body)
  const m = model(b)
  let texts: string[]
  if (Array.isArray(b.texts) && b.texts.every((t) => typeof t === 'string')) texts = b.texts as string[]
  else if (Array.isArray(b.inputs)) {
    texts = (b.inputs as { content?: CohereContentBlock[] }[]).map((input, i) => {
      if (!Array.isArray(input?.content) || input.content.some((c) => c?.type !== 'text')) {
        throw invalid(`inputs[${i}]: only text content can be embedded through the gateway`, `inputs[${i}]`)
      }
      return input.content.map((c) => c.text ?? '').join('')
    })
  } else if (b.images !== undefined) {
    throw invalid('images cannot be embedded through the gateway; send texts', 'images')
  } else throw invalid('texts: must be a list of strings', 'texts')
  if (texts.length === 0) throw invalid('texts: must not be empty', 'texts')
  const types = (b.embedding_types ?? ['float']) as CohereEmbeddingType[]
  if (!Array.isArray(types) || types.some((t) => t !== 'float' && t !== 'base64')) {
    throw invalid('embedding_types: only float and base64 are served through the gateway', 'embedding_types')
  }
  const request: EmbeddingRequest = { model: m, input: texts }
  if (typeof b.output_dimension === 'number') request.dimensions = b.output_dimension
  for (const field of ['input_type', 'truncate', 'fallbacks']) {
    if (b[field] !== undefined) (request as Record<string, unknown>)[field] = b[field]
  }
  return { request, types }
}

/** Cohere's `/v2/rerank` body as a unified rerank request. */
export function parseCohereRerank(body: unknown): RerankRequest {
  const b = object(body)
  const m = model(b)
  if (typeof b.query !== 'string' || !b.query.trim())
    throw invalid('query: must be a non-empty string', 'query')
  if (!Array.isArray(b.documents) || b.documents.length === 0) {
    throw invalid('documents: must be a non-empty list', 'documents')
  }
  const documents = b.documents.map((d, i) => {
    const text = typeof d === 'string' ? d : (d as { text?: unknown })?.text
    if (typeof text !== 'string') throw invalid(`documents[${i}] must be a string`, `documents[${i}]`)
    return text
  })
  const req: RerankRequest = { model: m, query: b.query, documents }
  if (b.top_n !== undefined) {
    if (typeof b.top_n !== 'number' || !Number.isInteger(b.top_n) || b.top_n < 1) {
      throw invalid('top_n: must be a positive integer', 'top_n')
    }
    req.top_n = b.top_n
  }
  if (typeof b.max_tokens_per_doc === 'number') req.max_tokens_per_doc = b.max_tokens_per_doc
  if (typeof b.priority === 'number') req.priority = b.priority
  if (b.return_documents === true) req.return_documents = true
  if (Array.isArray(b.fallbacks)) req.fallbacks = b.fallbacks as string[]
  return req
}

/** Cohere's `/v1/tokenize` body (`{text, model}`); Cohere allows 1 to 65536 characters of text. */
export function parseCohereTokenize(body: unknown): { model: string; text: string } {
  const b = object(body)
  const m = model(b)
  if (typeof b.text !== 'string' || b.text.length === 0 || b.text.length > 65536) {
    throw invalid('text: must be a string of 1 to 65536 characters', 'text')
  }
  return { model: m, text: b.text }
}
