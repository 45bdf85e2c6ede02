import { contentFieldLength } from './sse-content.js'

/**
 * Characters of generated content in one stream item (chat, text-completion or Responses shape),
 * used only to estimate usage when a stream ends without the provider's figures. A chunk relayed
 * unparsed counts its size beyond the envelope of the first chunk that had text.
 */
export function contentChars(item: unknown, envelope: { bytes: number }): number {
  const {
    chunk,
    event,
    data,
    contentChars: known,
  } = item as {
    chunk?: { choices?: unknown[] }
    event?: { delta?: unknown }
    data?: string
    contentChars?: number
  }
  if (known !== undefined) return known
  if (event) return typeof event.delta === 'string' ? event.delta.length : 0
  if (!chunk && data !== undefined) {
    if (envelope.bytes >= 0) return Math.max(0, data.length - envelope.bytes)
    // The first chunk with text shows what a chunk costs besides its text (the role chunk is longer).
    const n = contentFieldLength(data)
    if (n > 0) envelope.bytes = data.length - n
    return Math.max(0, n)
  }
  let n = 0
  for (const c of chunk?.choices ?? []) {
    const { delta, text } = c as {
      delta?: { content?: unknown; reasoning?: unknown; tool_calls?: unknown[] }
      text?: unknown
    }
    if (typeof text === 'string') n += text.length
    if (!delta) continue
    if (typeof delta.content === 'string') n += delta.content.length
    if (typeof delta.reasoning === 'string') n += delta.reasoning.length
    for (const t of delta.tool_calls ?? []) {
      const args = (t as { function?: { arguments?: unknown } }).function?.arguments
      if (typeof args === 'string') n += args.length
    }
  }
  return n
}
