import type { ChatChunk, ChatChunkChoice, ChatDelta, Usage } from '../../core/schemas/index.js'
import { eventJson, malformedEvent, parseSse, streamBroken } from '../sse.js'
import type { ChatStreamItem } from '../../core/provider-adapter.js'
import { isRecord } from './request.js'
import {
  newResponseId,
  readParts,
  toFinishReason,
  toUsage,
  type CandidateState,
  type GeminiResponse,
} from './response.js'

interface StreamedCandidate extends CandidateState {
  started: boolean
  finished: boolean
}

/**
 * Translates streamGenerateContent (`alt=sse`) frame by frame into chat completion chunks. Gemini
 * sends no [DONE]: the frame with finishReason ends a candidate, and usageMetadata rides on the
 * frames (the last one is final). Each function call arrives whole, so it leaves as one tool-call
 * delta with its full arguments. A stream that ends before every candidate finished was cut.
 */
export async function* translateGeminiStream(
  body: AsyncIterable<Buffer>,
  provider: string,
  model: string,
): AsyncGenerator<ChatStreamItem> {
  const created = Math.floor(Date.now() / 1000)
  let id: string | undefined
  let modelName = model
  let usage: Usage | undefined
  let blocked = false
  const candidates = new Map<number, StreamedCandidate>()
  const chunk = (choices: ChatChunkChoice[]): ChatChunk => ({
    id: id ?? '',
    object: 'chat.completion.chunk',
    created,
    model: modelName,
    choices,
  })
  const opening = (index: number): ChatStreamItem => ({
    chunk: chunk([{ index, delta: { role: 'assistant', content: '' }, finish_reason: null }]),
  })

  for await (const ev of parseSse(body, provider)) {
    const frame = eventJson<GeminiResponse>(provider, ev.data)
    if (Array.isArray(frame)) throw malformedEvent(provider, ev.data)
    if (frame.error !== undefined) {
      const e = frame.error
      throw streamBroken(
        provider,
        new Error(isRecord(e) && typeof e.message === 'string' ? e.message : 'error frame'),
      )
    }
    if (id === undefined) {
      id = frame.responseId || newResponseId()
      modelName = frame.modelVersion || model
    }
    if (frame.usageMetadata) usage = toUsage(frame.usageMetadata)

    const frameCandidates = frame.candidates ?? []
    if (!frameCandidates.length && frame.promptFeedback?.blockReason) {
      // The prompt was blocked: one empty, filtered answer.
      blocked = true
      yield opening(0)
      yield { chunk: chunk([{ index: 0, delta: {}, finish_reason: 'content_filter' }]) }
      continue
    }
    for (const [i, c] of frameCandidates.entries()) {
      const index = c.index ?? i
      let state = candidates.get(index)
      if (!state) {
        state = { toolCalls: 0, reasoningParts: 0, started: false, finished: false }
        candidates.set(index, state)
      }
      if (!state.started) {
        state.started = true
        // Gemini may report the prompt's tokens on its first frame already.
        const prompt = frame.usageMetadata?.promptTokenCount !== undefined ? usage : undefined
        yield prompt
          ? {
              ...opening(index),
              promptUsage: {
                prompt_tokens: prompt.prompt_tokens,
                completion_tokens: 0,
                total_tokens: prompt.prompt_tokens,
                prompt_tokens_details: prompt.prompt_tokens_details,
              },
            }
          : opening(index)
      }
      const read = readParts(c.content?.parts, state)
      const delta: ChatDelta = {}
      if (read.reasoning !== undefined) delta.reasoning = read.reasoning
      if (read.reasoningDetails.length) delta.reasoning_details = read.reasoningDetails
      if (read.text !== undefined) delta.content = read.text
      if (read.toolCalls.length) {
        delta.tool_calls = read.toolCalls.map(({ index: k, call }) => ({
          index: k,
          id: call.id,
          type: 'function' as const,
          function: { name: call.function.name, arguments: call.function.arguments },
          ...(call.extra_content && { extra_content: call.extra_content }),
        }))
      }
      if (Object.keys(delta).length) yield { chunk: chunk([{ index, delta, finish_reason: null }]) }
      if (c.finishReason && !state.finished) {
        state.finished = true
        yield {
          chunk: chunk([
            { index, delta: {}, finish_reason: toFinishReason(c.finishReason, state.toolCalls > 0) },
          ]),
        }
      }
    }
  }

  const unfinished = candidates.size === 0 ? !blocked : [...candidates.values()].some((c) => !c.finished)
  if (unfinished) throw streamBroken(provider, new Error('the stream ended without a finishReason'))
  if (usage) yield { chunk: { ...chunk([]), usage }, usage, usageOnly: true }
}
