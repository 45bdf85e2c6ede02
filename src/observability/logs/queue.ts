import { finalise, type PendingLog } from './entry.js'
import type { LogRow } from './record.js'

export interface LogQueueOptions<P = PendingLog, R = LogRow> {
  /** Most entries waiting; beyond, new entries are dropped and counted. */
  maxSize: number
  /** Most entries written in one statement. */
  batchSize: number
  /** How long an entry may wait for a batch to fill. */
  flushIntervalMs: number
  write(rows: R[]): Promise<void>
  onWriteError(err: unknown, rows: number): void
  /** Turns a queued item into the row written, off the request path; request logs by default. */
  serialize?: (item: P) => R
}

/**
 * Most entries turned into rows (their bodies redacted) in one turn of the event loop: a whole
 * batch at once would hold up the requests in flight for milliseconds.
 */
const ROWS_PER_TURN = 50

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

/**
 * A bounded queue of finished requests, written in batches by one writer at a time. Adding never
 * waits and never throws: a full queue (a slow or broken database) drops the entry and counts it.
 */
export class LogQueue<P = PendingLog, R = LogRow> {
  private items: P[] = []
  private timer: NodeJS.Timeout | undefined
  private writing: Promise<void> | undefined
  dropped = 0
  written = 0
  failed = 0

  private serialize: (item: P) => R

  constructor(private opts: LogQueueOptions<P, R>) {
    this.serialize = opts.serialize ?? (finalise as unknown as (item: P) => R)
  }

  get depth(): number {
    return this.items.length
  }

  push(entry: P): boolean {
    if (this.items.length >= this.opts.maxSize) {
      this.dropped++
      return false
    }
    this.items.push(entry)
    if (this.items.length >= this.opts.batchSize) this.kick()
    else this.timer ??= setTimeout(() => this.kick(), this.opts.flushIntervalMs).unref()
    return true
  }

  private kick(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    if (this.writing) return
    this.writing = this.drain().finally(() => {
      this.writing = undefined
      if (this.items.length > 0)
        this.timer ??= setTimeout(() => this.kick(), this.opts.flushIntervalMs).unref()
    })
  }

  private async drain(): Promise<void> {
    while (this.items.length > 0) {
      // Entries stay counted in the queue's depth while they are written.
      const batch = this.items.slice(0, this.opts.batchSize)
      const rows: R[] = []
      for (let i = 0; i < batch.length; i++) {
        if (i > 0 && i % ROWS_PER_TURN === 0) await nextTurn()
        rows.push(this.serialize(batch[i]))
      }
      try {
        await this.opts.write(rows)
        this.written += rows.length
      } catch (err) {
        this.failed += rows.length
        this.opts.onWriteError(err, rows.length)
      }
      this.items.splice(0, batch.length)
    }
  }

  /** Writes everything queued; resolves when the queue is empty. */
  async flush(): Promise<void> {
    while (this.items.length > 0 || this.writing) {
      if (!this.writing) this.kick()
      await this.writing
    }
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
  }
}
