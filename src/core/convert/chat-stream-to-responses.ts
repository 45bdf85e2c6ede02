import type {
  ChatChunk,
  ReasoningDetail,
  ResponsesOutputItem,
  ResponsesRequest,
  ToolCallDelta,
  Usage,
} from '../schemas/index.js'
import type { ChatStreamItem, ResponsesStreamItem } from '../provider-adapter.js'
import {
  chatUsageToResponsesUsage,
  functionCallItem,
  incompleteReason,
  itemId,
  messageItem,
  outputTextPart,
  reasoningDetailsOf,
  reasoningItem,
  reasoningTextOf,
  responseEnvelope,
  responseId,
} from './chat-to-responses.js'
import { readChunk } from './stream-chunk.js'

/**
 * Translates a chat completion stream into the Responses API's event stream, chunk by chunk, in the
 * order OpenAI emits it. Errors from the chat stream propagate unchanged.
 */
export async function* chatStreamToResponses(
  items: AsyncIterable<ChatStreamItem>,
  req: ResponsesRequest,
): AsyncGenerator<ResponsesStreamItem> {
  const translator = new ResponsesStreamTranslator(req)
  let usage: Usage | undefined
  for await (const item of items) {
    const chunk = readChunk(item)
    const carried = item.usage ?? chunk?.usage ?? undefined
    if (carried) usage = carried
    if (chunk) yield* translator.push(chunk)
  }
  yield* translator.finish(usage)
}

interface OpenReasoning {
  outputIndex: number
  id: string
  details: ReasoningDetail[]
  summary: string[]
  /** Whether the last detail already has a summary part open (the one receiving text). */
  partOpen: boolean
}

interface OpenPart {
  kind: 'output_text' | 'refusal'
  text: string
}

interface OpenMessage {
  outputIndex: number
  id: string
  content: Record<string, unknown>[]
  part?: OpenPart
}

interface OpenCall {
  outputIndex: number
  callId: string
  name: string
  args: string
  /** Whether its extra_content (a thought signature) was already sent in a reasoning item. */
  carried: boolean
}

class ResponsesStreamTranslator {
  private sequence = 0
  private events: ResponsesStreamItem[] = []
  private started = false
  private chatId = ''
  private createdAt = 0
  private model: string
  private readonly output: ResponsesOutputItem[] = []
  private reasoning: OpenReasoning | undefined
  private message: OpenMessage | undefined
  /** Function calls stay open until the end: parallel calls may interleave their argument deltas. */
  private readonly calls = new Map<number, OpenCall>()
  private reasoningCount = 0
  private messageCount = 0
  private finishReason: string | null = null

  constructor(private readonly req: ResponsesRequest) {
    this.model = req.model
  }

  push(chunk: ChatChunk): ResponsesStreamItem[] {
    this.start(chunk)
    const choice = chunk.choices?.find((c) => c.index === 0)
    if (choice) {
      const delta = choice.delta ?? {}
      const details = reasoningDetailsOf(delta.reasoning_details, delta.reasoning)
      for (const detail of details) this.addReasoning(detail)
      if (typeof delta.content === 'string' && delta.content !== '')
        this.addMessageText('output_text', delta.content)
      if (typeof delta.refusal === 'string' && delta.refusal !== '')
        this.addMessageText('refusal', delta.refusal)
      for (const call of delta.tool_calls ?? []) this.addToolCallDelta(call)
      if (choice.finish_reason) {
        this.finishReason = choice.finish_reason
        this.closeAll()
      }
    }
    return this.take()
  }

  finish(usage: Usage | undefined): ResponsesStreamItem[] {
    if (!this.started) this.start(undefined)
    this.closeAll()
    const reason = incompleteReason(this.finishReason)
    const status = reason ? 'incomplete' : 'completed'
    const response = responseEnvelope(this.req, {
      id: responseId(this.chatId),
      createdAt: this.createdAt,
      model: this.model,
      status,
      incompleteReason: reason,
      output: [...this.output],
      usage: usage ? chatUsageToResponsesUsage(usage) : null,
    })
    this.emit(reason ? 'response.incomplete' : 'response.completed', { response })
    const events = this.take()
    if (usage) events[events.length - 1].usage = usage
    return events
  }

  private start(chunk: ChatChunk | undefined): void {
    if (this.started) return
    this.started = true
    this.createdAt = chunk?.created ?? Math.floor(Date.now() / 1000)
    this.chatId = chunk?.id || `chatcmpl-${this.createdAt.toString(36)}`
    if (chunk?.model) this.model = chunk.model
    for (const type of ['response.created', 'response.in_progress']) {
      const response = responseEnvelope(this.req, {
        id: responseId(this.chatId),
        createdAt: this.createdAt,
        model: this.model,
        status: 'in_progress',
        output: [],
        usage: null,
      })
      this.emit(type, { response })
    }
  }

  private addReasoning(detail: ReasoningDetail): void {
    this.closeMessage('completed')
    let r = this.reasoning
    if (!r) {
      const outputIndex = this.output.length
      const id = itemId('rs', this.chatId, this.reasoningCount++)
      r = { outputIndex, id, details: [], summary: [], partOpen: false }
      this.reasoning = r
      this.addItem(outputIndex, { id, type: 'reasoning', summary: [] })
    }
    if (!mergeReasoningDetail(r.details, detail)) this.closeSummaryPart(r)
    const text = reasoningTextOf(detail)
    if (text === '') return
    const common = { item_id: r.id, output_index: r.outputIndex }
    if (!r.partOpen) {
      r.partOpen = true
      r.summary.push('')
      this.emit('response.reasoning_summary_part.added', {
        ...common,
        summary_index: r.summary.length - 1,
        part: { type: 'summary_text', text: '' },
      })
    }
    const summaryIndex = r.summary.length - 1
    r.summary[summaryIndex] += text
    this.emit('response.reasoning_summary_text.delta', {
      ...common,
      summary_index: summaryIndex,
      delta: text,
    })
  }

  private closeSummaryPart(r: OpenReasoning): void {
    if (!r.partOpen) return
    r.partOpen = false
    const summaryIndex = r.summary.length - 1
    const text = r.summary[summaryIndex]
    const common = { item_id: r.id, output_index: r.outputIndex, summary_index: summaryIndex }
    this.emit('response.reasoning_summary_text.done', { ...common, text })
    this.emit('response.reasoning_summary_part.done', { ...common, part: { type: 'summary_text', text } })
  }

  private closeReasoning(): void {
    const r = this.reasoning
    if (!r) return
    this.reasoning = undefined
    this.closeSummaryPart(r)
    this.doneItem(r.outputIndex, reasoningItem(r.id, r.summary, r.details))
  }

  private addMessageText(kind: OpenPart['kind'], text: string): void {
    this.closeReasoning()
    let m = this.message
    if (!m) {
      const outputIndex = this.output.length
      const id = itemId('msg', this.chatId, this.messageCount++)
      m = { outputIndex, id, content: [] }
      this.message = m
      this.addItem(outputIndex, messageItem(id, 'in_progress', []))
    }
    const common = { item_id: m.id, output_index: m.outputIndex }
    if (m.part?.kind !== kind) {
      this.closeMessagePart(m)
      m.part = { kind, text: '' }
      this.emit('response.content_part.added', {
        ...common,
        content_index: m.content.length,
        part: contentPart(kind, ''),
      })
    }
    m.part.text += text
    if (kind === 'output_text') {
      this.emit('response.output_text.delta', {
        ...common,
        content_index: m.content.length,
        delta: text,
        logprobs: [],
      })
    } else {
      this.emit('response.refusal.delta', { ...common, content_index: m.content.length, delta: text })
    }
  }

  private closeMessagePart(m: OpenMessage): void {
    const part = m.part
    if (!part) return
    m.part = undefined
    const common = { item_id: m.id, output_index: m.outputIndex, content_index: m.content.length }
    if (part.kind === 'output_text') {
      this.emit('response.output_text.done', { ...common, text: part.text, logprobs: [] })
    } else {
      this.emit('response.refusal.done', { ...common, refusal: part.text })
    }
    const done = contentPart(part.kind, part.text)
    this.emit('response.content_part.done', { ...common, part: done })
    m.content.push(contentPart(part.kind, part.text))
  }

  private closeMessage(status: string): void {
    const m = this.message
    if (!m) return
    this.message = undefined
    this.closeMessagePart(m)
    this.doneItem(m.outputIndex, messageItem(m.id, status, m.content))
  }

  private addToolCallDelta(delta: ToolCallDelta): void {
    this.closeReasoning()
    this.closeMessage('completed')
    let call = this.calls.get(delta.index)
    const callId = call?.callId ?? (delta.id || `call_${this.chatId}_${delta.index}`)
    const extra =
      delta.extra_content && Object.keys(delta.extra_content).length > 0 ? delta.extra_content : undefined
    // Sent before the call's own item when both come at once, so the next turn meets it first.
    if (extra && !call?.carried) this.carryToolCallExtra(callId, extra)
    if (!call) {
      call = {
        outputIndex: this.output.length,
        callId,
        name: delta.function?.name ?? '',
        args: '',
        carried: false,
      }
      this.calls.set(delta.index, call)
      this.addItem(call.outputIndex, functionCallItem(callId, call.name, '', 'in_progress'))
    } else if (!call.name && delta.function?.name) {
      call.name = delta.function.name
    }
    if (extra) call.carried = true
    const piece = delta.function?.arguments
    if (piece) {
      call.args += piece
      this.emit('response.function_call_arguments.delta', {
        item_id: `fc_${call.callId}`,
        output_index: call.outputIndex,
        delta: piece,
      })
    }
  }

  /** A tool call's signature travels in a reasoning item of its own, which the client echoes back. */
  private carryToolCallExtra(callId: string, extra: Record<string, unknown>): void {
    const outputIndex = this.output.length
    const item = reasoningItem(itemId('rs', this.chatId, this.reasoningCount++), [], [], { [callId]: extra })
    this.addItem(outputIndex, { id: item.id, type: 'reasoning', summary: [] })
    this.doneItem(outputIndex, item)
  }

  private closeCalls(status: string): void {
    const open = [...this.calls.values()].sort((a, b) => a.outputIndex - b.outputIndex)
    this.calls.clear()
    for (const call of open) {
      const id = `fc_${call.callId}`
      this.emit('response.function_call_arguments.done', {
        item_id: id,
        output_index: call.outputIndex,
        name: call.name,
        arguments: call.args,
      })
      this.doneItem(call.outputIndex, functionCallItem(call.callId, call.name, call.args, status))
    }
  }

  private closeAll(): void {
    const status = incompleteReason(this.finishReason) ? 'incomplete' : 'completed'
    this.closeReasoning()
    this.closeMessage(status)
    this.closeCalls(status)
  }

  private addItem(outputIndex: number, item: ResponsesOutputItem): void {
    this.output[outputIndex] = item
    this.emit('response.output_item.added', { output_index: outputIndex, item: { ...item } })
  }

  private doneItem(outputIndex: number, item: ResponsesOutputItem): void {
    this.output[outputIndex] = item
    this.emit('response.output_item.done', { output_index: outputIndex, item })
  }

  private emit(type: string, fields: Record<string, unknown>): void {
    this.events.push({ event: { type, sequence_number: this.sequence++, ...fields } })
  }

  private take(): ResponsesStreamItem[] {
    const events = this.events
    this.events = []
    return events
  }
}

function contentPart(kind: OpenPart['kind'], text: string): Record<string, unknown> {
  return kind === 'output_text' ? outputTextPart(text) : { type: 'refusal', refusal: text }
}

/**
 * Streamed reasoning arrives in pieces of the same block (same type and index); they are joined so
 * the block, and its signature, can be sent back whole. Returns whether `piece` joined the last block.
 */
function mergeReasoningDetail(blocks: ReasoningDetail[], piece: ReasoningDetail): boolean {
  const last = blocks[blocks.length - 1]
  const joins =
    last !== undefined &&
    last.type === piece.type &&
    piece.type !== 'reasoning.encrypted' &&
    last.index === piece.index &&
    !last.signature
  if (!joins) {
    blocks.push({ ...piece })
    return false
  }
  const merged: ReasoningDetail = { ...piece, ...last }
  if (piece.text) merged.text = (last.text ?? '') + piece.text
  if (piece.summary) merged.summary = (last.summary ?? '') + piece.summary
  if (piece.signature) merged.signature = piece.signature
  blocks[blocks.length - 1] = merged
  return true
}
