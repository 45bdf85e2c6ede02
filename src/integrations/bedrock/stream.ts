import type { ChatChunk, Usage } from '../../core/schemas/index.js'
import { BEDROCK_REASONING_FORMAT, type ConverseStreamEvents } from '../../providers/index.js'
import type { ChatStreamItem } from '../../core/provider-adapter.js'
import { signatureForRoute } from '../signature-origin.js'
import { toConverseUsage, toStopReason } from './response.js'

/** One ConverseStream event: its name (the event-stream `:event-type`) and payload. */
export type ConverseEvent = {
  [K in keyof ConverseStreamEvents]: { type: K; payload: ConverseStreamEvents[K] }
}[keyof ConverseStreamEvents]

interface ToolState {
  block?: number
  id?: string
  name?: string
  /** Arguments that came before the call's id and name. */
  pending: string
}

/**
 * Translates a unified chat stream into ConverseStream events, chunk by chunk: text and reasoning
 * deltas go into their own content blocks; each tool call opens a block (contentBlockStart with
 * its id and name) whose input streams as string deltas. messageStop carries the stop reason and
 * the closing metadata event the usage.
 */
export async function* translateChatToConverseStream(
  items: AsyncIterable<ChatStreamItem>,
  startedAt: number,
): AsyncGenerator<ConverseEvent> {
  let started = false
  let next = 0
  let open: { kind: 'text' | 'reasoning' | 'tool'; index: number } | undefined
  const tools = new Map<number, ToolState>()
  let finish: string | null = null
  let usage: Usage | undefined

  const close = function* (): Generator<ConverseEvent> {
    if (open) yield { type: 'contentBlockStop', payload: { contentBlockIndex: open.index } }
    open = undefined
  }
  const openBlock = function* (kind: 'text' | 'reasoning'): Generator<ConverseEvent> {
    if (open?.kind === kind) return open.index
    yield* close()
    open = { kind, index: next++ }
    return open.index
  }

  for await (const item of items) {
    const chunk: ChatChunk | undefined =
      item.chunk ?? (item.data ? (JSON.parse(item.data) as ChatChunk) : undefined)
    if (!chunk) continue
    if (item.usage ?? chunk.usage) usage = (item.usage ?? chunk.usage)!
    if (!started) {
      started = true
      yield { type: 'messageStart', payload: { role: 'assistant' } }
    }
    const choice = chunk.choices?.[0]
    if (!choice) continue
    const d = choice.delta ?? {}
    for (const r of d.reasoning_details ?? []) {
      const index = yield* openBlock('reasoning')
      if (r.text)
        yield {
          type: 'contentBlockDelta',
          payload: { contentBlockIndex: index, delta: { reasoningContent: { text: r.text } } },
        }
      if (r.signature)
        yield {
          type: 'contentBlockDelta',
          payload: {
            contentBlockIndex: index,
            delta: {
              reasoningContent: {
                signature: signatureForRoute(r.signature, r.format, BEDROCK_REASONING_FORMAT),
              },
            },
          },
        }
      if (r.data)
        yield {
          type: 'contentBlockDelta',
          payload: { contentBlockIndex: index, delta: { reasoningContent: { redactedContent: r.data } } },
        }
    }
    if (!d.reasoning_details?.length && d.reasoning) {
      const index = yield* openBlock('reasoning')
      yield {
        type: 'contentBlockDelta',
        payload: { contentBlockIndex: index, delta: { reasoningContent: { text: d.reasoning } } },
      }
    }
    if (d.content) {
      const index = yield* openBlock('text')
      yield { type: 'contentBlockDelta', payload: { contentBlockIndex: index, delta: { text: d.content } } }
    }
    for (const call of d.tool_calls ?? []) {
      let t = tools.get(call.index)
      if (!t) tools.set(call.index, (t = { pending: '' }))
      if (call.id) t.id = call.id
      if (call.function?.name) t.name = call.function.name
      const args = call.function?.arguments ?? ''
      if (t.block === undefined) {
        if (!t.name) {
          t.pending += args
          continue
        }
        yield* close()
        t.block = next++
        open = { kind: 'tool', index: t.block }
        yield {
          type: 'contentBlockStart',
          payload: {
            contentBlockIndex: t.block,
            start: { toolUse: { toolUseId: t.id ?? `tooluse_${t.block}`, name: t.name } },
          },
        }
        const first = t.pending + args
        t.pending = ''
        if (first)
          yield {
            type: 'contentBlockDelta',
            payload: { contentBlockIndex: t.block, delta: { toolUse: { input: first } } },
          }
      } else if (args) {
        yield {
          type: 'contentBlockDelta',
          payload: { contentBlockIndex: t.block, delta: { toolUse: { input: args } } },
        }
      }
    }
    if (choice.finish_reason) finish = choice.finish_reason
  }
  if (!started) yield { type: 'messageStart', payload: { role: 'assistant' } }
  yield* close()
  yield { type: 'messageStop', payload: { stopReason: toStopReason(finish) } }
  yield {
    type: 'metadata',
    payload: { usage: toConverseUsage(usage), metrics: { latencyMs: Date.now() - startedAt } },
  }
}
