import { onAbort, type CancelSignal } from '../cancel.js'
import { GatewayError } from '../errors.js'

/**
 * A provider's concurrency limit with a bounded queue (Bifrost's concurrency_and_buffer_size).
 * When the queue is full the request waits for a slot, or fails at once with 503 when
 * `drop_excess_requests` is on.
 */
export class ConcurrencyLimiter {
  private active = 0
  private waiting: { resolve: () => void; reject: (e: unknown) => void; stop: () => void }[] = []

  constructor(
    private concurrency: number,
    private bufferSize: number,
    private dropExcess: () => boolean,
  ) {}

  resize(concurrency: number, bufferSize: number): void {
    this.concurrency = concurrency
    this.bufferSize = bufferSize
    this.drain()
  }

  get inFlight(): number {
    return this.active
  }

  get queued(): number {
    return this.waiting.length
  }

  /** Resolves with a release function once a slot is free. */
  acquire(signal: CancelSignal, provider: string): Promise<() => void> | (() => void) {
    if (this.active < this.concurrency) {
      this.active++
      return this.releaser()
    }
    if (this.waiting.length >= this.bufferSize && this.dropExcess()) {
      throw new GatewayError('queue_full', `${provider} is at its concurrency limit and its queue is full`, {
        retryable: true,
      })
    }
    return new Promise((resolve, reject) => {
      const entry = {
        resolve: () => resolve(this.releaser()),
        reject,
        stop: () => {},
      }
      entry.stop = onAbort(signal, () => {
        const i = this.waiting.indexOf(entry)
        if (i !== -1) this.waiting.splice(i, 1)
        reject(signal.reason)
      })
      this.waiting.push(entry)
    })
  }

  private releaser(): () => void {
    let released = false
    return () => {
      if (released) return
      released = true
      this.active--
      this.drain()
    }
  }

  private drain(): void {
    while (this.active < this.concurrency && this.waiting.length > 0) {
      const next = this.waiting.shift()!
      next.stop()
      this.active++
      next.resolve()
    }
  }
}
