import OpenAI from 'openai'
import { afterAll, expect } from 'vitest'
import type { ClientConfig, ConfigFile, Usage } from '../../src/core/schemas/index.js'
import { computeCost } from '../../src/governance/pricing/index.js'
import { startFakeOpenAI } from '../fakes/openai.js'
import type { FakeServer } from '../fakes/server.js'
import { postgresBackend } from './databases.js'
import { callJson, fakeProvider, startHeimdall, type RunningHeimdall } from './heimdall.js'
import { deleteRedisKeys, REDIS_URL, redisPrefix } from './redis.js'

/**
 * Governance end to end, for governance-budgets-and-limits and governance-key-access: Heimdall on
 * each store and counter backend a deployment can choose, a fake OpenAI with two keys, the
 * management API, and the official OpenAI SDK as a user holds it.
 */

const REDIS_PREFIX = redisPrefix('heimdall-enforce-test')
export const MODEL = 'openai/gpt-4o-mini'

/** Two keys, so that a key restriction has something to exclude. */
export const OPENAI_KEYS = [
  { id: 'openai-key-a', name: 'key-a', value: 'sk-provider-a', models: ['*'], weight: 1 },
  { id: 'openai-key-b', name: 'key-b', value: 'sk-provider-b', models: ['*'], weight: 1 },
]
export const PROVIDER_AUTH = new Set(OPENAI_KEYS.map((k) => `Bearer ${k.value}`))

export type APIError = InstanceType<typeof OpenAI.APIError>

export const ALL_OPENAI = { provider: 'openai', allowed_models: ['*'], key_ids: ['*'] }

// ---- backends: each setup is a config_store and a cluster section ----

export interface Setup {
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
export function setup(store: Setup['store'], counters: Setup['counters']): Setup {
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

/** A management API call, answered with its status and parsed JSON body. */
export const api = (gw: RunningHeimdall, method: string, path: string, body?: unknown) =>
  callJson(gw.url, method, path, body)

export async function ok(gw: RunningHeimdall, method: string, path: string, body?: unknown): Promise<any> {
  const reply = await api(gw, method, path, body)
  expect(reply.status, `${method} ${path}: ${JSON.stringify(reply.body)}`).toBe(200)
  return reply.body
}

let names = 0
export const uniqueName = (what: string) => `${what}-${++names}`

/** Creates a virtual key; answers its id and its full value (which only this answer carries). */
export async function createKey(
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

export const getKey = async (gw: RunningHeimdall, id: string) =>
  (await ok(gw, 'GET', `/api/governance/virtual-keys/${id}`)).virtual_key

// ---- the SDK as a user holds it ----

export interface Refusal {
  status: number
  headers: Headers
  body: any
}

export interface Caller {
  client: OpenAI
  /** Every refused response, with its headers and full body (the SDK's error keeps only `error`). */
  refusals: Refusal[]
}

export function caller(gw: RunningHeimdall, apiKey: string, headers: Record<string, string> = {}): Caller {
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

export function ask(
  c: Caller,
  text = 'hello there',
  extra: Partial<OpenAI.ChatCompletionCreateParamsNonStreaming> = {},
) {
  return c.client.chat.completions
    .create({ model: MODEL, messages: [{ role: 'user', content: text }], ...extra })
    .withResponse()
}

/** What the gateway should charge for a gpt-4o-mini answer with this usage. */
export function costOf(usage: OpenAI.CompletionUsage | undefined | null): number {
  expect(usage).toBeTruthy()
  const result = computeCost('openai', 'gpt-4o-mini', usage as Usage)
  expect(result.priced).toBe(true)
  expect(result.cost).toBeGreaterThan(0)
  return result.cost
}

/** Dollar figures agree to the nano-dollar the counters keep. */
export function expectDollars(actual: unknown, expected: number): void {
  expect(typeof actual).toBe('number')
  expect(Math.abs((actual as number) - expected), `${actual as number} vs ${expected}`).toBeLessThan(1e-9)
}

/** The refusal of a request that must not be admitted: the SDK's error and the full response. */
export async function refused(c: Caller, call: Promise<unknown>): Promise<Refusal & { err: APIError }> {
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
export function expectDecision(r: Refusal, type: string, status: number): void {
  expect(r.status).toBe(status)
  expect(r.body).toMatchObject({
    type,
    is_bifrost_error: false,
    status_code: status,
    error: { message: expect.any(String) },
  })
}

export const SETUPS = [setup('sqlite', 'memory'), setup('postgres', 'redis'), setup('sqlite', 'redis')]

/** The servers of one setup's tests, closed with the fake provider after the file's last test. */
export function enforcementServers(s: Setup) {
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
  return { config, start, server }
}
