import { GatewayError } from '../../core/errors.js'
import type { ChatResponse, ReasoningDetail, ToolCall, Usage } from '../../core/schemas/index.js'
import { finishReasonsFrom } from '../finish-reason.js'
import { assistantMessage } from '../assistant-message.js'
import { cacheDetails } from '../cache-usage.js'

/** Anthropic's usage; in a stream, `message_delta` may repeat or update any of it. */
export interface AnthropicUsage {
  input_tokens?: number | null
  output_tokens?: number | null
  cache_creation_input_tokens?: number | null
  cache_read_input_tokens?: number | null
  /** The writes split by lifetime (`cache_control.ttl`); they add up to cache_creation_input_tokens. */
  cache_creation?: { ephemeral_5m_input_tokens?: number; ephemeral_1h_input_tokens?: number } | null
  [k: string]: unknown
}

/** One content block of an Anthropic answer. */
export interface AnthropicContentBlock {
  type: string
  text?: string
  thinking?: string
  signature?: string
  data?: string
  id?: string
  name?: string
  input?: unknown
  [k: string]: unknown
}

/** The body of a non-streamed `POST /v1/messages` answer (and `message_start`'s `message`). */
export interface AnthropicMessage {
  id: string
  type: 'message'
  role: 'assistant'
  model: string
  content: AnthropicContentBlock[]
  stop_reason: string | null
  stop_sequence?: string | null
  usage: AnthropicUsage
  [k: string]: unknown
}

export const toFinishReason = finishReasonsFrom({
  end_turn: 'stop',
  stop_sequence: 'stop',
  pause_turn: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
})

/** Anthropic counts cache reads and writes apart from `input_tokens`; OpenAI's prompt_tokens holds them all. */
export function toUsage(u: AnthropicUsage): Usage {
  const input = u.input_tokens ?? 0
  const cacheRead = u.cache_read_input_tokens ?? 0
  const cacheCreation = u.cache_creation_input_tokens ?? 0
  const prompt = input + cacheRead + cacheCreation
  const completion = u.output_tokens ?? 0
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: cacheDetails(
      cacheRead,
      cacheCreation,
      u.cache_creation?.ephemeral_1h_input_tokens,
    ),
  }
}

/** Translates an Anthropic message into a unified chat completion. */
export function fromAnthropicMessage(msg: AnthropicMessage, provider: string): ChatResponse {
  if (!msg || typeof msg !== 'object' || !Array.isArray(msg.content)) {
    throw new GatewayError('upstream_bad_response', `${provider} answered without a message content list`, {
      retryable: true,
    })
  }
  let text: string | null = null
  let reasoning: string | undefined
  const details: ReasoningDetail[] = []
  const toolCalls: ToolCall[] = []
  for (const block of msg.content) {
    switch (block.type) {
      case 'text':
        text = (text ?? '') + (block.text ?? '')
        break
      case 'thinking':
        reasoning = (reasoning ?? '') + (block.thinking ?? '')
        details.push(thinkingDetail(details.length, block.thinking ?? '', block.signature))
        break
      case 'redacted_thinking':
        details.push({ type: 'reasoning.encrypted', index: details.length, data: block.data ?? '' })
        break
      case 'tool_use':
        toolCalls.push({
          id: block.id ?? '',
          type: 'function',
          function: { name: block.name ?? '', arguments: JSON.stringify(block.input ?? {}) },
        })
        break
      // Server tools (web search, code execution, MCP) run at Anthropic; their blocks are not the caller's calls.
    }
  }
  const message = assistantMessage(text, { toolCalls, reasoning, details })
  return {
    id: msg.id,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: msg.model,
    choices: [{ index: 0, message, finish_reason: toFinishReason(msg.stop_reason) ?? 'stop' }],
    usage: toUsage(msg.usage ?? {}),
  }
}

function thinkingDetail(index: number, text: string, signature: string | undefined): ReasoningDetail {
  const d: ReasoningDetail = { type: 'reasoning.text', index, text }
  if (signature) d.signature = signature
  return d
}
