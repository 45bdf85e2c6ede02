import { contentFieldLength } from '../../core/sse-content.js'
import type { ChatChunk } from '../../core/schemas/index.js'
import { GatewayError } from '../../core/errors.js'
import { bodyText, malformedEvent, SseParser, streamBroken, type SseEvent } from '../sse.js'
import type { ChatStreamItem } from '../../core/provider-adapter.js'

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

const BLANK_LINE = Buffer.from('\n\n')
/**
 * Whether an event needs parsing: `[DONE]`, a named event, an error, or one that carries usage.
 * Checked on a latin1 view of the bytes (one char per byte, so offsets are byte offsets), by
 * position where the format fixes it and by a search bounded to the event otherwise.
 */
function isSpecial(text: string, start: number, end: number, spaced: boolean): boolean {
  const c = text.charCodeAt(start)
  if (c !== 100 /* d */) return c === 101 /* e: event: */
  // `data: ` or `data:`, then the payload.
  const p = text.charCodeAt(start + 5) === 32 ? start + 6 : start + 5
  if (text.charCodeAt(p) === 91 /* [ */) return true
  if (text.startsWith('{"error"', p)) return true
  const event = text.slice(p, end)
  // Compact JSON (the usual) needs one search; a provider that writes `": ` gets both.
  return event.includes('"usage":{') || (spaced && event.includes('"usage": {'))
}

/**
 * The pass-through relay, for a caller that answers in OpenAI's format: bytes in, bytes out. Each
 * upstream chunk's complete events leave as one `frames` item, checked (every event a `data:`
 * JSON object) but neither decoded nor parsed. Only an event that carries usage, an error or
 * `[DONE]` takes the parsing path of `relayOpenAIStream`.
 */
export async function* relayOpenAIFrames(
  body: AsyncIterable<Buffer>,
  provider: string,
): AsyncGenerator<ChatStreamItem> {
  const state: FrameState = { envelope: -1, done: false }
  const it = body[Symbol.asyncIterator]()
  let carry: Buffer | undefined
  try {
    for (;;) {
      const next = await it.next()
      if (next.done) break
      const piece = next.value
      // Read on to the end even after [DONE], so that the upstream connection stays reusable.
      if (state.done) continue
      const pieceText = piece.toString('latin1')
      if (pieceText.indexOf('\r') !== -1) {
        // A provider that frames with CRLF: the event-by-event relay handles it.
        const rest: AsyncIterable<Buffer> = { [Symbol.asyncIterator]: () => it }
        yield* relayOpenAIStream(prepend(carry ? [carry, piece] : [piece], rest), provider)
        return
      }
      const buf = carry ? Buffer.concat([carry, piece]) : piece
      const text = carry ? buf.toString('latin1') : pieceText
      const end = text.lastIndexOf('\n\n')
      if (end === -1) {
        carry = buf
        continue
      }
      carry = end + 2 < buf.length ? buf.subarray(end + 2) : undefined
      for (const item of relayRegion(buf.subarray(0, end + 2), text, provider, state)) {
        if ('error' in item) throw item.error
        yield item
      }
    }
  } catch (err) {
    if (err instanceof GatewayError) throw err
    throw streamBroken(provider, err)
  }
  if (!state.done && carry && carry.toString('utf8').trim()) {
    const last = Buffer.concat([carry, BLANK_LINE])
    for (const item of relayRegion(last, last.toString('latin1'), provider, state)) {
      if ('error' in item) throw item.error
      yield item
    }
  }
  if (!state.done) throw streamBroken(provider, new Error('the stream ended before [DONE]'))
}

async function* prepend(first: Buffer[], rest: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  yield* first
  yield* rest
}

interface FrameState {
  /**
   * What an event costs besides its text: measured on the first event with text (the first event
   * of a stream names the role and is longer than the rest). -1 until then.
   */
  envelope: number
  done: boolean
}

/** The items of a region; a last `{ error }` entry means: throw it once the others are out. */
function relayRegion(
  region: Buffer,
  text: string,
  provider: string,
  state: FrameState,
): (ChatStreamItem | { error: GatewayError })[] {
  const spaced = text.includes('": ')
  const out: (ChatStreamItem | { error: GatewayError })[] = []
  let framesFrom = 0
  let content = 0
  let start = 0
  let end: number
  const flushFrames = (upTo: number) => {
    if (upTo > framesFrom) {
      out.push({
        frames: region.subarray(framesFrom, upTo),
        latin1: text.slice(framesFrom, upTo),
        contentChars: content,
      })
    }
    content = 0
  }
  while ((end = text.indexOf('\n\n', start)) !== -1 && end < region.length) {
    if (isSpecial(text, start, end, spaced)) {
      // A special event: the plain frames before it go out as they are, it is parsed.
      flushFrames(start)
      framesFrom = end + 2
      const text = region.toString('utf8', start, end + 2)
      for (const ev of new SseParser().push(text)) {
        if (ev.data === '[DONE]') {
          state.done = true
          return out
        }
        try {
          out.push(item(ev, provider))
        } catch (err) {
          out.push({ error: err as GatewayError })
          return out
        }
      }
    } else if (region[start] !== 58 /* : comment */) {
      // `data:` and a JSON object: `d` first, `}` last. The events before a broken one still go out.
      if (region[start] !== 100 || region[end - 1] !== 125) {
        flushFrames(start)
        out.push({ error: malformedEvent(provider, region.toString('utf8', start, end)) })
        return out
      }
      const size = end - start
      if (state.envelope >= 0) {
        if (size > state.envelope) content += size - state.envelope
      } else {
        const n = contentFieldLength(text, start, end)
        if (n > 0) {
          state.envelope = size - n
          content += n
        }
      }
    }
    start = end + 2
  }
  flushFrames(start)
  return out
}
