import type { ChatResponse, ReasoningDetail, ToolCall, Usage } from '../../core/schemas/index.js'
import { signatureForRoute } from '../signature-origin.js'
import { GEMINI_REASONING_FORMAT, type GenAIPart } from './parse.js'

export interface GenAIUsageMetadata {
  promptTokenCount: number
  candidatesTokenCount: number
  totalTokenCount: number
  thoughtsTokenCount?: number
  cachedContentTokenCount?: number
}

export interface GenerateContentResponse {
  candidates?: {
    content: { role: 'model'; parts: GenAIPart[] }
    finishReason?: string
    index: number
  }[]
  usageMetadata?: GenAIUsageMetadata
  modelVersion: string
  responseId: string
}

export function toFinishReason(finish: string | null | undefined): string {
  switch (finish) {
    case 'length':
      return 'MAX_TOKENS'
    case 'content_filter':
      return 'SAFETY'
    default:
      return 'STOP'
  }
}

/** OpenAI's completion tokens include reasoning; Gemini counts thoughts apart from candidates. */
export function toUsageMetadata(u: Usage): GenAIUsageMetadata {
  const thoughts = u.completion_tokens_details?.reasoning_tokens ?? 0
  const out: GenAIUsageMetadata = {
    promptTokenCount: u.prompt_tokens,
    candidatesTokenCount: Math.max(0, u.completion_tokens - thoughts),
    totalTokenCount: u.total_tokens,
  }
  if (thoughts) out.thoughtsTokenCount = thoughts
  const cached = u.prompt_tokens_details?.cached_tokens
  if (cached) out.cachedContentTokenCount = cached
  return out
}

/** Thought parts from reasoning details; a bare signature of the answer (Gemini's) is returned apart. */
export function thoughtParts(
  details: ReasoningDetail[] | undefined,
  reasoning: string | undefined,
): { parts: GenAIPart[]; textSignature?: string } {
  if (!details?.length) return { parts: reasoning ? [{ text: reasoning, thought: true }] : [] }
  const parts: GenAIPart[] = []
  let textSignature: string | undefined
  const byIndex = new Map<number, GenAIPart>()
  for (const d of details) {
    if (d.type === 'reasoning.encrypted') {
      if (d.data && (d as Record<string, unknown>).format === 'google-gemini-v1') textSignature = d.data
      continue
    }
    const text = d.text ?? d.summary ?? ''
    const prev = d.index !== undefined ? byIndex.get(d.index) : undefined
    const signature = d.signature && signatureForRoute(d.signature, d.format, GEMINI_REASONING_FORMAT)
    if (prev) {
      prev.text = (prev.text ?? '') + text
      if (signature) prev.thoughtSignature = signature
      continue
    }
    const part: GenAIPart = { text, thought: true }
    if (signature) part.thoughtSignature = signature
    if (d.index !== undefined) byIndex.set(d.index, part)
    parts.push(part)
  }
  return { parts, textSignature }
}

export function functionCallPart(call: Pick<ToolCall, 'id' | 'function' | 'extra_content'>): GenAIPart {
  let args: Record<string, unknown> = {}
  try {
    const v: unknown = JSON.parse(call.function.arguments || '{}')
    if (v && typeof v === 'object' && !Array.isArray(v)) args = v as Record<string, unknown>
  } catch {
    args = { _raw: call.function.arguments }
  }
  const part: GenAIPart = { functionCall: { id: call.id, name: call.function.name, args } }
  const google = call.extra_content?.google as { thought_signature?: unknown } | undefined
  if (typeof google?.thought_signature === 'string') part.thoughtSignature = google.thought_signature
  return part
}

/** A unified chat response as GenAI's GenerateContentResponse. */
export function chatToGenerateContent(res: ChatResponse, model: string): GenerateContentResponse {
  const candidates = res.choices.map((choice) => {
    const msg = choice.message
    const { parts, textSignature } = thoughtParts(msg.reasoning_details, msg.reasoning)
    if (typeof msg.content === 'string' && msg.content) {
      const part: GenAIPart = { text: msg.content }
      if (textSignature) part.thoughtSignature = textSignature
      parts.push(part)
    }
    for (const call of msg.tool_calls ?? []) parts.push(functionCallPart(call))
    return {
      content: { role: 'model' as const, parts },
      finishReason: toFinishReason(choice.finish_reason),
      index: choice.index,
    }
  })
  const out: GenerateContentResponse = { candidates, modelVersion: model, responseId: res.id }
  if (res.usage) out.usageMetadata = toUsageMetadata(res.usage)
  return out
}
