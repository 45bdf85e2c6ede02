import type { ChatChunk, ReasoningDetail, Usage } from '../../core/schemas/index.js'
import type { ChatStreamItem } from '../../core/provider-adapter.js'
import { signatureForRoute } from '../signature-origin.js'
import { ANTHROPIC_REASONING_FORMAT } from './parse.js'
import { messageId, toAnthropicUsage, toStopReason } from './response.js'

/** One Anthropic SSE event: its name and its JSON data. */
export interface AnthropicEvent {
  type: string
  [k: string]: unknown
}

interface ToolState {
  index?: number
  id?: string
  name?: string
  pending: string
  closed?: boolean
}

type OpenBlock =
  | { kind: 'text'; index: number }
  | { kind: 'thinking'; index: number; reasoningIndex: number | undefined }
  | { kind: 'tool'; index: number }

/**
 * message_start's usage: the prompt's tokens when the upstream reported them before any output
 * (LangChain's ChatAnthropic reads input tokens only here), else zeros.
 */
function startUsage(item: ChatStreamItem): Record<string, unknown> {
  const u = toAnthropicUsage(item.promptUsage)
  const known = item.promptUsage !== undefined
  return {
    input_tokens: u.input_tokens,
    output_tokens: 0,
    ...(known && {
      cache_creation_input_tokens: u.cache_creation_input_tokens,
      cache_read_input_tokens: u.cache_read_input_tokens,
      cache_creation: u.cache_creation,
    }),
  }
}

function chunkOf(item: ChatStreamItem): ChatChunk | undefined {
  if (item.chunk) return item.chunk
  if (item.data) return JSON.parse(item.data) as ChatChunk
  return undefined
}

/**
 * Translates a unified chat stream into Anthropic's Messages events, chunk by chunk: text,
 * thinking (with its signature) and tool calls each become content blocks; parallel tool calls
 * keep their own block, whose arguments stream as input_json_delta. Usage goes in message_delta,
 * and the prompt's tokens in message_start too when the upstream knew them at the start.
 */
export async function* translateChatToAnthropicStream(
  items: AsyncIterable<ChatStreamItem>,
  model: string,
): AsyncGenerator<AnthropicEvent> {
  let started = false
  let next = 0
  let current: OpenBlock | undefined
  /** Tool calls by their OpenAI index: block index once started, else arguments waiting for the name. */
  const tools = new Map<number, ToolState>()
  let finish: string | null = null
  let usage: Usage | undefined

  const stopCurrent = function* (): Generator<AnthropicEvent> {
    if (current && current.kind !== 'tool') yield { type: 'content_block_stop', index: current.index }
    current = undefined
  }
  const stopTools = function* (): Generator<AnthropicEvent> {
    for (const t of tools.values()) {
      if (t.index !== undefined && !t.closed) yield { type: 'content_block_stop', index: t.index }
      t.closed = true
    }
  }
  const startTool = function* (t: ToolState): Generator<AnthropicEvent> {
    yield* stopCurrent()
    // Anthropic streams one block at a time: the previous call is done once the next one starts.
    yield* stopTools()
    t.closed = false
    t.index = next++
    yield {
      type: 'content_block_start',
      index: t.index,
      content_block: { type: 'tool_use', id: t.id ?? `toolu_${t.index}`, name: t.name ?? '', input: {} },
    }
    if (t.pending) {
      yield {
        type: 'content_block_delta',
        index: t.index,
        delta: { type: 'input_json_delta', partial_json: t.pending },
      }
      t.pending = ''
    }
  }

  for await (const item of items) {
    const chunk = chunkOf(item)
    if (!started) {
      started = true
      yield {
        type: 'message_start',
        message: {
          id: messageId(chunk?.id),
          type: 'message',
          role: 'assistant',
          model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: startUsage(item),
        },
      }
      yield { type: 'ping' }
    }
    if (item.usage ?? chunk?.usage) usage = (item.usage ?? chunk?.usage) as Usage
    const choice = chunk?.choices?.[0]
    if (!choice) continue
    const delta = choice.delta ?? {}

    const details: ReasoningDetail[] =
      delta.reasoning_details ?? (delta.reasoning ? [{ type: 'reasoning.text', text: delta.reasoning }] : [])
    for (const d of details) {
      if (d.type === 'reasoning.encrypted') continue
      const text = d.text ?? d.summary
      if (!text && !d.signature) continue
      if (current?.kind !== 'thinking' || (d.index !== undefined && current.reasoningIndex !== d.index)) {
        yield* stopTools()
        yield* stopCurrent()
        current = { kind: 'thinking', index: next++, reasoningIndex: d.index }
        yield {
          type: 'content_block_start',
          index: current.index,
          content_block: { type: 'thinking', thinking: '', signature: '' },
        }
      }
      if (text)
        yield {
          type: 'content_block_delta',
          index: current.index,
          delta: { type: 'thinking_delta', thinking: text },
        }
      if (d.signature)
        yield {
          type: 'content_block_delta',
          index: current.index,
          delta: {
            type: 'signature_delta',
            signature: signatureForRoute(d.signature, d.format, ANTHROPIC_REASONING_FORMAT),
          },
        }
    }

    if (typeof delta.content === 'string' && delta.content) {
      if (current?.kind !== 'text') {
        yield* stopTools()
        yield* stopCurrent()
        current = { kind: 'text', index: next++ }
        yield { type: 'content_block_start', index: current.index, content_block: { type: 'text', text: '' } }
      }
      yield {
        type: 'content_block_delta',
        index: current.index,
        delta: { type: 'text_delta', text: delta.content },
      }
    }

    for (const tc of delta.tool_calls ?? []) {
      let t = tools.get(tc.index)
      if (!t) tools.set(tc.index, (t = { pending: '', closed: true }))
      if (tc.id) t.id = tc.id
      if (tc.function?.name) t.name = (t.name ?? '') + tc.function.name
      const args = tc.function?.arguments ?? ''
      if (t.index === undefined) {
        t.pending += args
        // The name may come after the first arguments; the block starts once it is known.
        if (t.name) yield* startTool(t)
      } else if (args) {
        yield {
          type: 'content_block_delta',
          index: t.index,
          delta: { type: 'input_json_delta', partial_json: args },
        }
      }
    }

    if (choice.finish_reason) finish = choice.finish_reason
  }

  if (!started) return
  for (const t of tools.values()) if (t.index === undefined) yield* startTool(t)
  yield* stopTools()
  yield* stopCurrent()
  const u = toAnthropicUsage(usage)
  yield {
    type: 'message_delta',
    delta: { stop_reason: toStopReason(finish), stop_sequence: null },
    usage: {
      input_tokens: u.input_tokens,
      output_tokens: u.output_tokens,
      cache_creation_input_tokens: u.cache_creation_input_tokens,
      cache_read_input_tokens: u.cache_read_input_tokens,
      cache_creation: u.cache_creation,
    },
  }
  yield { type: 'message_stop' }
}
