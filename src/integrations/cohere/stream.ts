import type { ChatChunk, FinishReason, Usage } from '../../core/schemas/index.js'
import type { ChatStreamItem } from '../../core/provider-adapter.js'
import type { CohereStreamEvent } from '../../providers/index.js'
import { toCohereFinishReason, toCohereUsage } from './serialize.js'

/**
 * Turns a unified chat stream into Cohere's `/v2/chat` events as they arrive: `message-start`,
 * then content blocks (text, thinking) and tool calls each opened, filled and closed, and
 * `message-end` with the finish reason and usage once the stream is done.
 */
export class CohereStreamWriter {
  private started = false
  private open: { kind: 'text' | 'thinking'; index: number } | undefined
  private contentBlocks = 0
  private openTool: number | undefined
  private readonly toolsSeen = new Set<number>()
  private finish: FinishReason | null = null
  private usage: Usage | undefined

  constructor(private readonly id: string) {}

  /** The events one stream item yields (none for a usage-only chunk). */
  push(item: ChatStreamItem): CohereStreamEvent[] {
    const chunk: ChatChunk | undefined =
      item.chunk ?? (item.data ? (JSON.parse(item.data) as ChatChunk) : undefined)
    const out: CohereStreamEvent[] = []
    if (item.usage) this.usage = item.usage
    else if (chunk?.usage) this.usage = chunk.usage
    this.start(out)
    for (const choice of chunk?.choices ?? []) {
      if (choice.index !== 0) continue
      const d = choice.delta ?? {}
      if (d.reasoning) this.content(out, 'thinking', d.reasoning)
      if (typeof d.content === 'string' && d.content) this.content(out, 'text', d.content)
      for (const tc of d.tool_calls ?? []) {
        if (!this.toolsSeen.has(tc.index)) {
          this.closeContent(out)
          this.closeTool(out)
          this.toolsSeen.add(tc.index)
          this.openTool = tc.index
          out.push({
            type: 'tool-call-start',
            index: tc.index,
            delta: {
              message: {
                tool_calls: {
                  id: tc.id ?? `call_${tc.index}`,
                  type: 'function',
                  function: { name: tc.function?.name ?? '', arguments: '' },
                },
              },
            },
          })
        }
        if (tc.function?.arguments) {
          out.push({
            type: 'tool-call-delta',
            index: tc.index,
            delta: { message: { tool_calls: { function: { arguments: tc.function.arguments } } } },
          })
        }
      }
      if (choice.finish_reason) this.finish = choice.finish_reason
    }
    return out
  }

  /** The closing events: open blocks closed, then `message-end`. */
  end(): CohereStreamEvent[] {
    const out: CohereStreamEvent[] = []
    this.start(out)
    this.closeContent(out)
    this.closeTool(out)
    out.push({
      type: 'message-end',
      delta: { finish_reason: toCohereFinishReason(this.finish), usage: toCohereUsage(this.usage) },
    })
    return out
  }

  /** A failure after the first byte: `message-end` carrying the error, as Cohere ends a failed stream. */
  fail(message: string): CohereStreamEvent {
    return { type: 'message-end', delta: { finish_reason: 'ERROR', error: message } }
  }

  private start(out: CohereStreamEvent[]): void {
    if (this.started) return
    this.started = true
    out.push({
      type: 'message-start',
      id: this.id,
      delta: {
        message: { role: 'assistant', content: [], tool_plan: '', tool_calls: [], citations: [] } as never,
      },
    })
  }

  private content(out: CohereStreamEvent[], kind: 'text' | 'thinking', text: string): void {
    if (this.open?.kind !== kind) {
      this.closeContent(out)
      this.closeTool(out)
      this.open = { kind, index: this.contentBlocks++ }
      out.push({
        type: 'content-start',
        index: this.open.index,
        delta: {
          message: {
            content: kind === 'text' ? { type: 'text', text: '' } : { type: 'thinking', thinking: '' },
          },
        },
      })
    }
    out.push({
      type: 'content-delta',
      index: this.open.index,
      delta: { message: { content: kind === 'text' ? { text } : { thinking: text } } },
    })
  }

  private closeContent(out: CohereStreamEvent[]): void {
    if (!this.open) return
    out.push({ type: 'content-end', index: this.open.index })
    this.open = undefined
  }

  private closeTool(out: CohereStreamEvent[]): void {
    if (this.openTool === undefined) return
    out.push({ type: 'tool-call-end', index: this.openTool })
    this.openTool = undefined
  }
}

/** One event as an SSE frame: its type is its event name. */
export function sseFrame(event: CohereStreamEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`
}
