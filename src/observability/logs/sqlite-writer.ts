import type { Worker } from 'node:worker_threads'
import { startModuleWorker } from '../../core/module-worker.js'
import type { FromWriter, ToWriter, WriterSetup, WriterStatement } from './sqlite-writer-thread.js'

/**
 * Writes request-log rows to a SQLite file from a worker thread (sqlite-writer-thread.ts). The
 * gateway posts each batch as arrays of values and gets a promise that settles when the batch is
 * committed; reads stay on the gateway's own connection (WAL mode lets them run beside the writer).
 */
export class SqliteLogWriter {
  private readonly worker: Worker
  private readonly pending = new Map<number, { resolve(changes: number): void; reject(err: Error): void }>()
  private nextId = 1
  private closing: Promise<void> | undefined
  /** Why the thread stopped when it was not asked to: later batches are refused with it. */
  private failure: Error | undefined

  constructor(setup: WriterSetup) {
    this.worker = startModuleWorker(import.meta.url, './sqlite-writer-thread', { workerData: setup })
    this.worker.unref()
    this.worker.on('message', (message: FromWriter) => {
      if (message.type !== 'written') return
      const waiting = this.pending.get(message.id)
      this.pending.delete(message.id)
      // Written batches keep the process alive until they are committed, and no longer.
      if (this.pending.size === 0) this.worker.unref()
      if (message.error === undefined) waiting?.resolve(message.changes ?? 0)
      else waiting?.reject(new Error(message.error))
    })
    this.worker.on('error', (err) => this.fail(err))
    this.worker.on('exit', (code) =>
      this.fail(new Error(`the log writer thread stopped (exit code ${code})`)),
    )
  }

  /** Whether the thread still takes batches; when not, the store writes on the gateway's own thread. */
  get running(): boolean {
    return this.failure === undefined && this.closing === undefined
  }

  /** Inserts rows (values in column order); resolves when they are committed. */
  async write(rows: unknown[][]): Promise<void> {
    await this.post((id) => ({ type: 'rows', id, rows }))
  }

  /**
   * Runs statements in one transaction, after every batch posted before; resolves with the
   * number of rows they changed.
   */
  run(statements: WriterStatement[]): Promise<number> {
    return this.post((id) => ({ type: 'run', id, statements }))
  }

  private post(message: (id: number) => ToWriter): Promise<number> {
    if (this.failure) return Promise.reject(this.failure)
    const id = this.nextId++
    return new Promise<number>((resolve, reject) => {
      this.pending.set(id, { resolve, reject })
      this.worker.ref()
      this.worker.postMessage(message(id))
    })
  }

  /** Waits for every batch posted, then closes the thread's connection and ends the thread. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      if (this.failure) return resolve()
      this.worker.ref()
      this.worker.on('message', (message: FromWriter) => {
        if (message.type === 'closed') resolve()
      })
      this.worker.once('exit', () => resolve())
      // Messages are handled in order: every batch posted before is written first.
      this.worker.postMessage({ type: 'close' } satisfies ToWriter)
    }).then(() => this.worker.terminate().then(() => undefined))
    return this.closing
  }

  private fail(err: Error): void {
    this.failure ??= err
    for (const waiting of this.pending.values()) waiting.reject(this.failure)
    this.pending.clear()
  }
}
