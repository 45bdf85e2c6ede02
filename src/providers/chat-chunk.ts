import type { ChatDelta, FinishReason, Usage } from '../core/schemas/index.js'
import type { ChatStreamItem } from '../core/provider-adapter.js'

/** One delta of a single-choice streamed chat answer, as the native-format translators emit it. */
export function deltaChunk(
  id: string,
  created: number,
  model: string,
  delta: ChatDelta,
  finish: FinishReason | null = null,
): ChatStreamItem {
  return {
    chunk: {
      id,
      object: 'chat.completion.chunk',
      created,
      model,
      choices: [{ index: 0, delta, finish_reason: finish }],
    },
  }
}

/** The closing chunk that carries only the answer's usage (no choices), as OpenAI's `include_usage` sends it. */
export function usageChunk(id: string, created: number, model: string, usage: Usage): ChatStreamItem {
  return {
    chunk: { id, object: 'chat.completion.chunk', created, model, choices: [], usage },
    usage,
    usageOnly: true,
  }
}
