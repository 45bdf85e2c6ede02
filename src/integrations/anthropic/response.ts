import type { ChatResponse, ReasoningDetail, Usage } from '../../core/schemas/index.js'
import { signatureForRoute } from '../signature-origin.js'
import { ANTHROPIC_REASONING_FORMAT } from './parse.js'

/** One content block of an Anthropic Messages response. */
export interface AnthropicOutBlock {
  type: string
  [k: string]: unknown
}

export interface AnthropicUsageOut {
  input_tokens: number
  output_tokens: number
  cache_creation_input_tokens: number
  cache_read_input_tokens: number
  /** The writes by lifetime, as Anthropic reports them. */
  cache_creation: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number }
}

export interface AnthropicMessageOut {
  id: string
  type: 'message'
  role: 'assistant'
  model: string
  content: AnthropicOutBlock[]
  stop_reason: string | null
  stop_sequence: string | null
  usage: AnthropicUsageOut
}

/** OpenAI's finish reason in Anthropic's terms. */
export function toStopReason(finish: string | null | undefined): string {
  switch (finish) {
    case 'length':
      return 'max_tokens'
    case 'tool_calls':
    case 'function_call':
      return 'tool_use'
    case 'content_filter':
      return 'refusal'
    default:
      return 'end_turn'
  }
}

/** OpenAI's prompt_tokens include cache reads and writes; Anthropic counts them apart. */
export function toAnthropicUsage(u: Usage | null | undefined): AnthropicUsageOut {
  const cacheRead = u?.prompt_tokens_details?.cached_tokens ?? 0
  const cacheCreation = u?.prompt_tokens_details?.cache_creation_tokens ?? 0
  const oneHour = Math.min(u?.prompt_tokens_details?.cached_write_1h_tokens ?? 0, cacheCreation)
  return {
    input_tokens: Math.max(0, (u?.prompt_tokens ?? 0) - cacheRead - cacheCreation),
    output_tokens: u?.completion_tokens ?? 0,
    cache_creation_input_tokens: cacheCreation,
    cache_read_input_tokens: cacheRead,
    cache_creation: {
      ephemeral_5m_input_tokens: cacheCreation - oneHour,
      ephemeral_1h_input_tokens: oneHour,
    },
  }
}

export function messageId(id: string | undefined): string {
  return id?.startsWith('msg_') ? id : `msg_${id ?? Date.now().toString(36)}`
}

/** A tool call's arguments as Anthropic's `input` object; text that is not a JSON object is kept under `_raw`. */
export function toolInput(args: string | undefined): Record<string, unknown> {
  if (!args || !args.trim()) return {}
  try {
    const v: unknown = JSON.parse(args)
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>
  } catch {
    // fall through
  }
  return { _raw: args }
}

/** Reasoning details as thinking blocks; pieces split by index (text, then signature) are joined first. */
export function thinkingBlocks(
  details: ReasoningDetail[] | undefined,
  reasoning?: string,
): AnthropicOutBlock[] {
  if (!details?.length) return reasoning ? [{ type: 'thinking', thinking: reasoning, signature: '' }] : []
  const out: AnthropicOutBlock[] = []
  const byIndex = new Map<number, AnthropicOutBlock>()
  for (const d of details) {
    if (d.type === 'reasoning.encrypted') {
      // A bare signature of Gemini's answer text is no thinking of its own.
      if (d.data && String((d as Record<string, unknown>).format ?? '').startsWith('anthropic'))
        out.push({ type: 'redacted_thinking', data: d.data })
      continue
    }
    if (d.type !== 'reasoning.text' && d.type !== 'reasoning.summary') continue
    const text = d.text ?? d.summary ?? ''
    const signature = d.signature && signatureForRoute(d.signature, d.format, ANTHROPIC_REASONING_FORMAT)
    const prev = d.index !== undefined ? byIndex.get(d.index) : undefined
    if (prev) {
      prev.thinking = String(prev.thinking) + text
      if (signature) prev.signature = signature
      continue
    }
    const block: AnthropicOutBlock = { type: 'thinking', thinking: text, signature: signature ?? '' }
    if (d.index !== undefined) byIndex.set(d.index, block)
    out.push(block)
  }
  return out
}

/** A unified chat response as an Anthropic Message. */
export function chatToAnthropicMessage(res: ChatResponse, model: string): AnthropicMessageOut {
  const choice = res.choices[0]
  const msg = choice?.message
  const content: AnthropicOutBlock[] = thinkingBlocks(msg?.reasoning_details, msg?.reasoning)
  const text = typeof msg?.content === 'string' ? msg.content : ''
  if (text) content.push({ type: 'text', text })
  for (const call of msg?.tool_calls ?? []) {
    content.push({
      type: 'tool_use',
      id: call.id,
      name: call.function.name,
      input: toolInput(call.function.arguments),
    })
  }
  if (!content.length) content.push({ type: 'text', text: '' })
  const native = res as Record<string, unknown>
  return {
    id: messageId(res.id),
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: toStopReason(choice?.finish_reason),
    stop_sequence: typeof native.stop_sequence === 'string' ? native.stop_sequence : null,
    usage: toAnthropicUsage(res.usage),
  }
}
