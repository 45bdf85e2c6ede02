import { StringDecoder } from 'node:string_decoder'
import { GatewayError } from '../core/errors.js'

export interface SseEvent {
  event: string | undefined
  data: string
}

/**
 * An incremental SSE parser: text goes in as it arrives, complete events come out. Handles CRLF,
 * multi-line data and comments.
 */
export class SseParser {
  private buffer = ''

  /** Adds text; returns the events it completed. */
  push(text: string): SseEvent[] {
    if (text.includes('\r')) text = text.replace(/\r\n?/g, '\n')
    this.buffer = this.buffer ? this.buffer + text : text
    const events: SseEvent[] = []
    let start = 0
    let end: number
    while ((end = this.buffer.indexOf('\n\n', start)) !== -1) {
      const event = parseBlock(this.buffer.slice(start, end))
      if (event) events.push(event)
      start = end + 2
    }
    this.buffer = start === 0 ? this.buffer : this.buffer.slice(start)
    return events
  }

  /** The last event, when the stream ended without a blank line after it. */
  finish(): SseEvent | undefined {
    const tail = this.buffer.trim()
    this.buffer = ''
    return tail ? parseBlock(tail) : undefined
  }
}

/** Reads a body as text, chunk by chunk, decoding UTF-8 across chunk boundaries. */
export async function* bodyText(body: AsyncIterable<Buffer | string>): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8')
  for await (const piece of body) yield typeof piece === 'string' ? piece : decoder.write(piece)
}

/**
 * Splits a server-sent-event byte stream into events, chunk by chunk, without buffering the whole
 * body. A body that errors mid-way (a dropped connection, an idle timeout) surfaces as
 * `upstream_stream_error`.
 */
export async function* parseSse(
  body: AsyncIterable<Buffer | string>,
  provider: string,
): AsyncGenerator<SseEvent> {
  const parser = new SseParser()
  try {
    for await (const text of bodyText(body)) yield* parser.push(text)
  } catch (err) {
    if (err instanceof GatewayError) throw err
    throw streamBroken(provider, err)
  }
  const last = parser.finish()
  if (last) yield last
}

function parseBlock(block: string): SseEvent | undefined {
  // Fast path: the common single `data:` line.
  if (block.startsWith('data:') && !block.includes('\n')) {
    return { event: undefined, data: block.charCodeAt(5) === 32 ? block.slice(6) : block.slice(5) }
  }
  let event: string | undefined
  let data: string | undefined
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'data') data = data === undefined ? value : data + '\n' + value
    else if (field === 'event') event = value
  }
  if (data === undefined) return undefined
  return { event, data }
}

export function streamBroken(provider: string, cause?: unknown): GatewayError {
  const detail = cause instanceof Error && cause.message ? `: ${cause.message}` : ''
  return new GatewayError('upstream_stream_error', `${provider} stream broke off${detail}`, {
    cause,
    retryable: true,
  })
}

export function malformedEvent(provider: string, data: string): GatewayError {
  const sample = data.length > 120 ? data.slice(0, 120) + '…' : data
  return new GatewayError('upstream_stream_error', `${provider} sent a malformed stream event: ${sample}`, {
    retryable: true,
  })
}

/** An event's data as a JSON object (or array); anything else (not JSON, `null`, a number) is a malformed event. */
export function eventJson<T extends object>(provider: string, data: string): T {
  let v: unknown
  try {
    v = JSON.parse(data)
  } catch {
    throw malformedEvent(provider, data)
  }
  if (v === null || typeof v !== 'object') throw malformedEvent(provider, data)
  return v as T
}
