import { randomUUID } from 'node:crypto'
import { GatewayError } from '../core/errors.js'
import type { Logger } from '../observability/logger.js'
import type { AsyncJobRow, AsyncJobStatus, AsyncJobStore, JobRequest } from './job-store.js'
import type { JobQueue } from './queue.js'

/** A synchronous route's answer to a replayed job: its status and its body as sent. */
export interface ReplayResult {
  statusCode: number
  body: string
  /** What the route charged, when it said (x-bifrost-cost-usd). */
  costUsd?: number
}

/** Runs a job's request through the synchronous route, as the caller would have. */
export type Replay = (route: string, request: JobRequest) => Promise<ReplayResult>

/** The job object of Bifrost's async routes (schemas.AsyncJobResponse). */
export interface AsyncJobView {
  id: string
  status: AsyncJobStatus
  request_type: string
  model?: string
  status_code?: number
  result?: unknown
  error?: unknown
  created_at: string
  completed_at?: string
  expires_at?: string
}

export interface SubmitJob {
  route: string
  requestType: string
  model?: string
  virtualKeyId?: string
  request: JobRequest
  ttlSeconds: number
  callbackUrl?: string
  /** A registered webhook endpoint to notify, by name. */
  webhookEndpoint?: string
}

export interface AsyncJobsOptions {
  store: AsyncJobStore
  queue: JobQueue
  replay: Replay
  /** Seals the stored request (it carries the caller's credentials) with the store's encryption key. */
  secrets: { seal(plain: string): string; open(stored: string): string }
  logger: Logger
  /** After a job's outcome is recorded (by the run that recorded it): webhooks. */
  onFinished?: (job: AsyncJobView, row: AsyncJobRow) => Promise<void>
  /** How often expired results are deleted. */
  sweepIntervalMs?: number
  now?: () => Date
}

export function jobView(row: AsyncJobRow): AsyncJobView {
  const view: AsyncJobView = {
    id: row.id,
    status: row.status,
    request_type: row.request_type,
    created_at: row.created_at,
  }
  if (row.model) view.model = row.model
  if (row.status_code !== null) view.status_code = row.status_code
  if (row.response !== null) {
    const parsed = parseOrText(row.response)
    if (row.status === 'completed') view.result = parsed
    else view.error = parsed
  }
  if (row.completed_at) view.completed_at = row.completed_at
  if (row.expires_at) view.expires_at = row.expires_at
  return view
}

function parseOrText(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/**
 * Async inference: a job is persisted, queued, run by whichever worker takes it through the
 * synchronous route (so it is governed, charged and logged like one), and its outcome kept until
 * its result TTL runs out.
 */
export class AsyncJobs {
  private sweep?: NodeJS.Timeout
  private accepting = true
  private readonly now: () => Date

  constructor(private readonly opts: AsyncJobsOptions) {
    this.now = opts.now ?? (() => new Date())
  }

  get queueKind(): JobQueue['kind'] {
    return this.opts.queue.kind
  }

  async start(): Promise<void> {
    await this.opts.queue.start((id) => this.run(id))
    this.sweep = setInterval(() => {
      void this.opts.store.deleteExpired(this.now()).catch(() => undefined)
    }, this.opts.sweepIntervalMs ?? 60_000)
    this.sweep.unref()
  }

  /** Every key's jobs, newest first (the management API's list, for operators). */
  list(q: Parameters<AsyncJobStore['list']>[0]): ReturnType<AsyncJobStore['list']> {
    return this.opts.store.list(q)
  }

  async submit(job: SubmitJob): Promise<AsyncJobView> {
    if (!this.accepting)
      throw new GatewayError('shutting_down', 'the gateway is shutting down: submit the job again')
    const id = randomUUID()
    const row: AsyncJobRow = {
      id,
      status: 'pending',
      request_type: job.requestType,
      route: job.route,
      model: job.model ?? null,
      virtual_key_id: job.virtualKeyId ?? null,
      // The job id is the request id the log entry keeps (client_request_id).
      request: this.opts.secrets.seal(
        JSON.stringify({ ...job.request, headers: { ...job.request.headers, 'x-request-id': id } }),
      ),
      callback_url: job.callbackUrl ?? null,
      cost: null,
      webhook_endpoint: job.webhookEndpoint ?? null,
      result_ttl_seconds: job.ttlSeconds,
      status_code: null,
      response: null,
      attempts: 0,
      created_at: this.now().toISOString(),
      started_at: null,
      completed_at: null,
      expires_at: null,
    }
    await this.opts.store.insert(row)
    await this.opts.queue.add(id)
    return jobView(row)
  }

  /**
   * A job as its owner polls it: another key's job, an expired one and one of another route all
   * read as not found.
   */
  async find(id: string, virtualKeyId: string | undefined, requestType: string): Promise<AsyncJobView> {
    const row = await this.opts.store.get(id)
    const expired = row?.expires_at ? Date.parse(row.expires_at) <= this.now().getTime() : false
    if (
      !row ||
      expired ||
      row.request_type !== requestType ||
      (row.virtual_key_id ?? undefined) !== virtualKeyId
    )
      throw new GatewayError('not_found', `async job ${id} not found`)
    return jobView(row)
  }

  /** Runs one job, unless another run already recorded its outcome. */
  async run(id: string): Promise<void> {
    const row = await this.opts.store.start(id, this.now())
    if (!row) return
    this.opts.logger.info({ async_job_id: id, attempt: row.attempts }, 'async job started')
    const request = JSON.parse(this.opts.secrets.open(row.request)) as JobRequest
    let result: ReplayResult
    try {
      result = await this.opts.replay(row.route, request)
    } catch (err) {
      result = {
        statusCode: 500,
        body: JSON.stringify({
          is_bifrost_error: true,
          status_code: 500,
          error: {
            type: 'api_error',
            code: 'internal',
            message: `the job could not run: ${(err as Error).message}`,
          },
        }),
      }
    }
    const status = result.statusCode < 400 ? 'completed' : 'failed'
    const recorded = await this.opts.store.finish(
      id,
      { status, statusCode: result.statusCode, response: result.body, cost: result.costUsd },
      row.result_ttl_seconds,
      this.now(),
    )
    this.opts.logger.info(
      { async_job_id: id, status, status_code: result.statusCode, recorded },
      'async job finished',
    )
    if (!recorded || !this.opts.onFinished) return
    const done = await this.opts.store.get(id)
    if (done) await this.opts.onFinished(jobView(done), done)
  }

  /** Stops taking jobs; running ones get `graceMs` to finish, the rest stay queued. */
  async close(graceMs: number): Promise<void> {
    this.accepting = false
    clearInterval(this.sweep)
    await this.opts.queue.close(graceMs)
  }
}
