import type { ChatDelta, FinishReason } from '../../core/schemas/index.js'
import { deltaChunk, usageChunk } from '../chat-chunk.js'
import { eventJson, parseSse, streamBroken } from '../sse.js'
import type { ChatStreamItem } from '../../core/provider-adapter.js'
import {
  toFinishReason,
  toUsage,
  type AnthropicContentBlock,
  type AnthropicMessage,
  type AnthropicUsage,
} from './response.js'

/** The events of Anthropic's Messages stream that we read; others (ping, future ones) are skipped. */
type AnthropicStreamEvent =
  | { type: 'message_start'; message: AnthropicMessage }
  | { type: 'content_block_start'; index: number; content_block: AnthropicContentBlock }
  | { type: 'content_block_delta'; index: number; delta: AnthropicDelta }
  | { type: 'content_block_stop'; index: number }
  | { type: 'message_delta'; delta: { stop_reason?: string | null }; usage?: AnthropicUsage | null }
  | { type: 'message_stop' }
  | { type: 'error'; error?: { type?: string; message?: string } }
  | { type: 'ping' }

interface AnthropicDelta {
  type: string
  text?: string
  thinking?: string
  signature?: string
  partial_json?: string
}

/** What one open content block turned into on our side. */
type OpenBlock =
  | { kind: 'text' }
  | { kind: 'reasoning'; index: number }
  | { kind: 'tool'; index: number; sentArguments: boolean }
  | { kind: 'other' }

/**
 * Translates Anthropic's SSE stream into unified chat chunks, event by event. Tool calls and
 * reasoning are numbered from 0 in their own sequences, whatever the content block index.
 * A stream that ends before `message_stop` was cut and fails.
 */
export async function* translateAnthropicStream(
  body: AsyncIterable<Buffer>,
  provider: string,
): AsyncGenerator<ChatStreamItem> {
  let id = ''
  let model = ''
  let created = Math.floor(Date.now() / 1000)
  const usage: AnthropicUsage = {}
  const blocks = new Map<number, OpenBlock>()
  let tools = 0
  let reasonings = 0
  let stopped = false

  const chunk = (delta: ChatDelta, finish: FinishReason | null = null): ChatStreamItem =>
    deltaChunk(id, created, model, delta, finish)

  for await (const ev of parseSse(body, provider)) {
    const event = eventJson<AnthropicStreamEvent>(provider, ev.data)
    if (stopped) continue

    switch (event.type) {
      case 'message_start': {
        const m = event.message ?? ({} as Partial<AnthropicMessage>)
        id = m.id ?? id
        model = m.model ?? model
        created = Math.floor(Date.now() / 1000)
        mergeUsage(usage, m.usage)
        const start = chunk({ role: 'assistant', content: '' })
        if (usage.input_tokens !== undefined) start.promptUsage = toUsage({ ...usage, output_tokens: 0 })
        yield start
        break
      }
      case 'content_block_start': {
        const b = event.content_block ?? { type: '' }
        if (b.type === 'text') {
          blocks.set(event.index, { kind: 'text' })
          if (b.text) yield chunk({ content: b.text })
        } else if (b.type === 'thinking') {
          const index = reasonings++
          blocks.set(event.index, { kind: 'reasoning', index })
          if (b.thinking || b.signature) yield chunk(reasoningDelta(index, b.thinking, b.signature))
        } else if (b.type === 'redacted_thinking') {
          const index = reasonings++
          blocks.set(event.index, { kind: 'reasoning', index })
          yield chunk({ reasoning_details: [{ type: 'reasoning.encrypted', index, data: b.data ?? '' }] })
        } else if (b.type === 'tool_use') {
          const index = tools++
          blocks.set(event.index, { kind: 'tool', index, sentArguments: false })
          yield chunk({
            tool_calls: [
              { index, id: b.id ?? '', type: 'function', function: { name: b.name ?? '', arguments: '' } },
            ],
          })
        } else {
          blocks.set(event.index, { kind: 'other' })
        }
        break
      }
      case 'content_block_delta': {
        const open = blocks.get(event.index)
        const d = event.delta ?? { type: '' }
        if (d.type === 'text_delta' && d.text) {
          yield chunk({ content: d.text })
        } else if (open?.kind === 'reasoning' && d.type === 'thinking_delta' && d.thinking) {
          yield chunk(reasoningDelta(open.index, d.thinking, undefined))
        } else if (open?.kind === 'reasoning' && d.type === 'signature_delta' && d.signature) {
          yield chunk(reasoningDelta(open.index, undefined, d.signature))
        } else if (open?.kind === 'tool' && d.type === 'input_json_delta' && d.partial_json) {
          open.sentArguments = true
          yield chunk({ tool_calls: [{ index: open.index, function: { arguments: d.partial_json } }] })
        }
        break
      }
      case 'content_block_stop': {
        const open = blocks.get(event.index)
        // A call without arguments streams no JSON at all; `{}` keeps it equal to the non-streamed `input`.
        if (open?.kind === 'tool' && !open.sentArguments) {
          yield chunk({ tool_calls: [{ index: open.index, function: { arguments: '{}' } }] })
        }
        blocks.delete(event.index)
        break
      }
      case 'message_delta': {
        mergeUsage(usage, event.usage)
        const finish = toFinishReason(event.delta?.stop_reason)
        if (finish !== null) yield chunk({}, finish)
        break
      }
      case 'message_stop': {
        stopped = true
        yield usageChunk(id, created, model, toUsage(usage))
        break
      }
      case 'error': {
        const e = event.error
        const detail = [e?.type, e?.message].filter(Boolean).join(': ')
        throw streamBroken(provider, new Error(detail || 'error event'))
      }
    }
  }
  if (!stopped) throw streamBroken(provider, new Error('the stream ended before message_stop'))
}

function reasoningDelta(index: number, text: string | undefined, signature: string | undefined): ChatDelta {
  const detail: { type: string; index: number; text?: string; signature?: string } = {
    type: 'reasoning.text',
    index,
  }
  const delta: ChatDelta = { reasoning_details: [detail] }
  if (text) {
    delta.reasoning = text
    detail.text = text
  }
  if (signature) detail.signature = signature
  return delta
}

/** Later figures win; a null or missing one keeps what came before. */
function mergeUsage(into: AnthropicUsage, next: AnthropicUsage | null | undefined): void {
  if (!next || typeof next !== 'object') return
  for (const [k, v] of Object.entries(next)) if (v !== null && v !== undefined) into[k] = v
}
