import { GatewayError } from '../../core/errors.js'
import type { AssistantMessage, ChatResponse, Usage } from '../../core/schemas/index.js'
import { finishReasonsFrom } from '../finish-reason.js'
import type { CohereChatResponse, CohereUsage } from './types.js'

export const toFinishReason = finishReasonsFrom({
  COMPLETE: 'stop',
  STOP_SEQUENCE: 'stop',
  MAX_TOKENS: 'length',
  TOOL_CALL: 'tool_calls',
  ERROR: 'stop',
  TIMEOUT: 'length',
})

/** Tokens the model saw and produced (as Bifrost reads them), else what was billed. */
export function toUsage(u: CohereUsage | undefined): Usage {
  const prompt = u?.tokens?.input_tokens ?? u?.billed_units?.input_tokens ?? 0
  const completion = u?.tokens?.output_tokens ?? u?.billed_units?.output_tokens ?? 0
  const usage: Usage = {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
  }
  if (u?.cached_tokens !== undefined) usage.prompt_tokens_details = { cached_tokens: u.cached_tokens }
  return usage
}

/** Translates a Cohere `/v2/chat` answer into a unified chat completion. */
export function fromCohereResponse(res: CohereChatResponse, model: string, provider: string): ChatResponse {
  if (!res || typeof res !== 'object' || !res.message || typeof res.message !== 'object') {
    throw new GatewayError('upstream_bad_response', `${provider} answered without a message`, {
      retryable: true,
    })
  }
  const blocks = Array.isArray(res.message.content) ? res.message.content : []
  const text = blocks
    .filter((b) => b.type === 'text')
    .map((b) => b.text ?? '')
    .join('')
  const thinking = blocks
    .filter((b) => b.type === 'thinking')
    .map((b) => b.thinking ?? '')
    .join('')
  const calls = res.message.tool_calls ?? []
  const message: AssistantMessage = {
    role: 'assistant',
    content: text || (calls.length ? (res.message.tool_plan ?? null) : text),
  }
  if (calls.length) {
    message.tool_calls = calls.map((c) => ({
      id: c.id,
      type: 'function',
      function: { name: c.function?.name ?? '', arguments: c.function?.arguments || '{}' },
    }))
  }
  if (thinking) {
    message.reasoning = thinking
    message.reasoning_details = [{ type: 'reasoning.text', index: 0, text: thinking }]
  }
  const usage = toUsage(res.usage)
  return {
    id: res.id,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, message, finish_reason: toFinishReason(res.finish_reason) ?? 'stop' }],
    usage,
  }
}
