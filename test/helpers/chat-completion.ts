import type { AssistantMessage, ChatResponse, FinishReason, Usage } from '../../src/core/schemas/index.js'

/** Chat usage with its total, and the cached and reasoning token details when given. */
export function usageOf(
  prompt: number,
  completion: number,
  details: { cached?: number; reasoning?: number } = {},
): Usage {
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    ...(details.cached !== undefined && { prompt_tokens_details: { cached_tokens: details.cached } }),
    ...(details.reasoning !== undefined && {
      completion_tokens_details: { reasoning_tokens: details.reasoning },
    }),
  }
}

/** What a test may name of a chat completion; the rest is a fixed id, time and model. */
export interface CompletionFields {
  id?: string
  created?: number
  model?: string
  finish_reason?: FinishReason
  usage?: Usage
}

/** A single-choice chat completion of the assistant `message` (content null unless given). */
export function chatCompletion(
  message: Partial<AssistantMessage>,
  fields: CompletionFields = {},
): ChatResponse {
  const { finish_reason = 'stop', usage, ...named } = fields
  return {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1700000000,
    model: 'gpt-4o',
    ...named,
    choices: [{ index: 0, message: { role: 'assistant', content: null, ...message }, finish_reason }],
    ...(usage && { usage }),
  }
}
