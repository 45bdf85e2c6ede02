import type { ChatChunk, ToolCall, Usage } from '../../core/schemas/index.js'
import type { ChatStreamItem } from '../../core/provider-adapter.js'
import type { GenAIPart } from './parse.js'
import {
  functionCallPart,
  thoughtParts,
  toFinishReason,
  toUsageMetadata,
  type GenerateContentResponse,
} from './response.js'

/**
 * Translates a unified chat stream into GenAI's streamGenerateContent responses, chunk by chunk.
 * Text and thoughts go out as they come; Gemini sends a function call whole, so tool-call
 * arguments are gathered and sent as functionCall parts with the finish reason and usage.
 */
export async function* translateChatToGenAIStream(
  items: AsyncIterable<ChatStreamItem>,
  model: string,
): AsyncGenerator<GenerateContentResponse> {
  let id = ''
  let finish: string | null = null
  let usage: Usage | undefined
  const calls = new Map<number, Pick<ToolCall, 'id' | 'function' | 'extra_content'>>()
  let textSignature: string | undefined

  for await (const item of items) {
    const chunk: ChatChunk | undefined =
      item.chunk ?? (item.data ? (JSON.parse(item.data) as ChatChunk) : undefined)
    if (chunk?.id) id = chunk.id
    if (item.usage ?? chunk?.usage) usage = (item.usage ?? chunk?.usage) as Usage
    const choice = chunk?.choices?.[0]
    if (!choice) continue
    const delta = choice.delta ?? {}
    const thoughts = thoughtParts(delta.reasoning_details, delta.reasoning)
    if (thoughts.textSignature) textSignature = thoughts.textSignature
    const parts: GenAIPart[] = thoughts.parts.filter((p) => p.text || p.thoughtSignature)
    if (typeof delta.content === 'string' && delta.content) parts.push({ text: delta.content })
    for (const tc of delta.tool_calls ?? []) {
      let call = calls.get(tc.index)
      if (!call) calls.set(tc.index, (call = { id: '', function: { name: '', arguments: '' } }))
      if (tc.id) call.id = tc.id
      if (tc.function?.name) call.function.name += tc.function.name
      if (tc.function?.arguments) call.function.arguments += tc.function.arguments
      if (tc.extra_content) call.extra_content = tc.extra_content
    }
    if (choice.finish_reason) finish = choice.finish_reason
    if (parts.length)
      yield {
        candidates: [{ content: { role: 'model', parts }, index: 0 }],
        modelVersion: model,
        responseId: id,
      }
  }

  const parts: GenAIPart[] = [...calls.values()].map(functionCallPart)
  // Gemini signs the last text part; an empty text part carries the signature of what was streamed.
  if (textSignature && !parts.length) parts.push({ text: '', thoughtSignature: textSignature })
  const last: GenerateContentResponse = {
    candidates: [{ content: { role: 'model', parts }, finishReason: toFinishReason(finish), index: 0 }],
    modelVersion: model,
    responseId: id,
  }
  if (usage) last.usageMetadata = toUsageMetadata(usage)
  yield last
}
