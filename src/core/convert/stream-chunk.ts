import { GatewayError } from '../errors.js'
import type { ChatChunk } from '../schemas/index.js'
import type { ChatStreamItem } from '../provider-adapter.js'

/** The chunk object of a stream item; OpenAI-format providers pass only its JSON text. */
export function readChunk(item: ChatStreamItem): ChatChunk | undefined {
  if (item.chunk) return item.chunk
  if (item.data === undefined) return undefined
  let value: unknown
  try {
    value = JSON.parse(item.data)
  } catch {
    value = undefined
  }
  if (typeof value !== 'object' || value === null) {
    const sample = item.data.length > 120 ? item.data.slice(0, 120) + '…' : item.data
    throw new GatewayError('upstream_stream_error', `the provider sent a malformed stream chunk: ${sample}`, {
      retryable: true,
    })
  }
  return value as ChatChunk
}
