import { EventStreamCodec, type Message, type MessageHeaders } from '@smithy/eventstream-codec'
import { fromUtf8, toUtf8 } from '@smithy/util-utf8'

const codec = new EventStreamCodec(toUtf8, fromUtf8)

/** One decoded message of an AWS event stream: its `:message-type`, event or exception name, and JSON payload. */
export interface EventStreamMessage {
  messageType: string
  /** `:event-type` for events, `:exception-type` for exceptions. */
  name: string
  payload: Uint8Array
}

function header(headers: MessageHeaders, name: string): string {
  const h = headers[name]
  return h && h.type === 'string' ? h.value : ''
}

/**
 * Splits a byte stream into AWS event-stream messages (each prefixed by its total length) and
 * decodes each with the Smithy codec, which checks both CRCs. Nothing is buffered beyond one message.
 */
export async function* decodeEventStream(
  body: AsyncIterable<Uint8Array>,
): AsyncGenerator<EventStreamMessage> {
  let buf = Buffer.alloc(0)
  for await (const part of body) {
    buf = buf.length ? Buffer.concat([buf, part]) : Buffer.from(part)
    while (buf.length >= 4) {
      const total = buf.readUInt32BE(0)
      if (total < 16) throw new Error(`malformed event-stream message of ${total} bytes`)
      if (buf.length < total) break
      const message: Message = codec.decode(buf.subarray(0, total))
      buf = buf.subarray(total)
      const messageType = header(message.headers, ':message-type')
      yield {
        messageType,
        name: header(message.headers, messageType === 'event' ? ':event-type' : ':exception-type'),
        payload: message.body,
      }
    }
  }
  if (buf.length) throw new Error('the event stream ended in the middle of a message')
}

/** One event-stream message carrying an event (`messageStart`, `chunk` ...) with a JSON payload. */
export function encodeEvent(eventType: string, payload: unknown): Uint8Array {
  return codec.encode({
    headers: {
      ':event-type': { type: 'string', value: eventType },
      ':content-type': { type: 'string', value: 'application/json' },
      ':message-type': { type: 'string', value: 'event' },
    },
    body: fromUtf8(JSON.stringify(payload)),
  })
}

/** One event-stream message carrying a modelled exception (`throttlingException` ...) with `{message}`. */
export function encodeException(exceptionType: string, message: string): Uint8Array {
  return codec.encode({
    headers: {
      ':exception-type': { type: 'string', value: exceptionType },
      ':content-type': { type: 'string', value: 'application/json' },
      ':message-type': { type: 'string', value: 'exception' },
    },
    body: fromUtf8(JSON.stringify({ message })),
  })
}
