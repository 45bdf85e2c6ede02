import { GatewayError } from '../../core/errors.js'
import type { ChatRequest, ChatResponse, ToolCall, Usage } from '../../core/schemas/index.js'
import type { ChatStreamItem } from '../../core/provider-adapter.js'
import type { StreamMeter } from './invocation-metrics.js'

/**
 * One InvokeModel body read as a unified chat request, with the way back: the model family's own
 * answer, and its own stream chunks (each the JSON that goes base64-encoded in a `chunk` event).
 */
export interface InvokeExchange {
  request: ChatRequest
  respond(res: ChatResponse): unknown
  stream(items: AsyncIterable<ChatStreamItem>, meter: StreamMeter): AsyncGenerator<unknown>
}

export type InvokeBody = Record<string, unknown>

export function invalid(message: string, param?: string): GatewayError {
  return new GatewayError('invalid_request', message, { param, retryable: false })
}

export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

/** A required non-empty string field, refused with AWS's validation wording. */
export function requiredText(body: InvokeBody, key: string): string {
  const v = body[key]
  if (typeof v !== 'string' || !v)
    throw invalid(
      `Malformed input request: #: required key [${key}] not found or not a non-empty string`,
      key,
    )
  return v
}

/** An optional number field; present but not a number is a ValidationException, not a silent drop. */
export function optionalNumber(body: InvokeBody, key: string, integer = false): number | undefined {
  const v = body[key]
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'number' || !Number.isFinite(v) || (integer && (!Number.isInteger(v) || v < 0)))
    throw invalid(
      `Malformed input request: #/${key}: expected ${integer ? 'a non-negative integer' : 'a number'}`,
      key,
    )
  return v
}

/** An optional list of strings (stop sequences). */
export function optionalStrings(body: InvokeBody, key: string): string[] | undefined {
  const v = body[key]
  if (v === undefined || v === null) return undefined
  if (typeof v === 'string') return [v]
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string'))
    throw invalid(`Malformed input request: #/${key}: expected a list of strings`, key)
  return v.length ? (v as string[]) : undefined
}

/** A model family's names for the sampling settings in its body; a family without one leaves it out. */
export interface SamplingFields {
  maxTokens?: string
  temperature?: string
  topP?: string
  stop?: string
}

/** Copies the sampling settings present in `source` (each validated, in this order) onto the unified request. */
export function applySampling(req: ChatRequest, source: InvokeBody, fields: SamplingFields): ChatRequest {
  const maxTokens =
    fields.maxTokens === undefined ? undefined : optionalNumber(source, fields.maxTokens, true)
  const temperature =
    fields.temperature === undefined ? undefined : optionalNumber(source, fields.temperature)
  const topP = fields.topP === undefined ? undefined : optionalNumber(source, fields.topP)
  const stop = fields.stop === undefined ? undefined : optionalStrings(source, fields.stop)
  if (maxTokens !== undefined) req.max_tokens = maxTokens
  if (temperature !== undefined) req.temperature = temperature
  if (topP !== undefined) req.top_p = topP
  if (stop) req.stop = stop
  return req
}

/** The parts of a unified answer that every model family reports in its own words. */
export interface ChatAnswer {
  id: string
  text: string
  toolCalls: ToolCall[]
  finish: string | null
  usage?: Usage
}

export function answerOf(res: ChatResponse): ChatAnswer {
  const choice = res.choices[0]
  const content = choice?.message?.content
  return {
    id: res.id,
    text: typeof content === 'string' ? content : '',
    toolCalls: choice?.message?.tool_calls ?? [],
    finish: choice?.finish_reason ?? null,
    usage: res.usage,
  }
}

export type ChatStreamStep = { kind: 'text'; id: string; text: string } | ({ kind: 'end' } & ChatAnswer)

/**
 * A unified chat stream as text pieces, then one end step with the finish reason, the usage and
 * the tool calls assembled: what the text-only families' chunks need, read chunk by chunk.
 */
export async function* chatStreamSteps(items: AsyncIterable<ChatStreamItem>): AsyncGenerator<ChatStreamStep> {
  let id = ''
  let finish: string | null = null
  let usage: Usage | undefined
  const calls = new Map<number, ToolCall>()
  for await (const item of items) {
    const chunk = item.chunk ?? (item.data ? (JSON.parse(item.data) as ChatStreamItem['chunk']) : undefined)
    if (!chunk) continue
    id ||= chunk.id
    usage = item.usage ?? chunk.usage ?? usage
    const choice = chunk.choices?.[0]
    if (!choice) continue
    const d = choice.delta ?? {}
    if (d.content) yield { kind: 'text', id, text: d.content }
    for (const c of d.tool_calls ?? []) {
      let call = calls.get(c.index)
      if (!call)
        calls.set(c.index, (call = { id: '', type: 'function', function: { name: '', arguments: '' } }))
      if (c.id) call.id = c.id
      if (c.function?.name) call.function.name = c.function.name
      call.function.arguments += c.function?.arguments ?? ''
    }
    if (choice.finish_reason) finish = choice.finish_reason
  }
  const toolCalls = [...calls.entries()].sort(([a], [b]) => a - b).map(([, c]) => c)
  yield { kind: 'end', id, text: '', toolCalls, finish, usage }
}

/** Tool arguments as the object the native formats carry; arguments that are not JSON become `{}`. */
export function parsedArguments(args: string | undefined): Record<string, unknown> {
  try {
    const v: unknown = args ? JSON.parse(args) : {}
    return isObject(v) ? v : {}
  } catch {
    return {}
  }
}

/** How a text-completion family words its answer, a text chunk and the closing chunk (finish reason, usage). */
export interface TextFamilyWire {
  answer(a: ChatAnswer): unknown
  text(text: string): object
  end(a: ChatAnswer): object
}

/** The exchange of a family that answers in text only: its own answer, then its text chunks and closing chunk. */
export function textFamilyExchange(request: ChatRequest, wire: TextFamilyWire): InvokeExchange {
  return {
    request,
    respond: (res) => wire.answer(answerOf(res)),
    async *stream(items, meter) {
      for await (const step of chatStreamSteps(items)) {
        if (step.kind === 'text') yield wire.text(step.text)
        else yield meter.closing(wire.end(step))
      }
    },
  }
}
