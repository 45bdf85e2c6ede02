import { createHash, randomUUID } from 'node:crypto'
import type { Kysely } from 'kysely'
import { request } from 'undici'
import { GatewayError } from '../core/errors.js'
import type { Logger } from '../observability/logger.js'
import type { DeliveryStatus, WebhookDeliveriesTable } from '../store/index.js'
import type { CallbackPolicy } from './callback-policy.js'
import type { WebhookEndpointRegistry } from './endpoints.js'
import {
  signWebhook,
  WEBHOOK_ID_HEADER,
  WEBHOOK_SIGNATURE_HEADER,
  WEBHOOK_TIMESTAMP_HEADER,
} from './signature.js'

export interface WebhookEndpoint {
  id: string
  /** What a job names in x-bf-async-webhook (default: the id). */
  name?: string
  url: string
  /** Heimdall: sent every job's events, named or not. */
  all_jobs?: boolean
  /** Events sent there (`async_job.completed`, `async_job.failed`); empty or absent: all. */
  events?: string[]
  /** Its own signing secret; else webhook_config.secret. */
  secret?: string
}

export interface DeliverySettings {
  secret?: string
  endpoints?: WebhookEndpoint[]
  max_attempts?: number
  retry_backoff_initial_ms?: number
  retry_backoff_max_ms?: number
  timeout_ms?: number
  /** How often each node looks for retries that are due (persisted ones, from any node); default 5000. */
  retry_poll_ms?: number
}

export interface WebhookDeliveryView {
  id: string
  event: string
  url: string
  endpoint_id?: string
  async_job_id?: string
  status: DeliveryStatus
  attempts: number
  last_status_code?: number
  last_error?: string
  created_at: string
  updated_at: string
  next_attempt_at?: string
}

type Db = Kysely<{ webhook_deliveries: WebhookDeliveriesTable }>

export interface WebhookDeliveriesOptions {
  db: Kysely<unknown>
  policy: CallbackPolicy
  settings: () => DeliverySettings
  /** Endpoints registered through /api/webhooks. */
  endpoints: WebhookEndpointRegistry
  logger: Logger
}

/**
 * Signed webhook deliveries, recorded in the config store: each is attempted, retried with
 * exponential backoff up to `max_attempts`, and left `failed` for an operator to redeliver.
 * A retry is a row with its due time: the node that made it sets a timer, and every node polls
 * for due rows, so a retry outlives its node; an attempt first claims its row, so one node makes it.
 */
export class WebhookDeliveries {
  private readonly db: Db
  private readonly timers = new Set<NodeJS.Timeout>()
  private readonly inFlight = new Set<Promise<void>>()
  private poller: NodeJS.Timeout | undefined
  private closed = false

  constructor(private readonly opts: WebhookDeliveriesOptions) {
    this.db = opts.db as unknown as Db
  }

  /**
   * Sends an event to a URL (a job's callback), to the endpoints of config.json meant for it, and
   * to the registered endpoints subscribed to it. `dedupeKey` makes the delivery to each endpoint
   * one row however many nodes dispatch the same fact.
   */
  async dispatch(
    event: string,
    data: unknown,
    meta: { url?: string; endpoint?: string; asyncJobId?: string; dedupeKey?: string },
  ): Promise<void> {
    const targets: { url: string; endpointId?: string }[] = []
    if (meta.url) targets.push({ url: meta.url })
    for (const e of this.opts.settings().endpoints ?? []) {
      const named = meta.endpoint !== undefined && endpointNamed(e, meta.endpoint)
      if ((named || e.all_jobs) && (!e.events?.length || e.events.includes(event)))
        targets.push({ url: e.url, endpointId: e.id })
    }
    for (const e of await this.opts.endpoints.targetsFor(event, meta.endpoint))
      targets.push({ url: e.url, endpointId: e.id })
    for (const t of targets) {
      const id = meta.dedupeKey ? uuidFrom(`${meta.dedupeKey}|${t.endpointId ?? t.url}`) : randomUUID()
      const now = new Date().toISOString()
      const payload = JSON.stringify({ id, type: event, timestamp: now, data })
      await this.db
        .insertInto('webhook_deliveries')
        .values({
          id,
          event,
          url: t.url,
          endpoint_id: t.endpointId ?? null,
          async_job_id: meta.asyncJobId ?? null,
          payload,
          status: 'pending',
          attempts: 0,
          last_status_code: null,
          last_error: null,
          created_at: now,
          updated_at: now,
          next_attempt_at: now,
          claimed_until: null,
        })
        .onConflict((oc) => oc.column('id').doNothing())
        .execute()
      this.attemptSoon(id, 0)
    }
  }

  /** Starts looking for due retries, this node's and others'. */
  start(): void {
    if (this.closed || this.poller) return
    this.poller = setInterval(() => void this.attemptDue(), this.opts.settings().retry_poll_ms ?? 5000)
    this.poller.unref()
    void this.attemptDue()
  }

  private async attemptDue(): Promise<void> {
    const now = new Date().toISOString()
    try {
      const due = await this.db
        .selectFrom('webhook_deliveries')
        .select('id')
        .where('status', '=', 'pending')
        .where('next_attempt_at', '<=', now)
        .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<', now)]))
        .orderBy('next_attempt_at')
        .limit(100)
        .execute()
      for (const { id } of due) this.attemptSoon(id, 0)
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message }, 'could not look for due webhook retries')
    }
  }

  async list(opts: {
    limit: number
    offset: number
    status?: string
    endpointId?: string
  }): Promise<{ deliveries: WebhookDeliveryView[]; total: number }> {
    let q = this.db.selectFrom('webhook_deliveries')
    if (opts.status) q = q.where('status', '=', opts.status as DeliveryStatus)
    if (opts.endpointId) q = q.where('endpoint_id', '=', opts.endpointId)
    const rows = await q
      .selectAll()
      .orderBy('created_at', 'desc')
      .limit(opts.limit)
      .offset(opts.offset)
      .execute()
    const { n } = await q.select((eb) => eb.fn.countAll<string | number>().as('n')).executeTakeFirstOrThrow()
    return { deliveries: rows.map(deliveryView), total: Number(n) }
  }

  async get(id: string): Promise<WebhookDeliveryView | undefined> {
    const row = await this.db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst()
    return row && deliveryView(row)
  }

  /** Whether a job may name this endpoint: one of config.json's or one registered through the API. */
  async endpointExists(name: string): Promise<boolean> {
    if (this.opts.settings().endpoints?.some((e) => endpointNamed(e, name))) return true
    return this.opts.endpoints.exists(name)
  }

  /**
   * Attempts a delivery again now, whatever its status, under its original webhook-id; answers it
   * after that attempt. 409 while another attempt of it is under way.
   */
  async redeliver(id: string): Promise<WebhookDeliveryView | undefined> {
    if (!(await this.get(id))) return undefined
    if (!(await this.claim(id, true)))
      throw new GatewayError('conflict', `webhook delivery ${id} is being attempted right now`)
    await this.attempt(id, false)
    return this.get(id)
  }

  /**
   * Takes a delivery for one attempt (pending, and no live claim by another); `reopen` takes a
   * delivered or failed one back too. False when another node or attempt holds it.
   */
  private async claim(id: string, reopen = false): Promise<boolean> {
    const now = Date.now()
    const timeout = this.opts.settings().timeout_ms ?? 10_000
    let q = this.db
      .updateTable('webhook_deliveries')
      .set({ status: 'pending', claimed_until: new Date(now + timeout + 30_000).toISOString() })
      .where('id', '=', id)
      .where((eb) =>
        eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<', new Date(now).toISOString())]),
      )
    if (!reopen) q = q.where('status', '=', 'pending')
    const r = await q.executeTakeFirst()
    return Number(r.numUpdatedRows) === 1
  }

  private attemptSoon(id: string, delayMs: number): void {
    if (this.closed) return
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      const p = this.claim(id)
        .then((mine) => (mine ? this.attempt(id, true) : undefined))
        .catch((err: unknown) =>
          this.opts.logger.warn({ err: (err as Error).message, delivery: id }, 'webhook attempt failed'),
        )
        .finally(() => this.inFlight.delete(p))
      this.inFlight.add(p)
    }, delayMs)
    timer.unref()
    this.timers.add(timer)
  }

  private async attempt(id: string, scheduleRetry: boolean): Promise<void> {
    const row = await this.db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst()
    if (!row || row.status === 'delivered') return
    const settings = this.opts.settings()
    const registered = row.endpoint_id ? await this.opts.endpoints.target(row.endpoint_id) : undefined
    const configured = settings.endpoints?.find((e) => e.id === row.endpoint_id)
    const secret = registered?.secret ?? configured?.secret ?? settings.secret ?? ''
    // An endpoint deleted or disabled since: nothing to send, now or later.
    const gone =
      row.endpoint_id && !registered && !configured
        ? `webhook endpoint ${row.endpoint_id} no longer exists`
        : registered?.disabled
          ? `webhook endpoint ${row.endpoint_id} is disabled`
          : undefined
    let statusCode: number | null = null
    let error: string | null = null
    try {
      if (gone) throw new Error(gone)
      // A registered endpoint's URL may have changed since the delivery was made: its URL now.
      const url = registered?.url ?? row.url
      await this.opts.policy.check(url, { allowPrivateNetwork: registered?.allowPrivateNetwork })
      const timestamp = Math.floor(Date.now() / 1000)
      const res = await request(url, {
        method: 'POST',
        body: row.payload,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Heimdall-Webhooks',
          [WEBHOOK_ID_HEADER]: row.id,
          [WEBHOOK_TIMESTAMP_HEADER]: String(timestamp),
          [WEBHOOK_SIGNATURE_HEADER]: signWebhook(secret, row.id, timestamp, row.payload),
        },
        headersTimeout: settings.timeout_ms ?? 10_000,
        bodyTimeout: settings.timeout_ms ?? 10_000,
      })
      await res.body.dump()
      statusCode = res.statusCode
      if (statusCode < 200 || statusCode >= 300) error = `receiver answered ${statusCode}`
    } catch (err) {
      error = (err as Error).message
    }
    const attempts = row.attempts + 1
    const maxAttempts = settings.max_attempts ?? 5
    // A 4xx other than 408 and 429 is the receiver refusing this delivery: trying again would not help.
    const permanent =
      gone !== undefined ||
      (statusCode !== null &&
        statusCode >= 400 &&
        statusCode < 500 &&
        statusCode !== 408 &&
        statusCode !== 429)
    const retry = error !== null && !permanent && scheduleRetry && attempts < maxAttempts && !this.closed
    const delay = Math.min(
      (settings.retry_backoff_initial_ms ?? 1000) * 2 ** (attempts - 1),
      settings.retry_backoff_max_ms ?? 60_000,
    )
    await this.db
      .updateTable('webhook_deliveries')
      .set({
        status: error === null ? 'delivered' : retry ? 'pending' : 'failed',
        attempts,
        last_status_code: statusCode,
        last_error: error,
        updated_at: new Date().toISOString(),
        next_attempt_at: retry ? new Date(Date.now() + delay).toISOString() : null,
        claimed_until: null,
      })
      .where('id', '=', id)
      .execute()
    if (registered) await this.opts.endpoints.recordOutcome(registered.id, error === null)
    if (retry) this.attemptSoon(id, delay)
  }

  /** Stops retrying (what is pending stays recorded, for redelivery) and waits for attempts under way. */
  async close(): Promise<void> {
    this.closed = true
    clearInterval(this.poller)
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    await Promise.allSettled([...this.inFlight])
  }
}

/** A UUID-shaped id that is the same for the same key (a delivery dispatched by several nodes). */
function uuidFrom(key: string): string {
  const h = createHash('sha256').update(key).digest('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`
}

function endpointNamed(e: WebhookEndpoint, name: string): boolean {
  return (e.name ?? e.id) === name
}

function deliveryView(row: WebhookDeliveriesTable): WebhookDeliveryView {
  const v: WebhookDeliveryView = {
    id: row.id,
    event: row.event,
    url: row.url,
    status: row.status,
    attempts: row.attempts,
    created_at: row.created_at,
    updated_at: row.updated_at,
  }
  if (row.endpoint_id) v.endpoint_id = row.endpoint_id
  if (row.async_job_id) v.async_job_id = row.async_job_id
  if (row.last_status_code !== null) v.last_status_code = row.last_status_code
  if (row.last_error) v.last_error = row.last_error
  if (row.next_attempt_at) v.next_attempt_at = row.next_attempt_at
  return v
}
