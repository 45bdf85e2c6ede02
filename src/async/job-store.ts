import type { Kysely } from 'kysely'
import type { AsyncJobsTable, AsyncJobStatus } from '../store/index.js'

export type { AsyncJobStatus } from '../store/index.js'

/** What a job replays: the synchronous route's body and the caller's headers (see replayHeaders). */
export interface JobRequest {
  body: unknown
  headers: Record<string, string>
  /** A multipart upload (audio, images): its bytes in base64, replayed as sent with its content-type. */
  raw?: string
}

export type AsyncJobRow = AsyncJobsTable

type Db = Kysely<{ async_jobs: AsyncJobsTable }>

/**
 * The async jobs in the config store: SQLite on one node, the shared PostgreSQL on several, so
 * that any node answers a poll. Every change of status is conditional, so that two nodes that
 * both ran a job (one thought dead, then back) record one outcome, the first.
 */
export class AsyncJobStore {
  private readonly db: Db

  constructor(db: Kysely<unknown>) {
    this.db = db as unknown as Db
  }

  async insert(row: AsyncJobRow): Promise<void> {
    await this.db.insertInto('async_jobs').values(row).execute()
  }

  async get(id: string): Promise<AsyncJobRow | undefined> {
    return this.db.selectFrom('async_jobs').selectAll().where('id', '=', id).executeTakeFirst()
  }

  /** Marks a job as running, unless it already has its outcome; answers whether it should run. */
  async start(id: string, now: Date): Promise<AsyncJobRow | undefined> {
    const res = await this.db
      .updateTable('async_jobs')
      .set((eb) => ({
        status: 'processing',
        started_at: now.toISOString(),
        attempts: eb('attempts', '+', 1),
      }))
      .where('id', '=', id)
      .where('status', 'in', ['pending', 'processing'])
      .executeTakeFirst()
    if (Number(res.numUpdatedRows) === 0) return undefined
    return this.get(id)
  }

  /** Records a job's outcome once: answers false when another run recorded it first. */
  async finish(
    id: string,
    outcome: { status: 'completed' | 'failed'; statusCode: number; response: string; cost?: number },
    ttlSeconds: number,
    now: Date,
  ): Promise<boolean> {
    const res = await this.db
      .updateTable('async_jobs')
      .set({
        status: outcome.status,
        status_code: outcome.statusCode,
        response: outcome.response,
        cost: outcome.cost ?? null,
        completed_at: now.toISOString(),
        expires_at: new Date(now.getTime() + ttlSeconds * 1000).toISOString(),
      })
      .where('id', '=', id)
      .where('status', 'in', ['pending', 'processing'])
      .executeTakeFirst()
    return Number(res.numUpdatedRows) > 0
  }

  /** Puts a job that was running back to waiting (shutdown before it could start its call). */
  async requeue(id: string): Promise<void> {
    await this.db
      .updateTable('async_jobs')
      .set({ status: 'pending', started_at: null })
      .where('id', '=', id)
      .where('status', '=', 'processing')
      .execute()
  }

  /** A page of jobs, newest first, without their requests and answers (the web UI's list). */
  async list(q: { status?: AsyncJobStatus; limit: number; offset: number }): Promise<{
    jobs: Omit<AsyncJobRow, 'request' | 'response' | 'callback_url'>[]
    total: number
  }> {
    let base = this.db.selectFrom('async_jobs')
    if (q.status) base = base.where('status', '=', q.status)
    const jobs = await base
      .select([
        'id',
        'status',
        'request_type',
        'route',
        'model',
        'virtual_key_id',
        'webhook_endpoint',
        'result_ttl_seconds',
        'status_code',
        'attempts',
        'created_at',
        'started_at',
        'completed_at',
        'expires_at',
        'cost',
      ])
      .orderBy('created_at', 'desc')
      .limit(q.limit)
      .offset(q.offset)
      .execute()
    const { n } = await base
      .select((eb) => eb.fn.countAll<string | number>().as('n'))
      .executeTakeFirstOrThrow()
    return { jobs, total: Number(n) }
  }

  /** Jobs without an outcome, oldest first: what an in-process queue takes up again at start. */
  async unfinished(limit: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom('async_jobs')
      .select('id')
      .where('status', 'in', ['pending', 'processing'])
      .orderBy('created_at')
      .limit(limit)
      .execute()
    return rows.map((r) => r.id)
  }

  async deleteExpired(now: Date): Promise<number> {
    const res = await this.db
      .deleteFrom('async_jobs')
      .where('expires_at', 'is not', null)
      .where('expires_at', '<=', now.toISOString())
      .executeTakeFirst()
    return Number(res.numDeletedRows)
  }
}
