import type { ChatResponse, Usage } from '../../core/schemas/index.js'
import {
  BEDROCK_REASONING_FORMAT,
  type ConverseContentBlock,
  type ConverseResponse,
  type ConverseUsage,
} from '../../providers/index.js'
import { signatureForRoute } from '../signature-origin.js'

const STOP_REASONS: Record<string, string> = {
  stop: 'end_turn',
  length: 'max_tokens',
  tool_calls: 'tool_use',
  function_call: 'tool_use',
  content_filter: 'content_filtered',
}

export function toStopReason(finish: string | null | undefined): string {
  return (finish && STOP_REASONS[finish]) || 'end_turn'
}

/** Unified usage in Converse terms: inputTokens exclude the cached and cache-written tokens. */
export function toConverseUsage(u: Usage | null | undefined): ConverseUsage {
  const read = u?.prompt_tokens_details?.cached_tokens ?? 0
  const write = u?.prompt_tokens_details?.cache_creation_tokens ?? 0
  const input = Math.max(0, (u?.prompt_tokens ?? 0) - read - write)
  const output = u?.completion_tokens ?? 0
  const oneHour = Math.min(u?.prompt_tokens_details?.cached_write_1h_tokens ?? 0, write)
  return {
    inputTokens: input,
    outputTokens: output,
    totalTokens: input + output + read + write,
    ...(read && { cacheReadInputTokens: read }),
    ...(write && { cacheWriteInputTokens: write }),
    ...(write && {
      cacheDetails: [
        ...(write > oneHour ? [{ ttl: '5m', inputTokens: write - oneHour }] : []),
        ...(oneHour ? [{ ttl: '1h', inputTokens: oneHour }] : []),
      ],
    }),
  }
}

function toolInput(args: string | undefined): unknown {
  try {
    const v: unknown = args ? JSON.parse(args) : {}
    return v && typeof v === 'object' ? v : { value: v }
  } catch {
    return {}
  }
}

/** A unified chat response as a Converse answer. */
export function chatToConverse(res: ChatResponse, latencyMs: number): ConverseResponse {
  const choice = res.choices[0]
  const msg = choice?.message
  const content: ConverseContentBlock[] = []
  for (const d of msg?.reasoning_details ?? []) {
    if (d.type === 'reasoning.text')
      content.push({
        reasoningContent: {
          reasoningText: {
            text: d.text ?? '',
            ...(d.signature && {
              signature: signatureForRoute(d.signature, d.format, BEDROCK_REASONING_FORMAT),
            }),
          },
        },
      })
    else if (d.type === 'reasoning.encrypted' && d.data)
      content.push({ reasoningContent: { redactedContent: d.data } })
  }
  if (!msg?.reasoning_details?.length && msg?.reasoning)
    content.push({ reasoningContent: { reasoningText: { text: msg.reasoning } } })
  const text = typeof msg?.content === 'string' ? msg.content : ''
  if (text) content.push({ text })
  for (const call of msg?.tool_calls ?? [])
    content.push({
      toolUse: { toolUseId: call.id, name: call.function.name, input: toolInput(call.function.arguments) },
    })
  if (!content.length) content.push({ text: '' })
  return {
    output: { message: { role: 'assistant', content } },
    stopReason: toStopReason(choice?.finish_reason),
    usage: toConverseUsage(res.usage),
    metrics: { latencyMs },
  }
}
