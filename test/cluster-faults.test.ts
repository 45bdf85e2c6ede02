import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, describe, expect, it, onTestFinished } from 'vitest'
import { fromUnits } from '../src/cluster/index.js'
import { computeCost } from '../src/governance/pricing/index.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { build, fakeOpenAIConfig, startNodeWithConfig, stopNodes, type RunningCli } from './helpers/cli.js'
import { postgresBackend, withPgClient } from './helpers/databases.js'
import { FaultProxy, timeUntil } from './helpers/fault-proxy.js'
import { callJson } from './helpers/heimdall.js'
import { killOwnRedises, startOwnRedis, type OwnRedis } from './helpers/redis-server.js'

/**
 * Three Heimdall processes (the built `heimdall` command) on one PostgreSQL database and one
 * redis-server of this test's own, with the faults injected by the test: Redis restarted empty,
 * frozen (SIGSTOP) under load, stopped and started; PostgreSQL cut and paused behind a TCP proxy
 * (nodes B and C reach it through the proxy, A directly); a node killed with SIGKILL while its
 * requests are in flight. Each scenario prints one line of figures (`cluster-faults: ...`).
 */

const STORE_TIMEOUT_MS = 2000
const RECONCILE_MS = 1000
const RESERVATION_TTL_S = 4
const PREFIX = 'faults:'
const HOUR_LIMIT = 30

const backend = postgresBackend('faults')
let fake: FakeServer | undefined
let proxy: FaultProxy | undefined
let redis: OwnRedis | undefined
let dbUrl = ''
const nodes: RunningCli[] = []
const urls: string[] = []
const dirs: string[] = []

afterAll(async () => {
  await stopNodes(nodes, dirs)
  await proxy?.close()
  await fake?.close()
  await redis?.stop()
  await killOwnRedises()
  await backend.teardown()
}, 30_000)

interface Answer {
  status: number
  body: any
  cost: number
}

/** One chat completion through a node with a virtual key, with what it cost. */
async function chat(node: number, vk: string): Promise<Answer> {
  const res = await fetch(`${urls[node]}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${vk}` },
    body: JSON.stringify({
      model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: 'cluster faults' }],
      max_tokens: 16,
    }),
    signal: AbortSignal.timeout(20_000),
  })
  const text = await res.text()
  const body = text ? JSON.parse(text) : text
  const cost = res.status === 200 ? computeCost('openai', 'gpt-4o-mini', body.usage).cost : 0
  return { status: res.status, body, cost }
}

/** `n` requests spread over the nodes, all at once. */
function burst(n: number, vk: string, over = [0, 1, 2]): Promise<Answer[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => chat(over[i % over.length], vk)))
}

interface Key {
  id: string
  value: string
  budgetId?: string
  rateLimitId?: string
}

async function createKey(name: string, limits: { budget?: number; requestsPerHour?: number }): Promise<Key> {
  const created = await callJson(urls[0], 'POST', '/api/governance/virtual-keys', {
    name,
    provider_configs: [{ provider: 'openai', allowed_models: ['*'], key_ids: ['*'] }],
    ...(limits.budget && { budgets: [{ max_limit: limits.budget, reset_duration: '1h' }] }),
    ...(limits.requestsPerHour && {
      rate_limit: { request_max_limit: limits.requestsPerHour, request_reset_duration: '1h' },
    }),
  })
  expect(created.status, JSON.stringify(created.body)).toBe(200)
  const vk = created.body.virtual_key
  // Every node knows the key before the scenario starts.
  for (const node of [0, 1, 2])
    await timeUntil(
      async () => (await callJson(urls[node], 'GET', `/api/governance/virtual-keys/${vk.id}`)).status === 200,
      5000,
    )
  return { id: vk.id, value: vk.value, budgetId: vk.budgets?.[0]?.id, rateLimitId: vk.rate_limit?.id }
}

/** The hash of a counter's current window in Redis, from the window start the API reports. */
async function windowHash(key: Key, kind: 'budget' | 'requests'): Promise<string> {
  const read = await callJson(urls[0], 'GET', `/api/governance/virtual-keys/${key.id}`)
  const vk = read.body.virtual_key
  if (kind === 'budget') return `${PREFIX}w:budget:${key.budgetId}:${Date.parse(vk.budgets[0].last_reset)}`
  return `${PREFIX}w:rl:${key.rateLimitId}:req:${Date.parse(vk.rate_limit.request_last_reset)}`
}

/** Used (settled) and held amounts of a counter window, read from Redis directly. */
async function redisUsage(hash: string): Promise<{ used: number; holds: number }> {
  const r = redis!.client()
  const [[, time], [, used]] = (await r.multi().time().hget(hash, 'u').exec()) as [
    [null, [string, string]],
    [null, string | null],
  ]
  const now = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000)
  // Holds that have not expired (the scripts prune the others on their next call).
  const holds = await r.zcount(hash.replace(`${PREFIX}w:`, `${PREFIX}wr:`), `(${now}`, '+inf')
  return { used: fromUnits(BigInt(used ?? '0')), holds }
}

/** Usage as the config store holds it (written back by the nodes). */
async function storedUsage(key: Key): Promise<{ spend: number; requests: number }> {
  return withPgClient(dbUrl, async (c) => {
    const b = key.budgetId
      ? await c.query('SELECT current_usage FROM gov_budgets WHERE id = $1', [key.budgetId])
      : undefined
    const rl = key.rateLimitId
      ? await c.query('SELECT request_current_usage FROM gov_rate_limits WHERE id = $1', [key.rateLimitId])
      : undefined
    return {
      spend: Number(b?.rows[0]?.current_usage ?? 0),
      requests: Number(rl?.rows[0]?.request_current_usage ?? 0),
    }
  })
}

/** A streamed chat through a node, once its first bytes arrived; `rest()` reads it to the end. */
async function firstChunk(node: number, vk: string): Promise<{ status: number; rest(): Promise<void> }> {
  const res = await fetch(`${urls[node]}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${vk}` },
    body: JSON.stringify({
      model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: 'cluster faults mid-stream' }],
      stream: true,
    }),
    signal: AbortSignal.timeout(20_000),
  })
  const reader = res.body!.getReader()
  const first = await reader.read()
  expect(new TextDecoder().decode(first.value)).toContain('data: ')
  return {
    status: res.status,
    async rest() {
      while (!(await reader.read()).done);
    },
  }
}

const count = (answers: Answer[], status: number) => answers.filter((a) => a.status === status).length
const sum = (answers: Answer[]) => answers.reduce((s, a) => s + a.cost, 0)

describe('three nodes (child processes) under Redis and PostgreSQL faults', () => {
  it('start on one database of their own and one redis-server of their own', async () => {
    build()
    fake = await startFakeOpenAI()
    redis = await startOwnRedis()
    dbUrl = await backend.freshUrl()
    const pgTarget = new URL(dbUrl)
    proxy = await FaultProxy.start({ host: pgTarget.hostname, port: Number(pgTarget.port || 5432) })
    const proxied = new URL(dbUrl)
    proxied.host = `127.0.0.1:${proxy.port}`
    // One at a time: the first runs the migrations.
    for (const [i, connection] of [dbUrl, proxied.toString(), proxied.toString()].entries()) {
      const config = {
        config_store: {
          enabled: true,
          type: 'postgres',
          config: {
            connection_string: connection,
            connect_timeout_ms: STORE_TIMEOUT_MS,
            query_timeout_ms: STORE_TIMEOUT_MS,
            reconcile_interval_ms: RECONCILE_MS,
          },
        },
        cluster: { redis_url: redis.url, prefix: PREFIX, reservation_ttl_seconds: RESERVATION_TTL_S },
        client: { enforce_auth_on_inference: true },
        providers: { openai: fakeOpenAIConfig(fake.url) },
      }
      const { node, url } = await startNodeWithConfig(config, `faults-${i}`, dirs)
      nodes.push(node)
      urls.push(url)
    }
  }, 180_000)

  it('a. Redis restarted empty: no spend and no request is lost, and a 30-an-hour key serves exactly 30 across the restart', async () => {
    const spender = await createKey('spender', { budget: 1000 })
    const limited = await createKey('limited', { requestsPerHour: HOUR_LIMIT })
    fake!.latencyMs = 20
    const before = await burst(30, spender.value)
    const limitedBefore = await burst(12, limited.value)
    expect(count(before, 200)).toBe(30)
    expect(count(limitedBefore, 200)).toBe(12)
    // Restarted before any write-back (every 5 s) could carry all of it to the store.
    await redis!.restartEmpty()
    const restartedAt = performance.now()
    const after = await burst(30, spender.value)
    const afterMs = Math.round(performance.now() - restartedAt)
    const limitedAfter = await burst(40, limited.value)
    expect(count(after, 200)).toBe(30)
    const served = 12 + count(limitedAfter, 200)
    expect(count(limitedAfter, 429)).toBe(40 - count(limitedAfter, 200))

    const charged = sum(before) + sum(after)
    const budgetHash = await windowHash(spender, 'budget')
    const requestsHash = await windowHash(limited, 'requests')
    const inRedis = await redisUsage(budgetHash)
    const requestsInRedis = (await redisUsage(requestsHash)).used
    // Each charge is kept in Redis to the nano-dollar.
    expect(Math.abs(inRedis.used - charged)).toBeLessThanOrEqual(60e-9)
    expect(requestsInRedis).toBe(HOUR_LIMIT)
    // The store catches up within a write-back interval, never above or below.
    await timeUntil(async () => (await storedUsage(spender)).spend >= charged - 1e-12, 12_000)
    await timeUntil(async () => (await storedUsage(limited)).requests >= HOUR_LIMIT, 12_000)
    const stored = await storedUsage(spender)
    expect(stored.spend).toBeCloseTo(charged, 12)
    expect((await storedUsage(limited)).requests).toBe(HOUR_LIMIT)
    console.log(
      `cluster-faults a (Redis restarted empty): spend charged $${charged.toFixed(9)} over 60 requests, ` +
        `Redis after reseed $${inRedis.used.toFixed(9)}, store $${stored.spend.toFixed(9)}, lost $${Math.max(0, charged - inRedis.used).toFixed(9)}; ` +
        `${HOUR_LIMIT}/hour key served ${served} (12 before the restart); first 30 requests after the restart took ${afterMs} ms`,
    )
    expect(served).toBe(HOUR_LIMIT)
  }, 60_000)

  it('b. Redis frozen (SIGSTOP) for 6 s under load: 503 naming Redis, no hold left after SIGCONT, the key then serves exactly what is left', async () => {
    const key = await createKey('stalled', { requestsPerHour: HOUR_LIMIT })
    fake!.latencyMs = 100
    const hash = await windowHash(key, 'requests')
    const outcomes: (Answer & { ms: number })[] = []
    let loading = true
    const workers = [0, 1, 2, 0, 1, 2].map(async (node) => {
      while (loading) {
        const t = performance.now()
        const a = await chat(node, key.value)
        outcomes.push({ ...a, ms: Math.round(performance.now() - t) })
      }
    })
    await sleep(150)
    redis!.freeze()
    onTestFinished(() => redis!.thaw())
    const frozenAt = performance.now()
    await sleep(6000)
    redis!.thaw()
    const frozenMs = Math.round(performance.now() - frozenAt)
    loading = false
    await Promise.all(workers)
    const refused = outcomes.filter((o) => o.status === 503)
    const slowest = Math.max(...refused.map((o) => o.ms))
    expect(refused.length).toBeGreaterThan(0)
    for (const r of refused) {
      expect(JSON.stringify(r.body)).toMatch(/governance_unavailable/)
      expect(r.body.error.message).toMatch(/Redis/)
    }
    const used = count(outcomes, 200)
    expect(used + refused.length).toBe(outcomes.length)
    // Settles and releases that failed during the freeze land once Redis answers again.
    const clearMs = await timeUntil(async () => (await redisUsage(hash)).holds === 0, 5000)
    expect(await redisUsage(hash)).toEqual({ used, holds: 0 })
    const then = await burst(HOUR_LIMIT + 10, key.value)
    console.log(
      `cluster-faults b (Redis frozen ${frozenMs} ms under 6 concurrent clients): ${outcomes.length} requests, ` +
        `${used} served, ${refused.length} answered 503 naming Redis (each within ${slowest} ms); holds left after SIGCONT: 0 (within ${clearMs} ms); ` +
        `then served ${count(then, 200)} of ${HOUR_LIMIT} - ${used} = ${HOUR_LIMIT - used}`,
    )
    expect(count(then, 200)).toBe(HOUR_LIMIT - used)
    // Bounded by Redis's command timeout (2 s), never a hang.
    expect(slowest).toBeLessThan(3000)
  }, 60_000)

  it('c. PostgreSQL cut: 503 store_unavailable naming the store (not 500), a key revoked meanwhile is refused within 2 s of its return; paused: 503 within the query timeout', async () => {
    const key = await createKey('revoked-during-cut', {})
    fake!.latencyMs = 0
    expect((await chat(1, key.value)).status).toBe(200)
    proxy!.cut()
    onTestFinished(() => proxy!.restore())
    const cutAt = performance.now()
    // Through A, which reaches PostgreSQL directly.
    const revoked = await callJson(urls[0], 'PUT', `/api/governance/virtual-keys/${key.id}`, {
      is_active: false,
    })
    expect(revoked.status, JSON.stringify(revoked.body)).toBe(200)
    const t0 = performance.now()
    const during = await callJson(urls[1], 'GET', '/api/governance/virtual-keys')
    const cutAnswerMs = Math.round(performance.now() - t0)
    expect(during.status, JSON.stringify(during.body)).toBe(503)
    expect(during.body.error).toMatchObject({ type: 'service_unavailable', code: 'store_unavailable' })
    expect(during.body.error.message).toMatch(/PostgreSQL store at 127\.0\.0\.1:\d+\/heimdall_faults_/)
    await sleep(Math.max(0, 3000 - (performance.now() - cutAt)))
    proxy!.restore()
    const convergeMs = await timeUntil(
      async () => [401, 403].includes((await chat(1, key.value)).status),
      10_000,
    )

    await timeUntil(
      async () => (await callJson(urls[1], 'GET', '/api/governance/virtual-keys')).status === 200,
      5000,
    )
    proxy!.pause()
    const t1 = performance.now()
    const paused = await callJson(urls[1], 'GET', '/api/governance/virtual-keys')
    const pausedMs = Math.round(performance.now() - t1)
    proxy!.restore()
    expect(paused.status, JSON.stringify(paused.body)).toBe(503)
    expect(paused.body.error.code).toBe('store_unavailable')
    console.log(
      `cluster-faults c (PostgreSQL cut ${Math.round(t0 - cutAt + 3000)} ms): B's management API answered 503 store_unavailable in ${cutAnswerMs} ms; ` +
        `the key revoked through A was refused by B ${convergeMs} ms after PostgreSQL returned; ` +
        `paused: 503 in ${pausedMs} ms (query timeout ${STORE_TIMEOUT_MS} ms)`,
    )
    expect(convergeMs).toBeLessThan(2000)
    expect(pausedMs).toBeLessThan(STORE_TIMEOUT_MS + 1000)
  }, 60_000)

  it('d. readiness of every node flips to 503 within 1 s of Redis stopping and back to 200 within 1 s of its return; liveness stays 200', async () => {
    const status = async (node: number, path: string) =>
      (await fetch(`${urls[node]}${path}`, { signal: AbortSignal.timeout(3000) })).status
    for (const n of [0, 1, 2]) expect(await status(n, '/health')).toBe(200)
    await redis!.down()
    const downAt = performance.now()
    const toDown = await Promise.all(
      [0, 1, 2].map((n) => timeUntil(async () => (await status(n, '/health')) === 503, 5000)),
    )
    for (const n of [0, 1, 2]) {
      expect(await status(n, '/health/ready')).toBe(503)
      expect(await status(n, '/health/live')).toBe(200)
    }
    await sleep(Math.max(0, 2000 - (performance.now() - downAt)))
    await redis!.up()
    const toUp = await Promise.all(
      [0, 1, 2].map((n) => timeUntil(async () => (await status(n, '/health')) === 200, 5000)),
    )
    for (const n of [0, 1, 2]) expect(await status(n, '/health/ready')).toBe(200)
    console.log(
      `cluster-faults d (readiness): /health 503 after Redis stopped in ${toDown.join(', ')} ms; ` +
        `200 after it returned in ${toUp.join(', ')} ms (nodes A, B, C); /health/live 200 throughout`,
    )
    expect(Math.max(...toDown)).toBeLessThan(1000)
    expect(Math.max(...toUp)).toBeLessThan(1000)
  }, 30_000)

  it('e. a node killed with SIGKILL mid-stream: its holds expire within the reservation TTL, the other nodes keep serving', async () => {
    const key = await createKey('killed-node', { requestsPerHour: 10 })
    const hash = await windowHash(key, 'requests')
    fake!.latencyMs = 0
    // The upstream sends two chunks of each stream, then nothing more.
    fake!.fail(...Array.from({ length: 5 }, () => ({ kind: 'stall' as const, afterEvents: 2 })))
    const streams = await Promise.all(Array.from({ length: 5 }, () => firstChunk(2, key.value)))
    for (const s of streams) expect(s.status).toBe(200)
    expect((await redisUsage(hash)).holds).toBe(5)
    nodes[2].proc.kill('SIGKILL')
    await nodes[2].exited
    // Each client's stream ends with an error, never a clean end.
    for (const s of streams) await expect(s.rest()).rejects.toThrow()
    // While C's holds live, A and B serve what is left (10 - 5).
    const during = await burst(5, key.value, [0, 1])
    expect(count(during, 200)).toBe(5)
    const expiredMs = await timeUntil(
      async () => (await redisUsage(hash)).holds === 0,
      RESERVATION_TTL_S * 1000 + 2000,
    )
    // C's requests were never settled: they cost nothing, and the room they held is back.
    const after = await burst(10, key.value, [0, 1])
    console.log(
      `cluster-faults e (node C killed with 5 streams half-sent): its 5 holds expired ${expiredMs} ms after the kill ` +
        `(reservation TTL ${RESERVATION_TTL_S} s); A and B served 5 while they lived and ${count(after, 200)} of the 5 left after`,
    )
    expect(expiredMs).toBeLessThanOrEqual(RESERVATION_TTL_S * 1000 + 500)
    expect(count(after, 200)).toBe(5)
    expect((await redisUsage(hash)).used).toBe(10)
  }, 60_000)
})
