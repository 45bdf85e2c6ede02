import type { ServerResponse } from 'node:http'
import type { FastifyReply } from 'fastify'
import { asGatewayError, type GatewayError } from '../core/errors.js'
import type { GatewayContext } from '../core/context.js'

/**
 * Writes a server-sent-event response straight to the socket, event by event, waiting when the
 * client reads slower than the provider writes (back-pressure) instead of buffering.
 */
export class SseWriter {
  private readonly res: ServerResponse
  private closed = false
  private pending: (string | Buffer)[] = []
  private behind = false
  /** Re-armed at each write: fires after `client.stream_keepalive_seconds` of silence. */
  private keepAlive: NodeJS.Timeout | undefined

  constructor(reply: FastifyReply, headers: Record<string, string>) {
    reply.hijack()
    this.res = reply.raw
    this.res.on('close', () => {
      this.closed = true
      clearTimeout(this.keepAlive)
      this.keepAlive = undefined
    })
    const all = {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
      ...headers,
    }
    this.res.writeHead(200, all)
    const keepAliveMs = (reply.server as { sseKeepAliveMs?: () => number }).sseKeepAliveMs?.() ?? 0
    // Comments are SSE's own; other event streams (Bedrock's binary frames) get none.
    if (keepAliveMs > 0 && all['content-type'].startsWith('text/event-stream')) {
      this.keepAlive = setTimeout(this.ping, keepAliveMs)
      this.keepAlive.unref()
    }
  }

  private readonly ping = (): void => {
    if (this.isClosed) return
    if (this.pending.length === 0 && !this.behind) this.behind = !this.res.write(': keep-alive\n\n')
    this.keepAlive?.refresh()
  }

  get isClosed(): boolean {
    return this.closed || this.res.destroyed
  }

  /**
   * Writes one frame (text, or bytes already framed). Frames written in the same turn of the event
   * loop (the events of one upstream read) leave in one write to the socket, after the I/O of that
   * turn: when the upstream's end came in the same read, the stream's last frames and its end leave
   * together (one write instead of two). Returns false when the client is behind: then `drain()`
   * before writing more.
   */
  write(frame: string | Buffer): boolean {
    if (this.isClosed) return true
    if (this.pending.length === 0) setImmediate(this.flush)
    this.pending.push(frame)
    return !this.behind
  }

  private take(): string | Buffer | undefined {
    const p = this.pending
    if (p.length === 0) return undefined
    this.pending = []
    if (p.length === 1) return p[0]
    return p.every((f) => typeof f === 'string')
      ? p.join('')
      : Buffer.concat(p.map((f) => (typeof f === 'string' ? Buffer.from(f) : f)))
  }

  private readonly flush = (): void => {
    // end() may have taken the frames already.
    if (this.res.writableEnded) return
    const chunk = this.take()
    if (chunk !== undefined && !this.isClosed) this.behind = !this.res.write(chunk)
    this.keepAlive?.refresh()
  }

  /** Resolves when the client has read what was written, or has gone. */
  drain(): Promise<void> {
    // The socket may have drained already, between the write that filled it and this call.
    if (!this.res.writableNeedDrain) this.behind = false
    if (this.isClosed || !this.behind) return Promise.resolve()
    return new Promise<void>((resolve) => {
      const done = () => {
        this.res.off('drain', done)
        this.res.off('close', done)
        this.behind = false
        resolve()
      }
      this.res.on('drain', done)
      this.res.on('close', done)
    })
  }

  end(frame?: string | Buffer): void {
    clearTimeout(this.keepAlive)
    this.keepAlive = undefined
    if (this.isClosed) return
    if (frame) this.pending.push(frame)
    const chunk = this.take()
    if (chunk !== undefined) this.res.end(chunk)
    else this.res.end()
  }
}

/** How one stream is relayed by `relaySse`. */
export interface SseRelay<T> {
  /** Written before the first item (a preamble the format opens with). */
  opening?: string
  /** The frames of one item: one frame, several, or none (undefined) to skip it. */
  frames(item: T): string | Buffer | readonly (string | Buffer)[] | undefined
  /** What follows the last item (`data: [DONE]` ...), if anything. */
  closing?(): string | undefined
  /** The frame that ends a stream failing after its first byte (its status is sent by then). */
  failure(err: GatewayError): string | Buffer
}

/**
 * The one write/drain loop: relays a stream's items as frames with back-pressure, stops reading
 * when the client goes, and ends with the closing frame, or with the failure's frame.
 */
export async function relaySse<T>(
  reply: FastifyReply,
  ctx: Pick<GatewayContext, 'clientWaitNs'>,
  headers: Record<string, string>,
  items: AsyncIterable<T>,
  relay: SseRelay<T>,
): Promise<void> {
  const out = new SseWriter(reply, headers)
  // A slow client's back-pressure is its own time, not the gateway's overhead.
  const drain = async (): Promise<void> => {
    const t0 = process.hrtime.bigint()
    await out.drain()
    ctx.clientWaitNs += process.hrtime.bigint() - t0
  }
  try {
    if (relay.opening !== undefined && !out.write(relay.opening)) await drain()
    for await (const item of items) {
      const frames = relay.frames(item)
      if (frames === undefined) continue
      if (typeof frames === 'string' || Buffer.isBuffer(frames)) {
        if (!out.write(frames)) await drain()
      } else for (const frame of frames) if (!out.write(frame)) await drain()
      if (out.isClosed) break
    }
    out.end(relay.closing?.())
  } catch (err) {
    out.end(relay.failure(asGatewayError(err)))
  }
}
