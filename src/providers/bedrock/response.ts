import type { ChatResponse, ReasoningDetail, ToolCall, Usage } from '../../core/schemas/index.js'
import { finishReasonsFrom } from '../finish-reason.js'
import { assistantMessage } from '../assistant-message.js'
import { cacheDetails } from '../cache-usage.js'
import { BEDROCK_REASONING_FORMAT, type ConverseResponse, type ConverseUsage } from './types.js'

export const toFinishReason = finishReasonsFrom({
  end_turn: 'stop',
  stop_sequence: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  guardrail_intervened: 'content_filter',
  content_filtered: 'content_filter',
})

/** Converse usage in unified terms; Bedrock's inputTokens exclude cache reads and writes, ours include them. */
export function toUsage(u: ConverseUsage | undefined): Usage | undefined {
  if (!u) return undefined
  const read = u.cacheReadInputTokens ?? 0
  const write = u.cacheWriteInputTokens ?? 0
  const prompt = (u.inputTokens ?? 0) + read + write
  const usage: Usage = {
    prompt_tokens: prompt,
    completion_tokens: u.outputTokens ?? 0,
    total_tokens: prompt + (u.outputTokens ?? 0),
  }
  if (read || write) {
    const oneHour = u.cacheDetails?.find((d) => d.ttl === '1h')?.inputTokens
    usage.prompt_tokens_details = cacheDetails(read, write, oneHour)
  }
  return usage
}

/** A Converse answer as a unified chat completion. */
export function fromConverseResponse(res: ConverseResponse, model: string, requestId: string): ChatResponse {
  let text = ''
  let reasoning = ''
  const toolCalls: ToolCall[] = []
  const details: ReasoningDetail[] = []
  for (const block of res.output?.message?.content ?? []) {
    if (block.text !== undefined) text += block.text
    else if (block.toolUse) {
      toolCalls.push({
        id: block.toolUse.toolUseId,
        type: 'function',
        function: { name: block.toolUse.name, arguments: JSON.stringify(block.toolUse.input ?? {}) },
      })
    } else if (block.reasoningContent?.reasoningText) {
      const r = block.reasoningContent.reasoningText
      reasoning += r.text
      details.push({
        type: 'reasoning.text',
        index: details.length,
        text: r.text,
        ...(r.signature && { signature: r.signature }),
        format: BEDROCK_REASONING_FORMAT,
      })
    } else if (block.reasoningContent?.redactedContent) {
      details.push({
        type: 'reasoning.encrypted',
        index: details.length,
        data: block.reasoningContent.redactedContent,
        format: BEDROCK_REASONING_FORMAT,
      })
    }
  }
  const content = text || (toolCalls.length ? null : '')
  const message = assistantMessage(content, { toolCalls, reasoning: reasoning || undefined, details })
  const usage = toUsage(res.usage)
  return {
    id: `bedrock-${requestId}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, message, finish_reason: toFinishReason(res.stopReason) }],
    ...(usage && { usage }),
  }
}
