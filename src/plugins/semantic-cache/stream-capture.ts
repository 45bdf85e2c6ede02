import { readChunk } from '../../core/convert/stream-chunk.js'
import type { ChatChunk, ChatResponse, ToolCall, Usage } from '../../core/schemas/index.js'
import type { ChatStreamItem } from '../../core/provider-adapter.js'

interface ChoiceDraft {
  content: string
  reasoning: string
  tools: { id: string; name: string; arguments: string }[]
  finish: string | null
}

/** The chunks of relayed OpenAI-format SSE frames (`data: {...}\n\n`, several per read). */
function framesOf(frames: Buffer): ChatChunk[] {
  const out: ChatChunk[] = []
  for (const frame of frames.toString('utf8').split('\n\n')) {
    for (const line of frame.split('\n')) {
      if (!line.startsWith('data:')) continue
      const data = line.slice(5).trim()
      if (data === '[DONE]' || data === '') continue
      out.push(JSON.parse(data) as ChatChunk)
    }
  }
  return out
}

/**
 * A chat stream's items gathered into the chat completion they amount to, so that a streamed answer
 * is stored once and replays as a stream (or a body) in any route's format. A stream with no finish
 * reason (cut short) gives nothing to store.
 */
export class StreamCapture {
  private head?: Pick<ChatChunk, 'id' | 'created' | 'model'>
  private readonly choices = new Map<number, ChoiceDraft>()
  private usage?: Usage
  private broken = false

  add(item: unknown): void {
    if (this.broken) return
    const it = item as ChatStreamItem
    if (it.usage) this.usage = it.usage
    try {
      if (it.frames) for (const chunk of framesOf(it.frames)) this.addChunk(chunk)
      else {
        const chunk = readChunk(it)
        if (chunk) this.addChunk(chunk)
      }
    } catch {
      this.broken = true
    }
  }

  private addChunk(chunk: ChatChunk): void {
    this.head ??= { id: chunk.id, created: chunk.created, model: chunk.model }
    if (chunk.usage) this.usage = chunk.usage
    for (const c of chunk.choices ?? []) {
      let d = this.choices.get(c.index)
      if (!d) this.choices.set(c.index, (d = { content: '', reasoning: '', tools: [], finish: null }))
      const delta = c.delta ?? {}
      if (typeof delta.content === 'string') d.content += delta.content
      if (typeof delta.reasoning === 'string') d.reasoning += delta.reasoning
      for (const t of delta.tool_calls ?? []) {
        const tool = (d.tools[t.index] ??= { id: '', name: '', arguments: '' })
        if (t.id) tool.id = t.id
        if (t.function?.name) tool.name += t.function.name
        if (t.function?.arguments) tool.arguments += t.function.arguments
      }
      if (c.finish_reason) d.finish = c.finish_reason
    }
  }

  /** The whole answer, or undefined when the stream did not finish cleanly. */
  result(): ChatResponse | undefined {
    if (this.broken || !this.head || this.choices.size === 0) return undefined
    const choices = [...this.choices.entries()].sort(([a], [b]) => a - b)
    if (choices.some(([, d]) => d.finish === null)) return undefined
    return {
      id: this.head.id,
      object: 'chat.completion',
      created: this.head.created,
      model: this.head.model,
      choices: choices.map(([index, d]) => {
        const tool_calls: ToolCall[] = d.tools
          .filter(Boolean)
          .map((t) => ({ id: t.id, type: 'function', function: { name: t.name, arguments: t.arguments } }))
        return {
          index,
          message: {
            role: 'assistant',
            content: d.content === '' && tool_calls.length ? null : d.content,
            ...(tool_calls.length && { tool_calls }),
            ...(d.reasoning && { reasoning: d.reasoning }),
          },
          finish_reason: d.finish,
        }
      }),
      ...(this.usage && { usage: this.usage }),
    }
  }
}
