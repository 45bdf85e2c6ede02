import { GatewayError } from '../errors.js'
import type {
  ChatChunk,
  ChatRequest,
  ChatResponse,
  TextCompletionChoice,
  TextCompletionRequest,
  TextCompletionResponse,
} from '../schemas/index.js'
import type { ChatStreamItem } from '../provider-adapter.js'
import { readChunk } from './stream-chunk.js'

/** Fields of a text completion request that mean the same in chat and are copied as they are. */
const SHARED_FIELDS = [
  'max_tokens',
  'temperature',
  'top_p',
  'stop',
  'stream',
  'stream_options',
  'n',
  'seed',
  'presence_penalty',
  'frequency_penalty',
  'user',
  'fallbacks',
] as const

/** Serves a legacy text completion through chat: the prompt becomes the one user message. */
export function textCompletionToChat(req: TextCompletionRequest): ChatRequest {
  const fields = req as Record<string, unknown>
  if (typeof req.suffix === 'string' && req.suffix !== '') {
    throw new GatewayError(
      'unsupported_operation',
      'suffix (fill-in-the-middle) cannot be served through chat completions',
      {
        param: 'suffix',
      },
    )
  }
  if (fields.echo === true) {
    throw new GatewayError('unsupported_operation', 'echo cannot be served through chat completions', {
      param: 'echo',
    })
  }
  const out: Record<string, unknown> = {
    model: req.model,
    messages: [{ role: 'user', content: promptText(req.prompt) }],
  }
  for (const field of SHARED_FIELDS) if (fields[field] !== undefined) out[field] = fields[field]
  return out as ChatRequest
}

function promptText(prompt: TextCompletionRequest['prompt']): string {
  if (typeof prompt === 'string') return prompt
  if (prompt.length === 0)
    throw new GatewayError('invalid_request', 'prompt must not be empty', { param: 'prompt' })
  if (prompt.some((p) => typeof p !== 'string')) {
    throw new GatewayError(
      'unsupported_operation',
      'a prompt of token ids cannot be served through chat completions',
      {
        param: 'prompt',
      },
    )
  }
  if (prompt.length > 1) {
    throw new GatewayError(
      'unsupported_operation',
      'a batch of prompts cannot be served through chat completions; send one prompt per request',
      { param: 'prompt' },
    )
  }
  return prompt[0] as string
}

export function chatResponseToTextCompletion(res: ChatResponse): TextCompletionResponse {
  const out: TextCompletionResponse = {
    id: res.id,
    object: 'text_completion',
    created: res.created,
    model: res.model,
    choices: res.choices.map((c) => ({
      index: c.index,
      text: typeof c.message.content === 'string' ? c.message.content : '',
      finish_reason: c.finish_reason,
      logprobs: null,
    })),
  }
  if (res.system_fingerprint !== undefined) out.system_fingerprint = res.system_fingerprint
  if (res.usage) out.usage = res.usage
  return out
}

/** A streamed text completion chunk: a response's named fields (it travels in ChatStreamItem.chunk, cast). */
export type TextCompletionChunk = Pick<
  TextCompletionResponse,
  'id' | 'object' | 'created' | 'model' | 'choices' | 'usage'
>

/**
 * Turns a chat stream into text completion chunks, one for one. Chunks that carry nothing a text
 * completion can show (the role announcement, reasoning, tool calls) are left out.
 */
export async function* chatStreamToTextCompletion(
  items: AsyncIterable<ChatStreamItem>,
): AsyncGenerator<ChatStreamItem> {
  for await (const item of items) {
    const chunk = readChunk(item)
    if (!chunk) continue
    const choices: TextCompletionChoice[] = (chunk.choices ?? []).map((c) => ({
      index: c.index,
      text: typeof c.delta?.content === 'string' ? c.delta.content : '',
      finish_reason: c.finish_reason ?? null,
      logprobs: null,
    }))
    const hasUsage = item.usage !== undefined || (chunk.usage !== undefined && chunk.usage !== null)
    const silent = choices.every((c) => c.text === '' && c.finish_reason === null)
    if (silent && !hasUsage) continue
    const out: TextCompletionChunk = {
      id: chunk.id,
      object: 'text_completion',
      created: chunk.created,
      model: chunk.model,
      choices,
    }
    if (chunk.usage !== undefined) out.usage = chunk.usage
    const next: ChatStreamItem = { chunk: out as unknown as ChatChunk }
    if (item.usage !== undefined) next.usage = item.usage
    if (item.usageOnly !== undefined) next.usageOnly = item.usageOnly
    yield next
  }
}
