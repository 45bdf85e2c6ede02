import { GatewayError } from '../core/errors.js'

export interface SseEvent {
  event: string | undefined
  data: string
}

/**
 * Splits a server-sent-event byte stream into events, chunk by chunk, without buffering the whole
 * body. Handles CRLF, multi-line data and comments. A body that errors mid-way (a dropped
 * connection, an idle timeout) surfaces as `upstream_stream_error`.
 */
export async function* parseSse(
  body: AsyncIterable<Buffer | string>,
  provider: string,
): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder()
  let buffer = ''
  try {
    for await (const piece of body) {
      let text = typeof piece === 'string' ? piece : decoder.decode(piece, { stream: true })
      if (text.includes('\r')) text = text.replace(/\r\n?/g, '\n')
      buffer += text
      let end: number
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const event = parseBlock(block)
        if (event) yield event
      }
    }
  } catch (err) {
    if (err instanceof GatewayError) throw err
    throw streamBroken(provider, err)
  }
  const tail = buffer.trim()
  if (tail) {
    const event = parseBlock(tail)
    if (event) yield event
  }
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
