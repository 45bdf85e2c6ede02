import type { ServerResponse } from 'node:http'
import type { FastifyReply } from 'fastify'

/**
 * Writes a server-sent-event response straight to the socket, event by event, waiting when the
 * client reads slower than the provider writes (back-pressure) instead of buffering.
 */
export class SseWriter {
  private readonly res: ServerResponse
  private closed = false
  private pending = ''
  private behind = false

  constructor(reply: FastifyReply, headers: Record<string, string>) {
    reply.hijack()
    this.res = reply.raw
    this.res.on('close', () => {
      this.closed = true
    })
    this.res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
      ...headers,
    })
  }

  get isClosed(): boolean {
    return this.closed || this.res.destroyed
  }

  /**
   * Writes one frame. Frames written in the same turn of the event loop (the events of one
   * upstream chunk) are joined and leave in one write to the socket. Returns false when the client
   * is behind: then `drain()` before writing more.
   */
  write(frame: string): boolean {
    if (this.isClosed) return true
    if (this.pending === '') process.nextTick(this.flush)
    this.pending += frame
    return !this.behind
  }

  private readonly flush = (): void => {
    const text = this.pending
    this.pending = ''
    if (text && !this.isClosed) this.behind = !this.res.write(text)
  }

  /** Resolves when the client has read what was written, or has gone. */
  drain(): Promise<void> {
    if (this.isClosed) return Promise.resolve()
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

  end(frame?: string): void {
    if (this.isClosed) return
    const text = this.pending + (frame ?? '')
    this.pending = ''
    if (text) this.res.end(text)
    else this.res.end()
  }
}
