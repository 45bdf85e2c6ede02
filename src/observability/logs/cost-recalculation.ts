import { randomUUID } from 'node:crypto'
import { setImmediate as yieldToRequests } from 'node:timers/promises'
import type { Pricing } from '../../core/pricing.js'
import type { Usage } from '../../core/schemas/index.js'
import type { LogFilters } from './filters.js'
import type { CostCursor, CostRow, LogStore } from './store.js'

/** Bifrost's job statuses (its sidekiq rows), and `idle` when no job is running. */
export type RecalculationStatus = 'pending' | 'running' | 'completed' | 'failed' | 'cancelled'

/** The status of a job, as Bifrost's `/api/logs/recalculate-cost` endpoints answer it. */
/** How far a job has gone: entries to do, done, given a new cost, and left as they were. */
interface RecalculationCounts {
  total: number
  processed: number
  updated: number
  skipped: number
}

const NO_COUNTS: RecalculationCounts = { total: 0, processed: 0, updated: 0, skipped: 0 }

export interface RecalculationView extends RecalculationCounts {
  id?: string
  status: RecalculationStatus | 'idle'
  /** Entries left to go (the older field of Bifrost's response). */
  remaining: number
  message?: string
  last_error?: string
  started_at?: string
  updated_at?: string
}

interface Job extends RecalculationCounts {
  id: string
  status: RecalculationStatus
  message?: string
  lastError?: string
  startedAt?: number
  updatedAt: number
  cancelled: boolean
}

export interface CostRecalculationDeps {
  store(): LogStore | undefined
  pricing: Pricing
  /** Entries read and written per transaction. */
  batchSize?: number
}

/** Finished jobs remembered for `?id=` lookups. */
const KEPT_JOBS = 20

/**
 * Recomputes stored entries' cost from their token usage with today's prices and pricing
 * overrides: one job at a time, in the background, in batches (the process keeps serving between
 * them), cancellable between batches. Jobs live in this process only.
 */
export class CostRecalculation {
  private readonly jobs = new Map<string, Job>()
  private current: Job | undefined

  constructor(private readonly deps: CostRecalculationDeps) {}

  /** Starts a job over the matching entries (at most `limit`), or returns the one running. */
  async start(filters: LogFilters, limit?: number): Promise<{ started: boolean; view: RecalculationView }> {
    if (this.current) return { started: false, view: view(this.current) }
    const store = this.deps.store()
    if (!store) throw new Error('no log store')
    const now = Date.now()
    const job: Job = {
      id: randomUUID(),
      status: 'pending',
      ...NO_COUNTS,
      updatedAt: now,
      cancelled: false,
    }
    this.current = job
    this.remember(job)
    try {
      const matching = await store.count(filters)
      job.total = limit === undefined ? matching : Math.min(matching, limit)
    } catch (err) {
      this.finish(job, 'failed', (err as Error).message)
      return { started: true, view: view(job) }
    }
    void this.run(job, store, filters)
    return { started: true, view: view(job) }
  }

  /** A job by id, the running one, or `idle`. */
  status(id?: string): RecalculationView | undefined {
    if (id !== undefined) {
      const job = this.jobs.get(id)
      return job && view(job)
    }
    return this.current ? view(this.current) : idle()
  }

  /** Stops a job (by id, or the running one) before its next batch; undefined when there is none to stop. */
  cancel(id?: string): RecalculationView | undefined {
    const job = id !== undefined ? this.jobs.get(id) : this.current
    if (!job) return undefined
    if (job.status === 'pending' || job.status === 'running') {
      job.cancelled = true
      this.finish(job, 'cancelled', 'cancelled by request')
    }
    return view(job)
  }

  private async run(job: Job, store: LogStore, filters: LogFilters): Promise<void> {
    const batchSize = this.deps.batchSize ?? 200
    let cursor: CostCursor | undefined
    job.status = 'running'
    job.startedAt = Date.now()
    try {
      while (!job.cancelled && job.processed < job.total) {
        // The HTTP server answers between batches, and a cancel lands there.
        await yieldToRequests()
        if (job.cancelled) break
        const rows = await store.costPage(filters, cursor, Math.min(batchSize, job.total - job.processed))
        if (rows.length === 0) break
        const updates: { id: string; ts: number; cost: number }[] = []
        for (const row of rows) {
          const cost = this.recompute(row)
          if (cost === undefined) job.skipped++
          else if (cost !== row.cost) updates.push({ id: row.id, ts: row.ts, cost })
        }
        await store.setCosts(updates)
        job.updated += updates.length
        job.processed += rows.length
        job.updatedAt = Date.now()
        const last = rows[rows.length - 1]
        cursor = { ts: last.ts, id: last.id }
      }
      if (!job.cancelled)
        this.finish(job, 'completed', `recalculated ${job.processed} log(s), ${job.updated} updated`)
    } catch (err) {
      if (!job.cancelled) this.finish(job, 'failed', undefined, (err as Error).message)
    }
  }

  /** The entry's cost today, or undefined when it has no usage or its model no price. */
  private recompute(row: CostRow): number | undefined {
    if (row.total_tokens <= 0 && row.prompt_tokens <= 0 && row.completion_tokens <= 0) return undefined
    const usage: Usage = {
      prompt_tokens: row.prompt_tokens,
      completion_tokens: row.completion_tokens,
      total_tokens: row.total_tokens,
      prompt_tokens_details: { cached_tokens: row.cached_tokens },
      completion_tokens_details: { reasoning_tokens: row.reasoning_tokens },
    }
    const of = { provider: row.provider, model: row.model, virtualKeyId: row.virtual_key_id }
    const result = this.deps.pricing.cost(of, usage)
    return result.priced ? result.cost : undefined
  }

  private finish(job: Job, status: RecalculationStatus, message?: string, lastError?: string): void {
    job.status = status
    job.message = message
    job.lastError = lastError
    job.updatedAt = Date.now()
    if (this.current === job) this.current = undefined
  }

  private remember(job: Job): void {
    this.jobs.set(job.id, job)
    for (const id of this.jobs.keys()) {
      if (this.jobs.size <= KEPT_JOBS) break
      if (this.jobs.get(id) !== this.current) this.jobs.delete(id)
    }
  }
}

function view({ message, lastError, startedAt, updatedAt, cancelled: _, ...shown }: Job): RecalculationView {
  return {
    ...shown,
    remaining: Math.max(0, shown.total - shown.processed),
    ...(message !== undefined && { message }),
    ...(lastError !== undefined && { last_error: lastError }),
    ...(startedAt !== undefined && { started_at: new Date(startedAt).toISOString() }),
    updated_at: new Date(updatedAt).toISOString(),
  }
}

function idle(): RecalculationView {
  return { status: 'idle', ...NO_COUNTS, remaining: 0 }
}
