import type { ChatChunk } from '../../core/schemas/index.js'
import { GatewayError } from '../../core/errors.js'
import { bodyText, malformedEvent, SseParser, streamBroken, type SseEvent } from '../sse.js'
import type { ChatStreamItem } from '../types.js'

/**
 * Relays an OpenAI-format SSE stream event by event, its text unchanged. Only an event that
 * carries usage or an error is parsed; the others get a structural check, so that the common case
 * costs no JSON parse. A stream that ends without `[DONE]` was cut.
 */
export async function* relayOpenAIStream(
  body: AsyncIterable<Buffer>,
  provider: string,
): AsyncGenerator<ChatStreamItem> {
  const parser = new SseParser()
  let done = false
  try {
    for await (const text of bodyText(body)) {
      // Read on to the end of the body even after [DONE]: a body abandoned half-read is
      // destroyed, and its keep-alive connection to the provider with it.
      if (done) continue
      for (const ev of parser.push(text)) {
        if (ev.data === '[DONE]') {
          done = true
          break
        }
        yield item(ev, provider)
      }
    }
  } catch (err) {
    if (err instanceof GatewayError) throw err
    throw streamBroken(provider, err)
  }
  const last = parser.finish()
  if (!done && last?.data === '[DONE]') done = true
  else if (!done && last) yield item(last, provider)
  if (!done) throw streamBroken(provider, new Error('the stream ended before [DONE]'))
}

function item(ev: SseEvent, provider: string): ChatStreamItem {
  const data = ev.data
  const needsParse =
    ev.event === 'error' ||
    data.includes('"usage":{') ||
    data.includes('"usage": {') ||
    data.startsWith('{"error"')
  if (!needsParse) {
    if (data.charCodeAt(0) !== 123 /* { */ || data.charCodeAt(data.length - 1) !== 125 /* } */) {
      throw malformedEvent(provider, data)
    }
    return { data }
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
  if (!usage) return { data, chunk }
  return { data, chunk, usage, usageOnly: Array.isArray(chunk.choices) && chunk.choices.length === 0 }
}
