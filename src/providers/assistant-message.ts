import type { AssistantMessage, ReasoningDetail, ToolCall } from '../core/schemas/index.js'

/** What a native answer holds besides its text, gathered block by block. */
export interface AnswerParts {
  toolCalls: ToolCall[]
  /** The reasoning text; undefined when the answer had none (an empty one is kept). */
  reasoning?: string
  details: ReasoningDetail[]
}

/** A unified assistant message: the text, with the calls, reasoning and reasoning details it has. */
export function assistantMessage(content: string | null, parts: AnswerParts): AssistantMessage {
  const message: AssistantMessage = { role: 'assistant', content }
  if (parts.toolCalls.length) message.tool_calls = parts.toolCalls
  if (parts.reasoning !== undefined) message.reasoning = parts.reasoning
  if (parts.details.length) message.reasoning_details = parts.details
  return message
}
