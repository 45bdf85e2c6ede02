import { randomBytes } from 'node:crypto'
import { GatewayError } from '../../core/errors.js'
import type {
  ChatChoice,
  ChatResponse,
  FinishReason,
  ReasoningDetail,
  ToolCall,
  Usage,
} from '../../core/schemas/index.js'
import {
  GEMINI_REASONING_FORMAT,
  type FormattedReasoningDetail,
  type GeminiContent,
  type GeminiPart,
} from './request.js'

export interface GeminiCandidate {
  content?: GeminiContent
  finishReason?: string
  index?: number
  [k: string]: unknown
}

export interface GeminiUsageMetadata {
  promptTokenCount?: number
  candidatesTokenCount?: number
  totalTokenCount?: number
  thoughtsTokenCount?: number
  cachedContentTokenCount?: number
  toolUsePromptTokenCount?: number
  [k: string]: unknown
}

/** GenerateContentResponse: the whole answer, or one frame of a stream. */
export interface GeminiResponse {
  candidates?: GeminiCandidate[]
  promptFeedback?: { blockReason?: string; [k: string]: unknown }
  usageMetadata?: GeminiUsageMetadata
  modelVersion?: string
  responseId?: string
  error?: { code?: number; message?: string; status?: string }
}

const FILTERED = new Set(['SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'IMAGE_SAFETY'])

export function toFinishReason(reason: string, hasToolCalls: boolean): FinishReason {
  if (reason === 'MAX_TOKENS') return 'length'
  if (FILTERED.has(reason)) return 'content_filter'
  return hasToolCalls ? 'tool_calls' : 'stop'
}

/**
 * Usage in OpenAI's terms. Thinking tokens are billed as output, so they count in completion_tokens;
 * tokens of built-in tool results (search, code execution) are billed as input.
 */
export function toUsage(u: GeminiUsageMetadata): Usage {
  const prompt = (u.promptTokenCount ?? 0) + (u.toolUsePromptTokenCount ?? 0)
  const thoughts = u.thoughtsTokenCount ?? 0
  const completion = (u.candidatesTokenCount ?? 0) + thoughts
  const usage: Usage = {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: u.totalTokenCount ?? prompt + completion,
  }
  if (u.cachedContentTokenCount !== undefined)
    usage.prompt_tokens_details = { cached_tokens: u.cachedContentTokenCount }
  if (u.thoughtsTokenCount !== undefined) usage.completion_tokens_details = { reasoning_tokens: thoughts }
  return usage
}

/** Gemini's function calls carry no id; ours are unique and say which call of the answer they are. */
export function newToolCallId(n: number): string {
  return `call_${n}_${randomBytes(6).toString('hex')}`
}

export function newResponseId(): string {
  return `gemini-${randomBytes(12).toString('hex')}`
}

/** Counters that run over one candidate, across all the frames of a stream. */
export interface CandidateState {
  toolCalls: number
  reasoningParts: number
}

export interface PartsRead {
  text: string | undefined
  reasoning: string | undefined
  reasoningDetails: ReasoningDetail[]
  toolCalls: { index: number; call: ToolCall }[]
}

/**
 * Reads a candidate's parts: text (not thought) is the answer, thought parts the reasoning, function
 * calls the tool calls. A signature on a text part (Gemini signs the last part of a plain answer)
 * is kept as an encrypted reasoning detail so that it can go back.
 */
export function readParts(parts: GeminiPart[] | undefined, state: CandidateState): PartsRead {
  const read: PartsRead = { text: undefined, reasoning: undefined, reasoningDetails: [], toolCalls: [] }
  for (const part of parts ?? []) {
    const signature =
      typeof part.thoughtSignature === 'string' && part.thoughtSignature ? part.thoughtSignature : undefined
    if (part.functionCall) {
      const index = state.toolCalls++
      const fc = part.functionCall
      const call: ToolCall = {
        id: fc.id || newToolCallId(index),
        type: 'function',
        function: { name: fc.name, arguments: JSON.stringify(fc.args ?? {}) },
      }
      if (signature) call.extra_content = { google: { thought_signature: signature } }
      read.toolCalls.push({ index, call })
    } else if (part.thought) {
      const text = typeof part.text === 'string' ? part.text : ''
      read.reasoning = (read.reasoning ?? '') + text
      const detail: FormattedReasoningDetail = {
        type: 'reasoning.text',
        index: state.reasoningParts++,
        text,
        format: GEMINI_REASONING_FORMAT,
      }
      if (signature) detail.signature = signature
      read.reasoningDetails.push(detail)
    } else if (typeof part.text === 'string') {
      if (part.text) read.text = (read.text ?? '') + part.text
      if (signature) {
        const detail: FormattedReasoningDetail = {
          type: 'reasoning.encrypted',
          index: state.reasoningParts++,
          data: signature,
          format: GEMINI_REASONING_FORMAT,
        }
        read.reasoningDetails.push(detail)
      }
    }
  }
  return read
}

/** A whole generateContent answer as a chat completion. */
export function fromGeminiResponse(res: GeminiResponse, model: string, provider: string): ChatResponse {
  const candidates = res.candidates ?? []
  let choices: ChatChoice[]
  if (candidates.length) {
    choices = candidates.map((c, i) => toChoice(c, i))
  } else if (res.promptFeedback?.blockReason) {
    // The prompt itself was blocked: there is nothing to answer with.
    choices = [{ index: 0, message: { role: 'assistant', content: '' }, finish_reason: 'content_filter' }]
  } else {
    throw new GatewayError('upstream_bad_response', `${provider} answered with no candidates`, {
      retryable: true,
    })
  }
  const body: ChatResponse = {
    id: res.responseId || newResponseId(),
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: res.modelVersion || model,
    choices,
  }
  if (res.usageMetadata) body.usage = toUsage(res.usageMetadata)
  return body
}

function toChoice(c: GeminiCandidate, i: number): ChatChoice {
  const read = readParts(c.content?.parts, { toolCalls: 0, reasoningParts: 0 })
  const hasCalls = read.toolCalls.length > 0
  const choice: ChatChoice = {
    index: c.index ?? i,
    message: { role: 'assistant', content: read.text ?? (hasCalls ? null : '') },
    finish_reason: toFinishReason(c.finishReason ?? 'STOP', hasCalls),
  }
  if (hasCalls) choice.message.tool_calls = read.toolCalls.map((t) => t.call)
  if (read.reasoning !== undefined) choice.message.reasoning = read.reasoning
  if (read.reasoningDetails.length) choice.message.reasoning_details = read.reasoningDetails
  return choice
}
