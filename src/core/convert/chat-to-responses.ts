import type {
  ChatResponse,
  ReasoningDetail,
  ResponsesOutputItem,
  ResponsesRequest,
  ResponsesResponse,
  ResponsesUsage,
  ToolCall,
  Usage,
} from '../schemas/index.js'
import { hasSignedReasoning, writeReasoningCarrier, type ReasoningCarrier } from './reasoning-carrier.js'

/** Turns a chat completion into the Responses API's response object, as OpenAI would have sent it. */
export function chatResponseToResponses(res: ChatResponse, req: ResponsesRequest): ResponsesResponse {
  const choice = res.choices[0]
  const message = choice?.message
  const output: ResponsesOutputItem[] = []

  if (message) {
    const details = reasoningDetailsOf(message.reasoning_details, message.reasoning)
    const toolExtras = toolCallExtras(message.tool_calls ?? [])
    if (details.length > 0 || toolExtras !== undefined) {
      output.push(reasoningItem(itemId('rs', res.id, 0), summaryTexts(details), details, toolExtras))
    }
    const text = typeof message.content === 'string' ? message.content : ''
    const refusal = typeof message.refusal === 'string' ? message.refusal : ''
    if (text !== '' || refusal !== '') {
      const content: Record<string, unknown>[] = []
      if (text !== '') content.push(outputTextPart(text))
      if (refusal !== '') content.push({ type: 'refusal', refusal })
      output.push(messageItem(itemId('msg', res.id, 0), 'completed', content))
    }
    for (const call of message.tool_calls ?? []) {
      output.push(functionCallItem(call.id, call.function.name, call.function.arguments, 'completed'))
    }
  }

  const incomplete = incompleteReason(choice?.finish_reason)
  const last = output[output.length - 1]
  if (incomplete && last && last.type !== 'reasoning') last.status = 'incomplete'

  return responseEnvelope(req, {
    id: responseId(res.id),
    createdAt: res.created,
    model: res.model,
    status: incomplete ? 'incomplete' : 'completed',
    incompleteReason: incomplete,
    output,
    usage: res.usage ? chatUsageToResponsesUsage(res.usage) : null,
  })
}

export interface EnvelopeFields {
  id: string
  createdAt: number
  model: string
  status: 'completed' | 'incomplete' | 'in_progress'
  incompleteReason?: string
  output: ResponsesOutputItem[]
  usage: ResponsesUsage | null
}

/** The response object with the request's settings echoed back, defaults filled in as OpenAI does. */
export function responseEnvelope(req: ResponsesRequest, f: EnvelopeFields): ResponsesResponse {
  const reasoning = req.reasoning ?? {}
  return {
    id: f.id,
    object: 'response',
    created_at: f.createdAt,
    status: f.status,
    error: null,
    incomplete_details: f.incompleteReason ? { reason: f.incompleteReason } : null,
    instructions: req.instructions ?? null,
    max_output_tokens: req.max_output_tokens ?? null,
    model: f.model,
    output: f.output,
    parallel_tool_calls: req.parallel_tool_calls ?? true,
    previous_response_id: null,
    reasoning: { effort: reasoning.effort ?? null, summary: reasoning.summary ?? null },
    // Nothing is kept: a converted response cannot be referenced by previous_response_id later.
    store: false,
    temperature: req.temperature ?? 1,
    text: { format: { type: 'text' }, ...req.text },
    tool_choice: req.tool_choice ?? 'auto',
    tools: req.tools ?? [],
    top_p: req.top_p ?? 1,
    truncation: 'disabled',
    usage: f.usage,
    user: req.user ?? null,
    metadata: req.metadata ?? {},
  }
}

export function responseId(chatId: string): string {
  return `resp_${chatId}`
}

/** Item ids derive from the chat id, so a stream and a plain response name their items alike. */
export function itemId(prefix: 'rs' | 'msg', chatId: string, nth: number): string {
  return nth === 0 ? `${prefix}_${chatId}` : `${prefix}_${chatId}_${nth}`
}

export function chatUsageToResponsesUsage(u: Usage): ResponsesUsage {
  const inputDetails: NonNullable<ResponsesUsage['input_tokens_details']> = {
    cached_tokens: u.prompt_tokens_details?.cached_tokens ?? 0,
  }
  const written = u.prompt_tokens_details?.cache_creation_tokens
  if (written !== undefined) inputDetails.cache_creation_tokens = written
  return {
    input_tokens: u.prompt_tokens,
    input_tokens_details: inputDetails,
    output_tokens: u.completion_tokens,
    output_tokens_details: { reasoning_tokens: u.completion_tokens_details?.reasoning_tokens ?? 0 },
    total_tokens: u.total_tokens,
  }
}

/** Why a response stopped early, in the Responses API's words, or undefined when it finished. */
export function incompleteReason(finish: string | null | undefined): string | undefined {
  if (finish === 'length') return 'max_output_tokens'
  if (finish === 'content_filter') return 'content_filter'
  return undefined
}

/** A message's reasoning as details; providers that send only text get one reasoning.text detail. */
export function reasoningDetailsOf(
  details: ReasoningDetail[] | undefined,
  text: string | null | undefined,
): ReasoningDetail[] {
  if (details && details.length > 0) return details
  if (typeof text === 'string' && text !== '') return [{ type: 'reasoning.text', text }]
  return []
}

/** The readable text of one detail; encrypted and signature-only ones have none. */
export function reasoningTextOf(detail: ReasoningDetail): string {
  if (detail.type === 'reasoning.encrypted') return ''
  return detail.text ?? detail.summary ?? ''
}

function summaryTexts(details: readonly ReasoningDetail[]): string[] {
  return details.map(reasoningTextOf).filter((t) => t !== '')
}

export function toolCallExtras(calls: readonly ToolCall[]): ReasoningCarrier['tool_calls'] {
  let extras: ReasoningCarrier['tool_calls']
  for (const call of calls) {
    if (call.extra_content && Object.keys(call.extra_content).length > 0)
      (extras ??= {})[call.id] = call.extra_content
  }
  return extras
}

export function reasoningItem(
  id: string,
  summary: readonly string[],
  details: ReasoningDetail[],
  toolExtras?: ReasoningCarrier['tool_calls'],
): ResponsesOutputItem {
  const item: ResponsesOutputItem = {
    id,
    type: 'reasoning',
    summary: summary.map((text) => ({ type: 'summary_text', text })),
  }
  if (hasSignedReasoning(details) || toolExtras !== undefined) {
    const carrier: ReasoningCarrier = {}
    if (details.length > 0) carrier.details = details
    if (toolExtras !== undefined) carrier.tool_calls = toolExtras
    item.encrypted_content = writeReasoningCarrier(carrier)
  }
  return item
}

export function outputTextPart(text: string): Record<string, unknown> {
  return { type: 'output_text', text, annotations: [] }
}

export function messageItem(
  id: string,
  status: string,
  content: Record<string, unknown>[],
): ResponsesOutputItem {
  return { id, type: 'message', status, role: 'assistant', content }
}

export function functionCallItem(
  callId: string,
  name: string,
  args: string,
  status: string,
): ResponsesOutputItem {
  return { id: `fc_${callId}`, type: 'function_call', status, arguments: args, call_id: callId, name }
}
