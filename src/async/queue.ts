import { Queue, Worker, type Job } from 'bullmq'
import { Redis } from 'ioredis'

/** Where jobs wait until a worker runs them: in this process, or in BullMQ on the cluster's Redis. */
export interface JobQueue {
  readonly kind: 'in-process' | 'bullmq'
  add(jobId: string): Promise<void>
  /** Starts running jobs (and, in process, takes up the ones a previous run left). */
  start(run: (jobId: string) => Promise<void>): Promise<void>
  /**
   * Stops taking jobs and lets running ones finish for up to `graceMs`; what is still running then
   * is left to the queue (BullMQ: another node takes it once its lock expires).
   */
  close(graceMs: number): Promise<void>
}

/**
 * One node with SQLite: jobs are persisted in the config store, held here by id and run with a
 * concurrency limit. Jobs not finished when the process stops are taken up at the next start.
 */
export class InProcessJobQueue implements JobQueue {
  readonly kind = 'in-process'
  private readonly waiting: string[] = []
  private readonly running = new Map<string, Promise<void>>()
  private run?: (jobId: string) => Promise<void>
  private closed = false

  constructor(
    private readonly concurrency: number,
    private readonly unfinished: () => Promise<string[]>,
    private readonly onError: (err: Error, jobId: string) => void,
  ) {}

  async add(jobId: string): Promise<void> {
    if (this.closed) return
    this.waiting.push(jobId)
    this.pump()
  }

  async start(run: (jobId: string) => Promise<void>): Promise<void> {
    this.run = run
    for (const id of await this.unfinished()) if (!this.waiting.includes(id)) this.waiting.push(id)
    this.pump()
  }

  private pump(): void {
    while (this.run && !this.closed && this.running.size < this.concurrency && this.waiting.length > 0) {
      const id = this.waiting.shift()!
      if (this.running.has(id)) continue
      const p = this.run(id)
        .catch((err: unknown) => this.onError(err as Error, id))
        .finally(() => {
          this.running.delete(id)
          this.pump()
        })
      this.running.set(id, p)
    }
  }

  async close(graceMs: number): Promise<void> {
    this.closed = true
    this.waiting.length = 0
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      Promise.allSettled([...this.running.values()]),
      new Promise((r) => (timer = setTimeout(r, graceMs))),
    ])
    clearTimeout(timer)
  }
}

export interface BullJobQueueOptions {
  redisUrl: string
  /** BullMQ's key prefix: nodes of one deployment share it; tests use one each. */
  prefix: string
  name: string
  concurrency: number
  /** How long a job stays locked to a node that stopped renewing it (a dead node) before another takes it. */
  lockDurationMs: number
  onError: (err: Error, jobId: string) => void
}

/**
 * Several nodes: jobs go through BullMQ on the cluster's Redis, so that any node accepts a job and
 * any node runs it. A node that dies mid-job stops renewing its lock; BullMQ's stalled-job check on
 * another node puts the job back, and it runs there.
 */
export class BullJobQueue implements JobQueue {
  readonly kind = 'bullmq'
  private readonly queue: Queue
  private worker?: Worker
  private running = 0
  private readonly connections: Redis[] = []

  constructor(private readonly opts: BullJobQueueOptions) {
    this.queue = new Queue(opts.name, { connection: this.connection(), prefix: opts.prefix })
  }

  private connection(): Redis {
    const c = new Redis(this.opts.redisUrl, { maxRetriesPerRequest: null, lazyConnect: false })
    c.on('error', () => undefined)
    this.connections.push(c)
    return c
  }

  async add(jobId: string): Promise<void> {
    await this.queue.add('run', { jobId }, { jobId, removeOnComplete: true, removeOnFail: 1000, attempts: 1 })
  }

  async start(run: (jobId: string) => Promise<void>): Promise<void> {
    this.worker = new Worker(
      this.opts.name,
      async (job: Job<{ jobId: string }>) => {
        this.running++
        try {
          await run(job.data.jobId)
        } finally {
          this.running--
        }
      },
      {
        connection: this.connection(),
        prefix: this.opts.prefix,
        concurrency: this.opts.concurrency,
        lockDuration: this.opts.lockDurationMs,
        stalledInterval: Math.max(1000, Math.floor(this.opts.lockDurationMs / 2)),
        // A job whose node died is run again once; a second death leaves it failed.
        maxStalledCount: 2,
      },
    )
    this.worker.on('failed', (job, err) => job && this.opts.onError(err, job.data.jobId))
    this.worker.on('error', () => undefined)
  }

  async close(graceMs: number): Promise<void> {
    const worker = this.worker
    // With nothing running there is nothing to wait for (and a Redis that is down must not hold the shutdown).
    if (worker && this.running === 0) await bounded(worker.close(true), 1000)
    else if (worker) {
      const finished = await bounded(worker.close(), graceMs)
      // Still running: the jobs stay active in Redis, unlocked once their lock expires, for another node.
      if (!finished) await bounded(worker.close(true), 1000)
    }
    await bounded(this.queue.close(), 1000)
    for (const c of this.connections) c.disconnect()
  }
}

/** Waits for `work` at most `ms`; answers whether it settled in time (its failure counts as settled). */
async function bounded(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const settled = await Promise.race([
    work.then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms))),
  ])
  clearTimeout(timer)
  return settled
}
