import type { ChatChunk } from '../../core/schemas/index.js'
import { malformedEvent, parseSse, streamBroken } from '../sse.js'
import type { ChatStreamItem } from '../types.js'

/**
 * Relays an OpenAI-format SSE stream event by event. Each event is parsed (to check it and read
 * usage) but its text is passed on unchanged. A stream that ends without `[DONE]` was cut.
 */
export async function* relayOpenAIStream(
  body: AsyncIterable<Buffer>,
  provider: string,
): AsyncGenerator<ChatStreamItem> {
  let done = false
  for await (const ev of parseSse(body, provider)) {
    const data = ev.data
    // Read on to the end of the body rather than leaving the loop: a body abandoned half-read
    // is destroyed, and its keep-alive connection to the provider with it.
    if (done) continue
    if (data === '[DONE]') {
      done = true
      continue
    }
    let chunk: ChatChunk & { error?: { message?: string } | string }
    try {
      chunk = JSON.parse(data) as typeof chunk
    } catch {
      throw malformedEvent(provider, data)
    }
    if (chunk === null || typeof chunk !== 'object') throw malformedEvent(provider, data)
    if (ev.event === 'error' || chunk.error !== undefined) {
      const e = chunk.error
      throw streamBroken(provider, new Error(typeof e === 'string' ? e : (e?.message ?? 'error event')))
    }
    const usage = chunk.usage ?? undefined
    if (usage) {
      yield { data, chunk, usage, usageOnly: Array.isArray(chunk.choices) && chunk.choices.length === 0 }
    } else {
      yield { data, chunk }
    }
  }
  if (!done) throw streamBroken(provider, new Error('the stream ended before [DONE]'))
}
