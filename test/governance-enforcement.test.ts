import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import OpenAI from 'openai'
import { afterAll, describe, expect, it } from 'vitest'
import type { ClientConfig, ConfigFile, Usage } from '../src/core/schemas/index.js'
import { computeCost } from '../src/governance/pricing/index.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { postgresBackend } from './helpers/databases.js'
import { fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'
import { deleteRedisKeys, REDIS_URL, redisPrefix } from './helpers/redis.js'

/**
 * Governance end to end: a user creates a customer, a team and a virtual key through the management
 * API, calls the gateway with the key from the official OpenAI SDK until a limit stops it, and reads
 * exact usage back. Run on every store and counter backend a deployment can choose.
 */

const REDIS_PREFIX = redisPrefix('heimdall-enforce-test')
const MODEL = 'openai/gpt-4o-mini'

/** Two keys, so that a key restriction has something to exclude. */
const OPENAI_KEYS = [
  { id: 'openai-key-a', name: 'key-a', value: 'sk-provider-a', models: ['*'], weight: 1 },
  { id: 'openai-key-b', name: 'key-b', value: 'sk-provider-b', models: ['*'], weight: 1 },
]
const PROVIDER_AUTH = new Set(OPENAI_KEYS.map((k) => `Bearer ${k.value}`))

type APIError = InstanceType<typeof OpenAI.APIError>

const ALL_OPENAI = { provider: 'openai', allowed_models: ['*'], key_ids: ['*'] }

// ---- backends: each setup is a config_store and a cluster section ----

interface Setup {
  name: string
  store: 'sqlite' | 'postgres'
  counters: 'memory' | 'redis'
  /** The sections of one more server's config: a store of its own each time, counters shared per setup. */
  sections(): Promise<Pick<ConfigFile, 'config_store' | 'cluster'>>
  teardown(): Promise<void>
}

/**
 * PostgreSQL: one database per run, dropped at the end, with one schema per server inside it.
 * Redis: one key prefix per setup, cleared at the end. Both are first reached from inside the tests.
 */
function setup(store: Setup['store'], counters: Setup['counters']): Setup {
  const prefix = `${REDIS_PREFIX}${store}:`
  const db = store === 'postgres' ? postgresBackend('enforce') : undefined
  return {
    name: `${store} + ${counters} counters`,
    store,
    counters,
    sections: async () => ({
      // SQLite in the server's own app dir, whatever HEIMDALL_DATABASE_URL may say.
      config_store: db
        ? { enabled: true, type: 'postgres', config: { connection_string: await db.freshUrl() } }
        : { enabled: true, type: 'sqlite', config: {} },
      ...(counters === 'redis' && { cluster: { redis_url: REDIS_URL, prefix } }),
    }),
    teardown: async () => {
      await db?.teardown()
      if (counters === 'redis') await deleteRedisKeys(prefix)
    },
  }
}

// ---- management API ----

interface Reply {
  status: number
  body: any
}

async function api(gw: RunningHeimdall, method: string, path: string, body?: unknown): Promise<Reply> {
  const res = await fetch(`${gw.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: res.status, body: await res.json() }
}

async function ok(gw: RunningHeimdall, method: string, path: string, body?: unknown): Promise<any> {
  const reply = await api(gw, method, path, body)
  expect(reply.status, `${method} ${path}: ${JSON.stringify(reply.body)}`).toBe(200)
  return reply.body
}

let names = 0
const uniqueName = (what: string) => `${what}-${++names}`

/** Creates a virtual key; answers its id and its full value (which only this answer carries). */
async function createKey(
  gw: RunningHeimdall,
  body: Record<string, unknown>,
): Promise<{ id: string; value: string }> {
  const { virtual_key: vk } = await ok(gw, 'POST', '/api/governance/virtual-keys', {
    name: uniqueName('vk'),
    ...body,
  })
  expect(vk.value).toMatch(/^sk-bf-/)
  return { id: vk.id, value: vk.value }
}

const getKey = async (gw: RunningHeimdall, id: string) =>
  (await ok(gw, 'GET', `/api/governance/virtual-keys/${id}`)).virtual_key

// ---- the SDK as a user holds it ----

interface Refusal {
  status: number
  headers: Headers
  body: any
}

interface Caller {
  client: OpenAI
  /** Every refused response, with its headers and full body (the SDK's error keeps only `error`). */
  refusals: Refusal[]
}

function caller(gw: RunningHeimdall, apiKey: string, headers: Record<string, string> = {}): Caller {
  const refusals: Refusal[] = []
  const client = new OpenAI({
    baseURL: `${gw.url}/v1`,
    apiKey,
    maxRetries: 0,
    defaultHeaders: headers,
    fetch: async (input, init) => {
      const res = await fetch(input, init)
      if (!res.ok) refusals.push({ status: res.status, headers: res.headers, body: await res.clone().json() })
      return res
    },
  })
  return { client, refusals }
}

function ask(
  c: Caller,
  text = 'hello there',
  extra: Partial<OpenAI.ChatCompletionCreateParamsNonStreaming> = {},
) {
  return c.client.chat.completions
    .create({ model: MODEL, messages: [{ role: 'user', content: text }], ...extra })
    .withResponse()
}

/** What the gateway should charge for a gpt-4o-mini answer with this usage. */
function costOf(usage: OpenAI.CompletionUsage | undefined | null): number {
  expect(usage).toBeTruthy()
  const result = computeCost('openai', 'gpt-4o-mini', usage as Usage)
  expect(result.priced).toBe(true)
  expect(result.cost).toBeGreaterThan(0)
  return result.cost
}

/** Dollar figures agree to the nano-dollar the counters keep. */
function expectDollars(actual: unknown, expected: number): void {
  expect(typeof actual).toBe('number')
  expect(Math.abs((actual as number) - expected), `${actual as number} vs ${expected}`).toBeLessThan(1e-9)
}

/** The refusal of a request that must not be admitted: the SDK's error and the full response. */
async function refused(c: Caller, call: Promise<unknown>): Promise<Refusal & { err: APIError }> {
  const before = c.refusals.length
  const err = await call.then(
    () => {
      throw new Error('the request was admitted')
    },
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(OpenAI.APIError)
  expect(c.refusals.length).toBe(before + 1)
  return { err: err as APIError, ...c.refusals[c.refusals.length - 1] }
}

/** Bifrost's governance error body. */
function expectDecision(r: Refusal, type: string, status: number): void {
  expect(r.status).toBe(status)
  expect(r.body).toMatchObject({
    type,
    is_bifrost_error: false,
    status_code: status,
    error: { message: expect.any(String) },
  })
}

const SETUPS = [setup('sqlite', 'memory'), setup('postgres', 'redis'), setup('sqlite', 'redis')]

describe.each(SETUPS)('governance enforcement on $name', (s) => {
  let fake: Promise<FakeServer> | undefined
  const servers: RunningHeimdall[] = []
  let main: Promise<RunningHeimdall> | undefined

  afterAll(async () => {
    for (const gw of servers) await gw.close().catch(() => undefined)
    await (await fake)?.close()
    await s.teardown()
  })

  const theFake = () => (fake ??= startFakeOpenAI())

  async function config(client?: ClientConfig): Promise<ConfigFile> {
    const f = await theFake()
    return {
      ...(await s.sections()),
      ...(client && { client }),
      providers: {
        openai: fakeProvider(f.url, {}, OPENAI_KEYS),
        // Configured so that a key may list it; never called.
        anthropic: fakeProvider('http://127.0.0.1:9', {}, [
          { id: 'anthropic-key', name: 'main', value: 'sk-ant-unused', models: ['*'], weight: 1 },
        ]),
      },
    }
  }

  async function start(client?: ClientConfig): Promise<RunningHeimdall> {
    const gw = await startHeimdall(await config(client))
    servers.push(gw)
    expect(gw.heimdall.cluster.kind).toBe(s.counters)
    return gw
  }

  /** The server most tests share; started by the first test that needs it, so that a failure fails it. */
  async function server(): Promise<{ gw: RunningHeimdall; fake: FakeServer }> {
    const gw = await (main ??= start())
    const f = await theFake()
    f.reset()
    return { gw, fake: f }
  }

  it('a customer, a team and a key with a daily budget and a request limit: five calls, a 429, exact usage read back', async () => {
    const { gw } = await server()
    const { customer } = await ok(gw, 'POST', '/api/governance/customers', {
      name: uniqueName('customer'),
      budget: { max_limit: 50, reset_duration: '1M' },
    })
    const { team } = await ok(gw, 'POST', '/api/governance/teams', {
      name: uniqueName('team'),
      customer_id: customer.id,
      budget: { max_limit: 20, reset_duration: '1d' },
    })
    const created = await ok(gw, 'POST', '/api/governance/virtual-keys', {
      name: uniqueName('acceptance'),
      team_id: team.id,
      budgets: [
        { max_limit: 10, reset_duration: '1d' },
        { max_limit: 100, reset_duration: '1M' },
      ],
      rate_limit: { request_max_limit: 5, request_reset_duration: '1h' },
      provider_configs: [ALL_OPENAI],
    })
    const { id, value } = created.virtual_key
    expect(value).toMatch(/^sk-bf-[0-9A-Za-z]{20,}$/)
    // The full value is in the create answer only.
    expect((await getKey(gw, id)).value).not.toBe(value)
    const list = await ok(gw, 'GET', '/api/governance/virtual-keys')
    expect(JSON.stringify(list)).not.toContain(value)

    const c = caller(gw, value)
    let spent = 0
    const remaining: (string | null)[] = []
    for (let i = 0; i < 5; i++) {
      const { data, response } = await ask(c, `call number ${i + 1}`)
      expect(data.choices[0].message.content).toBe(`Echo: call number ${i + 1}`)
      spent += costOf(data.usage)
      remaining.push(response.headers.get('x-ratelimit-remaining-requests'))
      expect(response.headers.get('x-ratelimit-limit-requests')).toBe('5')
      expect(Number(response.headers.get('x-ratelimit-reset-requests')?.replace(/s$/, ''))).toBeGreaterThan(0)
    }
    expect(remaining).toEqual(['4', '3', '2', '1', '0'])

    const sixth = await refused(c, ask(c, 'one too many'))
    expect(sixth.err).toBeInstanceOf(OpenAI.RateLimitError)
    expect(sixth.err.status).toBe(429)
    expectDecision(sixth, 'request_limited', 429)
    const tripped = sixth.body.extra_fields.governance
    expect(tripped).toMatchObject({
      scope: 'virtual_key',
      scope_id: id,
      scope_name: expect.stringContaining(created.virtual_key.name),
      limit_kind: 'requests',
      limit: 5,
      used: 5,
      reset_duration: '1h',
    })
    expect(sixth.body.error.message).toContain('5/5')
    const retryAfter = Number(sixth.headers.get('retry-after'))
    expect(retryAfter).toBeGreaterThan(0)
    expect(retryAfter).toBeLessThanOrEqual(3600)
    expect(Date.parse(tripped.reset_at)).toBeGreaterThan(Date.now())
    expect(sixth.headers.get('x-ratelimit-remaining-requests')).toBe('0')
    expect(sixth.headers.get('x-ratelimit-limit-requests')).toBe('5')
    // A streamed request is refused the same way, before any event.
    const streamed = await refused(
      c,
      c.client.chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content: 'stream it' }],
        stream: true,
      }),
    )
    expect(streamed.err).toBeInstanceOf(OpenAI.RateLimitError)
    expectDecision(streamed, 'request_limited', 429)

    const vk = await getKey(gw, id)
    expect(vk.rate_limit.request_current_usage).toBe(5)
    expect(vk.rate_limit.request_reset_at).toBe(tripped.reset_at)
    expect(vk.budgets).toHaveLength(2)
    for (const b of vk.budgets) expectDollars(b.current_usage, spent)

    const teamNow = (await ok(gw, 'GET', `/api/governance/teams/${team.id}`)).team
    expectDollars(teamNow.budget.current_usage, spent)
    const customerNow = (await ok(gw, 'GET', `/api/governance/customers/${customer.id}`)).customer
    expectDollars(customerNow.budget.current_usage, spent)

    // The key reads its own allowance, with itself as the credential.
    const quota = await fetch(`${gw.url}/api/governance/virtual-keys/quota`, {
      headers: { authorization: `Bearer ${value}` },
    })
    expect(quota.status).toBe(200)
    const q: any = await quota.json()
    expect(q.is_active).toBe(true)
    expect(q.rate_limit.request_current_usage).toBe(5)
    expect(q.budgets).toHaveLength(2)
    for (const b of q.budgets) expectDollars(b.current_usage, spent)
    expectDollars(q.team.budgets[0].current_usage, spent)
    expectDollars(q.customer.budgets[0].current_usage, spent)
  })

  it('a tiny key budget admits one request, then refuses with 402 naming the key', async () => {
    const { gw } = await server()
    const { id, value } = await createKey(gw, {
      budgets: [{ max_limit: 0.000001, reset_duration: '1d' }],
      provider_configs: [ALL_OPENAI],
    })
    const c = caller(gw, value)
    const { data, response } = await ask(c, 'hi')
    const cost = costOf(data.usage)
    expect(cost).toBeGreaterThan(0.000001)
    expect(Number(response.headers.get('x-bifrost-cost-usd'))).toBeCloseTo(cost, 8)

    const r = await refused(c, ask(c, 'hi again'))
    expect(r.err.status).toBe(402)
    expectDecision(r, 'budget_exceeded', 402)
    expect(r.body.extra_fields.governance).toMatchObject({
      scope: 'virtual_key',
      scope_id: id,
      limit_kind: 'budget',
      limit: 0.000001,
      reset_duration: '1d',
    })
    expectDollars(r.body.extra_fields.governance.used, cost)
    expect(Date.parse(r.body.extra_fields.governance.reset_at)).toBeGreaterThan(Date.now())
    expect(r.body.error.message).toMatch(/budget exceeded/)
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0)
    // The one admitted request is charged in full, overshoot included.
    expectDollars((await getKey(gw, id)).budgets[0].current_usage, cost)
  })

  it('an exhausted team budget refuses another key of the team; a customer budget, keys under the customer', async () => {
    const { gw, fake: f } = await server()
    const { team } = await ok(gw, 'POST', '/api/governance/teams', {
      name: uniqueName('team'),
      budget: { max_limit: 0.000001, reset_duration: '1d' },
    })
    const spender = await createKey(gw, { team_id: team.id, provider_configs: [ALL_OPENAI] })
    const sibling = await createKey(gw, { team_id: team.id, provider_configs: [ALL_OPENAI] })
    await ask(caller(gw, spender.value), 'hi')
    const s1 = caller(gw, sibling.value)
    const byTeam = await refused(s1, ask(s1, 'hi'))
    expectDecision(byTeam, 'budget_exceeded', 402)
    expect(byTeam.body.extra_fields.governance).toMatchObject({ scope: 'team', scope_id: team.id })

    const { customer } = await ok(gw, 'POST', '/api/governance/customers', {
      name: uniqueName('customer'),
      budget: { max_limit: 0.000001, reset_duration: '1d' },
    })
    const { team: teamOfCustomer } = await ok(gw, 'POST', '/api/governance/teams', {
      name: uniqueName('team'),
      customer_id: customer.id,
    })
    const viaTeam = await createKey(gw, { team_id: teamOfCustomer.id, provider_configs: [ALL_OPENAI] })
    const direct = await createKey(gw, { customer_id: customer.id, provider_configs: [ALL_OPENAI] })
    await ask(caller(gw, viaTeam.value), 'hi')
    for (const key of [direct, viaTeam]) {
      const c = caller(gw, key.value)
      const byCustomer = await refused(c, ask(c, 'hi'))
      expectDecision(byCustomer, 'budget_exceeded', 402)
      expect(byCustomer.body.extra_fields.governance).toMatchObject({
        scope: 'customer',
        scope_id: customer.id,
      })
    }
    // Two requests reached the provider; the refused ones did not.
    expect(f.requests).toHaveLength(2)
  })

  it('charges a streamed request like a plain one, whether or not the client asked for usage', async () => {
    const { gw, fake: f } = await server()
    const { id, value } = await createKey(gw, {
      budgets: [{ max_limit: 10, reset_duration: '1d' }],
      provider_configs: [ALL_OPENAI],
    })
    const c = caller(gw, value)
    const text = 'stream me the same answer'
    const usageNow = async () => (await getKey(gw, id)).budgets[0].current_usage as number

    const { data } = await ask(c, text)
    const cost = costOf(data.usage)
    expectDollars(await usageNow(), cost)

    const plain = await c.client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: text }],
      stream: true,
    })
    let content = ''
    for await (const chunk of plain) {
      expect(chunk.usage ?? null).toBeNull()
      content += chunk.choices[0]?.delta?.content ?? ''
    }
    expect(content).toBe(`Echo: ${text}`)
    expectDollars(await usageNow(), 2 * cost)

    const withUsage = await c.client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: text }],
      stream: true,
      stream_options: { include_usage: true },
    })
    let streamedUsage: OpenAI.CompletionUsage | undefined
    for await (const chunk of withUsage) if (chunk.usage) streamedUsage = chunk.usage
    expect(costOf(streamedUsage)).toBeCloseTo(cost, 12)
    expectDollars(await usageNow(), 3 * cost)
    // The upstream was asked for usage both times.
    expect(f.requests.slice(1).map((r) => r.body.stream_options)).toEqual([
      { include_usage: true },
      { include_usage: true },
    ])
  })

  it('lets a key reach only its providers, models and provider keys', async () => {
    const { gw, fake: f } = await server()
    const attempt = async (providerConfigs: unknown[], model = MODEL) => {
      const { value } = await createKey(gw, { provider_configs: providerConfigs })
      const c = caller(gw, value)
      return refused(
        c,
        c.client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] }),
      )
    }

    const noProvider = await attempt([{ provider: 'anthropic', allowed_models: ['*'], key_ids: ['*'] }])
    expect(noProvider.err).toBeInstanceOf(OpenAI.PermissionDeniedError)
    expectDecision(noProvider, 'provider_blocked', 403)
    expectDecision(await attempt([]), 'provider_blocked', 403)

    const otherModel = await attempt([{ provider: 'openai', allowed_models: ['gpt-4o'], key_ids: ['*'] }])
    expectDecision(otherModel, 'model_blocked', 403)
    expect(otherModel.body.error.message).toContain('gpt-4o-mini')

    const blacklisted = await attempt([
      { provider: 'openai', allowed_models: ['*'], blacklisted_models: ['gpt-4o-mini'], key_ids: ['*'] },
    ])
    expectDecision(blacklisted, 'model_blocked', 403)
    expectDecision(
      await attempt([{ provider: 'openai', allowed_models: ['regex:gpt-4o(-mini)?'], key_ids: [] }]),
      'provider_blocked',
      403,
    )
    expect(f.requests).toHaveLength(0)

    // The allow-list admits what it names, and a regex entry its pattern.
    const { value } = await createKey(gw, {
      provider_configs: [{ provider: 'openai', allowed_models: ['regex:gpt-4o(-mini)?'], key_ids: ['*'] }],
    })
    const { data } = await ask(caller(gw, value), 'allowed')
    expect(data.choices[0].message.content).toBe('Echo: allowed')
  })

  it('sends every request of a key restricted to one provider key with that key', async () => {
    const { gw, fake: f } = await server()
    const { value } = await createKey(gw, {
      provider_configs: [{ provider: 'openai', allowed_models: ['*'], key_ids: ['openai-key-b'] }],
    })
    const c = caller(gw, value)
    for (let i = 0; i < 8; i++) await ask(c, `restricted ${i}`)
    expect(f.requests).toHaveLength(8)
    expect(new Set(f.requests.map((r) => r.headers.authorization))).toEqual(new Set(['Bearer sk-provider-b']))
  })

  it('blocks an inactive key and an expired one with 403', async () => {
    const { gw, fake: f } = await server()
    const inactive = await createKey(gw, { is_active: false, provider_configs: [ALL_OPENAI] })
    const c1 = caller(gw, inactive.value)
    const blocked = await refused(c1, ask(c1))
    expect(blocked.err).toBeInstanceOf(OpenAI.PermissionDeniedError)
    expectDecision(blocked, 'virtual_key_blocked', 403)

    const expiresAt = new Date(Date.now() + 1500).toISOString()
    const expiring = await createKey(gw, { expires_at: expiresAt, provider_configs: [ALL_OPENAI] })
    const c2 = caller(gw, expiring.value)
    await ask(c2, 'before expiry')
    // An expiry in the past cannot be set through the API.
    const past = await api(gw, 'PUT', `/api/governance/virtual-keys/${expiring.id}`, {
      expires_at: '2001-01-01T00:00:00Z',
    })
    expect(past.status).toBe(400)
    await sleep(Math.max(0, Date.parse(expiresAt) - Date.now()) + 50)
    const expired = await refused(c2, ask(c2, 'after expiry'))
    expectDecision(expired, 'virtual_key_blocked', 403)
    expect(expired.body.error.message).toMatch(/expired/)
    expect(f.requests).toHaveLength(1)
  })

  it('answers 401 virtual_key_not_found to an unknown key, and lets a request without one through ungoverned', async () => {
    const { gw, fake: f } = await server()
    const c = caller(gw, `sk-bf-${randomBytes(24).toString('hex')}`)
    const unknown = await refused(c, ask(c))
    expect(unknown.err).toBeInstanceOf(OpenAI.AuthenticationError)
    expectDecision(unknown, 'virtual_key_not_found', 401)
    expect(f.requests).toHaveLength(0)

    // Without enforce_auth_on_inference, a provider-looking key is no virtual key: no governance applies.
    const { data, response } = await ask(caller(gw, 'sk-not-a-virtual-key'), 'ungoverned')
    expect(data.choices[0].message.content).toBe('Echo: ungoverned')
    expect(response.headers.get('x-ratelimit-limit-requests')).toBeNull()
    expect(PROVIDER_AUTH.has(String(f.requests[0].headers.authorization))).toBe(true)
  })

  it('with enforce_auth_on_inference, refuses a request without a key with 401 and serves one with a key', async () => {
    const gw = await start({ enforce_auth_on_inference: true })
    const none = caller(gw, 'sk-not-a-virtual-key')
    const required = await refused(none, ask(none))
    expect(required.err).toBeInstanceOf(OpenAI.AuthenticationError)
    expectDecision(required, 'virtual_key_required', 401)
    const { value } = await createKey(gw, { provider_configs: [ALL_OPENAI] })
    const { data } = await ask(caller(gw, value), 'with a key')
    expect(data.choices[0].message.content).toBe('Echo: with a key')
  })

  it('accepts the key in every header Bifrost reads, and never passes it on to the provider', async () => {
    const { gw, fake: f } = await server()
    const { id, value } = await createKey(gw, {
      rate_limit: { request_max_limit: 100, request_reset_duration: '1h' },
      provider_configs: [ALL_OPENAI],
    })
    const ways: [string, Caller][] = [
      ['x-bf-vk', caller(gw, 'sk-unused', { 'x-bf-vk': value })],
      ['authorization', caller(gw, value)],
      ['x-api-key', caller(gw, 'sk-unused', { 'x-api-key': value })],
      ['api-key', caller(gw, 'sk-unused', { 'api-key': value })],
      ['x-goog-api-key', caller(gw, 'sk-unused', { 'x-goog-api-key': value })],
    ]
    for (const [header, c] of ways) {
      const { data, response } = await ask(c, `via ${header}`)
      expect(data.choices[0].message.content, header).toBe(`Echo: via ${header}`)
      // Governed: the key's own request limit answers.
      expect(response.headers.get('x-ratelimit-limit-requests'), header).toBe('100')
    }
    expect((await getKey(gw, id)).rate_limit.request_current_usage).toBe(5)
    expect(f.requests).toHaveLength(5)
    for (const r of f.requests) {
      expect(PROVIDER_AUTH.has(String(r.headers.authorization))).toBe(true)
      expect(r.headers['x-bf-vk']).toBeUndefined()
      expect(JSON.stringify(r.headers)).not.toContain(value)
    }
  })

  it('refuses the very next request once a key is deactivated or deleted', async () => {
    const { gw } = await server()
    const a = await createKey(gw, { provider_configs: [ALL_OPENAI] })
    const ca = caller(gw, a.value)
    await ask(ca)
    await ok(gw, 'PUT', `/api/governance/virtual-keys/${a.id}`, { is_active: false })
    expectDecision(await refused(ca, ask(ca)), 'virtual_key_blocked', 403)
    await ok(gw, 'PUT', `/api/governance/virtual-keys/${a.id}`, { is_active: true })
    await ask(ca)

    const b = await createKey(gw, { provider_configs: [ALL_OPENAI] })
    const cb = caller(gw, b.value)
    await ask(cb)
    await ok(gw, 'DELETE', `/api/governance/virtual-keys/${b.id}`)
    expectDecision(await refused(cb, ask(cb)), 'virtual_key_not_found', 401)
  })

  it('rotating a key retires the old value at once and the new one works', async () => {
    const { gw } = await server()
    const { id, value } = await createKey(gw, { provider_configs: [ALL_OPENAI] })
    await ask(caller(gw, value))
    const rotated = (await ok(gw, 'POST', `/api/governance/virtual-keys/${id}/rotate`)).virtual_key
    expect(rotated.value).toMatch(/^sk-bf-/)
    expect(rotated.value).not.toBe(value)
    const old = caller(gw, value)
    expectDecision(await refused(old, ask(old)), 'virtual_key_not_found', 401)
    const { data } = await ask(caller(gw, rotated.value), 'rotated')
    expect(data.choices[0].message.content).toBe('Echo: rotated')
  })

  it('refuses with token_limited once the tokens are spent, and shows the exact token usage', async () => {
    const { gw } = await server()
    const { id, value } = await createKey(gw, {
      rate_limit: { token_max_limit: 40, token_reset_duration: '1h' },
      provider_configs: [ALL_OPENAI],
    })
    const c = caller(gw, value)
    const text = 'hello there friend'
    // max_tokens bounds the hold each request takes at admission, so that the header has room to count down.
    const limits = { max_tokens: 8 }
    const totals: number[] = []
    const remaining: number[] = []
    while (totals.reduce((a, b) => a + b, 0) < 40 && totals.length < 10) {
      const { data, response } = await ask(c, text, limits)
      expect(response.headers.get('x-ratelimit-limit-tokens')).toBe('40')
      remaining.push(Number(response.headers.get('x-ratelimit-remaining-tokens')))
      totals.push(data.usage!.total_tokens)
    }
    const tokens = totals.reduce((a, b) => a + b, 0)
    // The request that crossed the limit started under it, so it was served.
    expect(tokens - totals[totals.length - 1]).toBeLessThan(40)
    expect(remaining[0]).toBeGreaterThan(0)
    expect(remaining[0]).toBeLessThan(40)
    for (let i = 1; i < remaining.length; i++) expect(remaining[i]).toBeLessThanOrEqual(remaining[i - 1])
    expect(remaining[remaining.length - 1]).toBe(0)

    const refusal = await refused(c, ask(c, text, limits))
    expect(refusal.err).toBeInstanceOf(OpenAI.RateLimitError)
    expectDecision(refusal, 'token_limited', 429)
    expect(refusal.body.extra_fields.governance).toMatchObject({
      scope: 'virtual_key',
      scope_id: id,
      limit_kind: 'tokens',
      limit: 40,
      used: tokens,
    })
    expect(Number(refusal.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(refusal.headers.get('x-ratelimit-remaining-tokens')).toBe('0')
    const vk = await getKey(gw, id)
    expect(vk.rate_limit.token_current_usage).toBe(tokens)
  })

  it('admits exactly the request limit out of 40 parallel calls', async () => {
    const { gw, fake: f } = await server()
    const { id, value } = await createKey(gw, {
      rate_limit: { request_max_limit: 10, request_reset_duration: '1h' },
      provider_configs: [ALL_OPENAI],
    })
    const c = caller(gw, value)
    const results = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => ask(c, `parallel ${i}`)))
    const admitted = results.filter((r) => r.status === 'fulfilled')
    const limited = results.filter(
      (r) => r.status === 'rejected' && r.reason instanceof OpenAI.RateLimitError && r.reason.status === 429,
    )
    expect(admitted).toHaveLength(10)
    expect(limited).toHaveLength(30)
    expect(c.refusals.every((r) => r.body.type === 'request_limited')).toBe(true)
    expect(f.requests).toHaveLength(10)
    expect((await getKey(gw, id)).rate_limit.request_current_usage).toBe(10)
  })

  // In memory the counters come back from the store; with Redis they outlive the process.
  it('keeps the spent budget across a restart on the same app dir', async () => {
    const appDir = await mkdtemp(join(tmpdir(), 'heimdall-restart-'))
    try {
      const cfg = await config()
      let gw = await startHeimdall(cfg, { appDir })
      let id: string
      let value: string
      let cost: number
      let limited: string
      try {
        ;({ id, value } = await createKey(gw, {
          budgets: [{ max_limit: 10, reset_duration: '1d' }],
          rate_limit: { request_max_limit: 100, request_reset_duration: '1h' },
          provider_configs: [ALL_OPENAI],
        }))
        const { data } = await ask(caller(gw, value), 'remember me')
        cost = costOf(data.usage)
        limited = (
          await createKey(gw, {
            budgets: [{ max_limit: 0.000001, reset_duration: '1d' }],
            provider_configs: [ALL_OPENAI],
          })
        ).value
        await ask(caller(gw, limited), 'hi')
      } finally {
        await gw.close()
      }
      gw = await startHeimdall(cfg, { appDir })
      try {
        const vk = await getKey(gw, id)
        expectDollars(vk.budgets[0].current_usage, cost)
        expect(vk.rate_limit.request_current_usage).toBe(1)
        // The new process enforces what the old one counted.
        const c = caller(gw, limited)
        expectDecision(await refused(c, ask(c, 'hi')), 'budget_exceeded', 402)
        await ask(caller(gw, value), 'still fine')
      } finally {
        await gw.close()
      }
    } finally {
      await rm(appDir, { recursive: true, force: true })
    }
  })
})
