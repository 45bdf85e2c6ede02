import { GatewayError } from '../../core/errors.js'
import type { ChatChunk, ChatResponse } from '../../core/schemas/index.js'
import type { ChatStreamItem } from '../../core/provider-adapter.js'
import type { AnthropicMessagesBody } from './parse.js'

/** The body of `POST /anthropic/v1/complete`, Anthropic's legacy Text Completions API. */
export interface AnthropicCompleteBody {
  model: string
  prompt: string
  max_tokens_to_sample: number
  stop_sequences?: string[]
  temperature?: number
  top_p?: number
  top_k?: number
  metadata?: { user_id?: string }
  stream?: boolean
}

/** Anthropic's legacy completion object, whole or as one streamed `completion` event. */
export interface AnthropicCompletion {
  type: 'completion'
  id: string
  completion: string
  stop_reason: 'stop_sequence' | 'max_tokens' | null
  model: string
  stop: string | null
  log_id: string
}

const TURN = /\n\nHuman:|\n\nAssistant:/g

function invalid(message: string, param?: string): GatewayError {
  return new GatewayError('invalid_request', message, { param })
}

/** Checks a legacy completion body: a prompt and `max_tokens_to_sample` are required, as upstream. */
export function validateCompleteBody(body: unknown): AnthropicCompleteBody {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw invalid('the body must be a JSON object')
  const b = body as Record<string, unknown>
  if (typeof b.model !== 'string' || !b.model) throw invalid('model: Field required', 'model')
  if (typeof b.prompt !== 'string' || !b.prompt.trim()) throw invalid('prompt: Field required', 'prompt')
  if (!Number.isInteger(b.max_tokens_to_sample) || (b.max_tokens_to_sample as number) < 1)
    throw invalid('max_tokens_to_sample: Field required (a positive integer)', 'max_tokens_to_sample')
  const stops = b.stop_sequences
  if (stops !== undefined && (!Array.isArray(stops) || stops.some((s) => typeof s !== 'string')))
    throw invalid('stop_sequences: must be a list of strings', 'stop_sequences')
  return b as unknown as AnthropicCompleteBody
}

/**
 * The prompt's "\n\nHuman:" / "\n\nAssistant:" turns as a Messages request, so that any provider's
 * chat serves it; text before the first turn is the system prompt, and a last Assistant turn with
 * text is a prefill. A prompt without turns is one user message.
 */
export function completeToMessages(body: AnthropicCompleteBody): AnthropicMessagesBody {
  const prompt = body.prompt
  const marks = [...prompt.matchAll(TURN)]
  const messages: AnthropicMessagesBody['messages'] = []
  let system: string | undefined
  if (marks.length === 0) {
    messages.push({ role: 'user', content: prompt.trim() })
  } else {
    const before = prompt.slice(0, marks[0].index).trim()
    if (before) system = before
    marks.forEach((m, i) => {
      const start = (m.index ?? 0) + m[0].length
      const end = i + 1 < marks.length ? marks[i + 1].index : prompt.length
      const text = prompt.slice(start, end).trim()
      const role = m[0].includes('Human') ? 'user' : 'assistant'
      const last = messages.at(-1)
      if (!text) return
      if (last?.role === role) last.content = `${last.content as string}\n\n${text}`
      else messages.push({ role, content: text })
    })
  }
  if (messages.length === 0 || messages[0].role !== 'user')
    throw invalid('prompt: expected a "\\n\\nHuman:" turn with text', 'prompt')
  const out: AnthropicMessagesBody = { model: body.model, messages, max_tokens: body.max_tokens_to_sample }
  if (system) out.system = system
  const extra = out as Record<string, unknown>
  for (const k of ['stop_sequences', 'temperature', 'top_p', 'top_k', 'stream'] as const)
    if (body[k] !== undefined && body[k] !== null) extra[k] = body[k]
  if (body.metadata?.user_id) out.metadata = { user_id: body.metadata.user_id }
  return out
}

function completionId(id: string | undefined): string {
  return id?.startsWith('compl_') ? id : `compl_${id || Date.now().toString(36)}`
}

/** OpenAI's finish reason as the legacy API's: only a length cut is `max_tokens`. */
function stopReason(finish: string | null | undefined): AnthropicCompletion['stop_reason'] {
  return finish === 'length' ? 'max_tokens' : 'stop_sequence'
}

/** A unified chat answer as Anthropic's legacy completion. */
export function chatToCompletion(res: ChatResponse, model: string): AnthropicCompletion {
  const choice = res.choices?.[0]
  const content = choice?.message?.content
  return {
    type: 'completion',
    id: completionId(res.id),
    completion: typeof content === 'string' ? content : '',
    stop_reason: stopReason(choice?.finish_reason),
    model,
    stop: null,
    log_id: completionId(res.id),
  }
}

/** A unified chat stream as the legacy API's `completion` events: one per text delta, then the stop. */
export async function* translateChatToCompletionStream(
  items: AsyncIterable<ChatStreamItem>,
  model: string,
): AsyncGenerator<AnthropicCompletion> {
  let id: string | undefined
  let finish: string | null = null
  let started = false
  for await (const item of items) {
    const chunk: ChatChunk | undefined =
      item.chunk ?? (item.data ? (JSON.parse(item.data) as ChatChunk) : undefined)
    started = true
    id ??= completionId(chunk?.id)
    const choice = chunk?.choices?.[0]
    if (!choice) continue
    if (choice.finish_reason) finish = choice.finish_reason
    const text = choice.delta?.content
    if (typeof text === 'string' && text)
      yield { type: 'completion', id, completion: text, stop_reason: null, model, stop: null, log_id: id }
  }
  if (!started) return
  id ??= completionId(undefined)
  yield {
    type: 'completion',
    id,
    completion: '',
    stop_reason: stopReason(finish),
    model,
    stop: null,
    log_id: id,
  }
}
