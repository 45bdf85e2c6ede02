import { randomBytes, randomUUID } from 'node:crypto'
import type { Kysely } from 'kysely'
import { GatewayError } from '../core/errors.js'
import { GATEWAY_EVENT_NAMES } from '../core/events.js'
import type { SecretCipher } from '../store/index.js'
import type { CallbackPolicy } from './callback-policy.js'

export interface WebhookEndpointsTable {
  id: string
  name: string
  url: string
  /** JSON array of event names. */
  events: string
  /** Sealed with the store's key. */
  secret: string
  allow_private_network: number
  disabled: number
  consecutive_failures: number
  last_success_at: string | null
  last_failure_at: string | null
  created_at: string
  updated_at: string
}

/** An endpoint as the API shows it: never its secret. */
export interface RegisteredEndpointView {
  id: string
  name: string
  url: string
  events: string[]
  allow_private_network: boolean
  disabled: boolean
  consecutive_failures: number
  last_success_at?: string
  last_failure_at?: string
  created_at: string
  updated_at: string
}

/** Where a delivery to a registered endpoint goes, and how it is signed. */
export interface RegisteredTarget {
  id: string
  url: string
  secret: string
  allowPrivateNetwork: boolean
  disabled: boolean
}

type Db = Kysely<{ webhook_endpoints: WebhookEndpointsTable }>

export interface WebhookEndpointRegistryOptions {
  db: Kysely<unknown>
  secrets: SecretCipher
  policy: CallbackPolicy
  /** Names already taken by endpoints of config.json (client.webhook_config.endpoints). */
  configuredNames: () => string[]
}

const MAX_NAME = 255

/** `whsec_` and 32 random bytes in base64: the HMAC key is this whole string. */
function newSigningSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`
}

function invalid(message: string, param: string): GatewayError {
  return new GatewayError('invalid_request', message, { param })
}

/**
 * Webhook endpoints registered through the API (Bifrost's /api/webhooks), in the config store so
 * that every node sees the same ones. The signing secret is made here, sealed at rest, and shown
 * only in the answer that made it (create, rotate-secret); a caller may bring its own instead.
 */
export class WebhookEndpointRegistry {
  private readonly db: Db

  constructor(private readonly opts: WebhookEndpointRegistryOptions) {
    this.db = opts.db as unknown as Db
  }

  async list(q: {
    search?: string
    event?: string[]
    disabled?: boolean
    limit: number
    offset: number
  }): Promise<{ endpoints: RegisteredEndpointView[]; total: number }> {
    let rows = (
      await this.db.selectFrom('webhook_endpoints').selectAll().orderBy('created_at').execute()
    ).map(view)
    const search = q.search?.toLowerCase()
    if (search)
      rows = rows.filter((e) => e.name.toLowerCase().includes(search) || e.url.toLowerCase().includes(search))
    if (q.event?.length) rows = rows.filter((e) => e.events.some((ev) => q.event?.includes(ev)))
    if (q.disabled !== undefined) rows = rows.filter((e) => e.disabled === q.disabled)
    return { endpoints: rows.slice(q.offset, q.offset + q.limit), total: rows.length }
  }

  async get(id: string): Promise<RegisteredEndpointView> {
    return view(await this.row(id))
  }

  async create(body: unknown): Promise<{ endpoint: RegisteredEndpointView; secret?: string }> {
    const input = await this.validate(body, undefined)
    const given = (body as Record<string, unknown>).secret
    if (given !== undefined && (typeof given !== 'string' || given.length < 16))
      throw invalid(
        'secret must be a string of at least 16 characters (leave it out to get one made)',
        'secret',
      )
    const secret = (given as string | undefined) ?? newSigningSecret()
    const now = new Date().toISOString()
    const row: WebhookEndpointsTable = {
      id: randomUUID(),
      ...input,
      secret: this.opts.secrets.seal(secret),
      consecutive_failures: 0,
      last_success_at: null,
      last_failure_at: null,
      created_at: now,
      updated_at: now,
    }
    await this.unique(input.name, undefined)
    await this.db.insertInto('webhook_endpoints').values(row).execute()
    // A secret the caller chose is not told back; one made here is told this once.
    return { endpoint: view(row), ...(given === undefined ? { secret } : {}) }
  }

  /** Fields left out keep their value; the secret changes only through rotate-secret. */
  async update(id: string, body: unknown): Promise<RegisteredEndpointView> {
    const current = await this.row(id)
    if (body && typeof body === 'object' && 'secret' in body)
      throw invalid('the secret cannot be changed here: POST /api/webhooks/{id}/rotate-secret', 'secret')
    const input = await this.validate(body, current)
    await this.unique(input.name, id)
    const updated_at = new Date().toISOString()
    await this.db
      .updateTable('webhook_endpoints')
      .set({ ...input, updated_at })
      .where('id', '=', id)
      .execute()
    return view({ ...current, ...input, updated_at })
  }

  async delete(id: string): Promise<void> {
    await this.row(id)
    await this.db.deleteFrom('webhook_endpoints').where('id', '=', id).execute()
  }

  /** A new secret, told this once; the old one stops verifying at once (as in Bifrost). */
  async rotateSecret(id: string): Promise<{ endpoint: RegisteredEndpointView; secret: string }> {
    const current = await this.row(id)
    const secret = newSigningSecret()
    const updated_at = new Date().toISOString()
    await this.db
      .updateTable('webhook_endpoints')
      .set({ secret: this.opts.secrets.seal(secret), updated_at })
      .where('id', '=', id)
      .execute()
    return { endpoint: view({ ...current, updated_at }), secret }
  }

  /**
   * The enabled endpoints an event goes to: those subscribed to it; for a job's events, only the
   * one the job named (x-bf-async-webhook), as in Bifrost.
   */
  async targetsFor(event: string, named?: string): Promise<RegisteredTarget[]> {
    let q = this.db.selectFrom('webhook_endpoints').selectAll().where('disabled', '=', 0)
    if (event.startsWith('async_job.')) {
      if (named === undefined) return []
      q = q.where('name', '=', named)
    }
    const rows = await q.execute()
    return rows.filter((r) => view(r).events.includes(event)).map((r) => this.toTarget(r))
  }

  /** The endpoint a delivery belongs to, as it is now; undefined when it was deleted. */
  async target(id: string): Promise<RegisteredTarget | undefined> {
    const r = await this.db
      .selectFrom('webhook_endpoints')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst()
    return r && this.toTarget(r)
  }

  private toTarget(r: WebhookEndpointsTable): RegisteredTarget {
    return {
      id: r.id,
      url: r.url,
      secret: this.opts.secrets.open(r.secret),
      allowPrivateNetwork: r.allow_private_network === 1,
      disabled: r.disabled === 1,
    }
  }

  async exists(name: string): Promise<boolean> {
    const r = await this.db
      .selectFrom('webhook_endpoints')
      .select('id')
      .where('name', '=', name)
      .executeTakeFirst()
    return r !== undefined
  }

  /** An attempt's outcome, kept on the endpoint (consecutive failures, last success and failure). */
  async recordOutcome(id: string, ok: boolean): Promise<void> {
    const now = new Date().toISOString()
    await this.db
      .updateTable('webhook_endpoints')
      .set((eb) =>
        ok
          ? { consecutive_failures: 0, last_success_at: now }
          : { consecutive_failures: eb('consecutive_failures', '+', 1), last_failure_at: now },
      )
      .where('id', '=', id)
      .execute()
  }

  private async row(id: string): Promise<WebhookEndpointsTable> {
    const row = await this.db
      .selectFrom('webhook_endpoints')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst()
    if (!row) throw new GatewayError('not_found', `webhook endpoint ${id} not found`)
    return row
  }

  private async unique(name: string, self: string | undefined): Promise<void> {
    const other = await this.db
      .selectFrom('webhook_endpoints')
      .select('id')
      .where('name', '=', name)
      .executeTakeFirst()
    if ((other && other.id !== self) || this.opts.configuredNames().includes(name))
      throw new GatewayError('conflict', `a webhook endpoint named ${JSON.stringify(name)} already exists`, {
        param: 'name',
      })
  }

  /** The editable fields of a request body, checked; `current` fills what an update leaves out. */
  private async validate(
    body: unknown,
    current: WebhookEndpointsTable | undefined,
  ): Promise<Pick<WebhookEndpointsTable, 'name' | 'url' | 'events' | 'allow_private_network' | 'disabled'>> {
    if (!body || typeof body !== 'object' || Array.isArray(body))
      throw invalid('the body must be a JSON object', 'body')
    const b = body as Record<string, unknown>
    const name = b.name ?? current?.name
    if (typeof name !== 'string' || name.trim() === '' || name.length > MAX_NAME)
      throw invalid(`name is required: a non-empty string of at most ${MAX_NAME} characters`, 'name')
    for (const flag of ['allow_private_network', 'disabled'] as const)
      if (b[flag] !== undefined && typeof b[flag] !== 'boolean')
        throw invalid(`${flag} must be a boolean`, flag)
    const allowPrivate =
      b.allow_private_network === undefined
        ? current?.allow_private_network === 1
        : (b.allow_private_network as boolean)
    const url = b.url ?? current?.url
    if (typeof url !== 'string' || url === '') throw invalid('url is required', 'url')
    await this.opts.policy.check(url, { allowPrivateNetwork: allowPrivate, param: 'url' })
    const events = b.events ?? (current ? JSON.parse(current.events) : undefined)
    if (!Array.isArray(events) || events.length === 0)
      throw invalid(`events must list at least one of ${GATEWAY_EVENT_NAMES.join(', ')}`, 'events')
    for (const e of events)
      if (typeof e !== 'string' || !GATEWAY_EVENT_NAMES.includes(e))
        throw invalid(
          `unknown webhook event ${JSON.stringify(e)}: one of ${GATEWAY_EVENT_NAMES.join(', ')}`,
          'events',
        )
    if (new Set(events).size !== events.length) throw invalid('events must not repeat an event', 'events')
    const disabled = b.disabled === undefined ? current?.disabled === 1 : (b.disabled as boolean)
    return {
      name: name.trim(),
      url,
      events: JSON.stringify(events),
      allow_private_network: allowPrivate ? 1 : 0,
      disabled: disabled ? 1 : 0,
    }
  }
}

function view(r: WebhookEndpointsTable): RegisteredEndpointView {
  const v: RegisteredEndpointView = {
    id: r.id,
    name: r.name,
    url: r.url,
    events: JSON.parse(r.events) as string[],
    allow_private_network: r.allow_private_network === 1,
    disabled: r.disabled === 1,
    consecutive_failures: r.consecutive_failures,
    created_at: r.created_at,
    updated_at: r.updated_at,
  }
  if (r.last_success_at) v.last_success_at = r.last_success_at
  if (r.last_failure_at) v.last_failure_at = r.last_failure_at
  return v
}
