import type { GatewayContext } from './context.js'
import { readChunk } from './convert/stream-chunk.js'
import { asGatewayError, GatewayError } from './errors.js'
import { streamRewriter, type PluginSet, type StreamChunk } from './plugins.js'
import type { Usage } from './schemas/index.js'
import { contentChars } from './stream-content.js'
import type { ChatStreamItem, StreamResult } from './provider-adapter.js'

export interface OpenedStream<T> {
  result: StreamResult<T>
  first: IteratorResult<T>
  it: AsyncIterator<T>
}

/** A stream with its first item read: a failure before the first byte can still be retried. */
export async function openStream<T>(result: StreamResult<T>): Promise<OpenedStream<T>> {
  const it = result.items[Symbol.asyncIterator]()
  return { result, it, first: await it.next() }
}

/**
 * The items of an opened stream on their way to the client: usage read, each item through the
 * plugins' stream rewrites (reverse order) and observers; the upstream closed and `end` run once,
 * whether the stream finished, failed or the client stopped reading.
 */
export function relayStream<T extends { usage?: Usage }>(
  ctx: GatewayContext,
  plugins: PluginSet,
  opened: OpenedStream<T>,
  finish: () => Promise<void>,
): StreamResult<T> {
  const rewrite = streamRewriter(ctx, plugins.streamRewriters)
  const observers: ((item: unknown) => void)[] = []
  for (const plugin of plugins.list) {
    const observe = plugin.observeStream?.(ctx)
    if (observe) observers.push(observe)
  }
  const { it, first } = opened
  return {
    items: relay({ held: { ctx, it, first, rewrite, observers, finish } }),
    headers: opened.result.headers,
  }
}

/** What one relay reads: the request's context, the upstream's items, and the hooks on them. */
interface RelayInputs<T> {
  ctx: GatewayContext
  it: AsyncIterator<T>
  first: IteratorResult<T>
  rewrite: ReturnType<typeof streamRewriter>
  observers: ((item: unknown) => void)[]
  finish: () => Promise<void>
}

/**
 * `box.held` is moved into the generator's own variables as it starts: a finished generator drops
 * those, not its arguments, and something keeps the generator past the request until a full GC
 * (young collections kept the whole request's objects through it: ~15 KB promoted per stream).
 */
async function* relay<T extends { usage?: Usage }>(box: { held?: RelayInputs<T> }): AsyncGenerator<T> {
  const { ctx, it, first, rewrite, observers, finish } = box.held!
  box.held = undefined
  let finished = false
  // For unparsed OpenAI-format chunks: the size of a chunk with no content (the first one,
  // which only names the role), so that the rest of each chunk counts as content.
  const envelope = { bytes: -1 }
  // Only the waits for the next upstream item count as upstream time: the work on each item, and
  // the client's writes, are ours (a slow client's back-pressure is counted apart, by relaySse).
  try {
    let step = first
    while (!step.done) {
      const item = step.value
      if (item.usage) ctx.usage = item.usage
      else ctx.streamedChars += contentChars(item, envelope)
      const out = rewrite ? ((await rewrite(streamChunkOf(item))) as T | null) : item
      if (out !== null) {
        for (const observe of observers) observe(out)
        yield out
      }
      const waitedFrom = process.hrtime.bigint()
      step = await it.next()
      ctx.upstreamNs += process.hrtime.bigint() - waitedFrom
    }
    finished = true
  } catch (err) {
    ctx.error = ctx.signal.aborted
      ? new GatewayError('request_cancelled', 'the client went away', { retryable: false })
      : asGatewayError(err)
    throw ctx.error
  } finally {
    if (!finished && !ctx.error) {
      ctx.error = new GatewayError('request_cancelled', 'the client stopped reading the stream', {
        retryable: false,
      })
    }
    if (!finished) await it.return?.()
    ctx.ended = true
    await finish()
  }
}

/** A stream item as plugins see it: a chat chunk parsed from the upstream text, never raw frames. */
function streamChunkOf(item: { usage?: Usage }): StreamChunk {
  const chat = item as ChatStreamItem
  if (chat.chunk || chat.data === undefined) return { ...item }
  return { ...item, chunk: readChunk(chat), data: undefined, latin1: undefined }
}
