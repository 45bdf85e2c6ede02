import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, describe, expect, it } from 'vitest'
import { loadSnapshot } from '../src/governance/repo/index.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { callJson, fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'
import { killOwnRedises, startOwnRedis, type OwnRedis } from './helpers/redis-server.js'

/**
 * Governance counters in a Redis that fails: restarted without its data, and frozen (SIGSTOP) for
 * seconds. Each test runs its own redis-server and injects the fault itself. What must hold: no
 * spend and no request is forgotten (a key limited to N serves N in total), the stored usage never
 * goes down, a stall answers 503 naming Redis and leaves no hold behind.
 */

const LIMIT = 10
const STALL_LIMIT = 30

const opened: { close(): Promise<void> }[] = []
const redises: OwnRedis[] = []

afterAll(async () => {
  for (const o of opened.reverse()) await o.close().catch(() => undefined)
  for (const r of redises) await r.stop().catch(() => undefined)
  await killOwnRedises()
})

async function setup(): Promise<{ redis: OwnRedis; gw: RunningHeimdall; fake: FakeServer }> {
  const redis = await startOwnRedis()
  redises.push(redis)
  const fake = await startFakeOpenAI()
  opened.push(fake)
  const gw = await startHeimdall({
    config_store: { enabled: true, type: 'sqlite', config: {} },
    cluster: { redis_url: redis.url, reservation_ttl_seconds: 60 },
    providers: { openai: fakeProvider(fake.url) },
  })
  opened.push(gw)
  return { redis, gw, fake }
}

async function createKey(gw: RunningHeimdall, limit: number): Promise<{ id: string; value: string }> {
  const r = await callJson(gw.url, 'POST', '/api/governance/virtual-keys', {
    name: `vk-${limit}-${Date.now()}`,
    provider_configs: [{ provider: 'openai', allowed_models: ['*'], key_ids: ['*'] }],
    budget: { max_limit: 1000, reset_duration: '1d' },
    rate_limit: { request_max_limit: limit, request_reset_duration: '1h' },
  })
  expect(r.status, JSON.stringify(r.body)).toBe(200)
  return { id: r.body.virtual_key.id, value: r.body.virtual_key.value }
}

interface Outcome {
  status: number
  cost: number
  body: any
}

async function ask(gw: RunningHeimdall, key: string): Promise<Outcome> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-bf-vk': key },
    body: JSON.stringify({
      model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: 'hello there' }],
    }),
    signal: AbortSignal.timeout(15_000),
  })
  const body = await res.json()
  return { status: res.status, cost: Number(res.headers.get('x-bifrost-cost-usd') ?? 0), body }
}

/** The stored usage (config store), as a restarted node would seed it. */
async function stored(gw: RunningHeimdall, keyId: string): Promise<{ spend: number; requests: number }> {
  const snap = await loadSnapshot(gw.heimdall.store.db)
  const vk = snap.virtualKeys.find((k) => k.id === keyId)!
  return { spend: vk.budgets[0]?.current_usage ?? 0, requests: vk.rate_limit?.request_current_usage ?? 0 }
}

/** The live usage the management API shows. */
async function live(gw: RunningHeimdall, keyId: string): Promise<{ spend: number; requests: number }> {
  const r = await callJson(gw.url, 'GET', `/api/governance/virtual-keys/${keyId}`)
  expect(r.status, JSON.stringify(r.body)).toBe(200)
  const vk = r.body.virtual_key
  return { spend: vk.budgets[0].current_usage, requests: vk.rate_limit.request_current_usage }
}

describe('governance counters when Redis fails', () => {
  it('Redis restarted empty: counters are seeded from the store, a key limited to N serves N in total, stored usage never goes down', async () => {
    const { redis, gw, fake } = await setup()
    const key = await createKey(gw, LIMIT)
    let served = 0
    let spent = 0
    const storedSeen: { spend: number; requests: number }[] = []
    const watch = setInterval(() => {
      stored(gw, key.id).then(
        (s) => storedSeen.push(s),
        () => undefined,
      )
    }, 100)
    try {
      for (let i = 0; i < 4; i++) {
        const r = await ask(gw, key.value)
        expect(r.status, JSON.stringify(r.body)).toBe(200)
        served++
        spent += r.cost
      }
      // Wait for one write-back, then charge once more so that unwritten usage exists at the restart.
      for (let t = 0; t < 80 && (await stored(gw, key.id)).requests < 4; t++) await sleep(100)
      expect((await stored(gw, key.id)).requests).toBe(4)
      const r5 = await ask(gw, key.value)
      expect(r5.status).toBe(200)
      served++
      spent += r5.cost

      // One request is in flight across the restart, and settles after the counters were seeded again.
      fake.latencyMs = 2_500
      const inFlight = ask(gw, key.value)
      await sleep(300)
      fake.latencyMs = 0
      await redis.restartEmpty()
      expect(await redis.client().dbsize()).toBe(0)
      const first = await ask(gw, key.value)
      if (first.status === 200) {
        served++
        spent += first.cost
      }
      const late = await inFlight
      expect(late.status, JSON.stringify(late.body)).toBe(200)
      served++
      spent += late.cost

      // Call until the limit refuses three times in a row; a 503 while reconnecting is retried.
      let refusals = 0
      const statuses: number[] = []
      for (let i = 0; i < 60 && refusals < 3; i++) {
        const r = await ask(gw, key.value)
        statuses.push(r.status)
        if (r.status === 200) {
          served++
          spent += r.cost
          refusals = 0
        } else if (r.status === 429) {
          expect(r.body.type).toBe('request_limited')
          refusals++
        } else {
          expect(r.status, JSON.stringify(r.body)).toBe(503)
          await sleep(200)
        }
      }
      expect(refusals, statuses.join(',')).toBe(3)
      expect(served, statuses.join(',')).toBe(LIMIT)

      const now = await live(gw, key.id)
      expect(now.requests).toBe(LIMIT)
      expect(Math.abs(now.spend - spent)).toBeLessThan(1e-9)
      // The store catches up with every request and every cent.
      for (let t = 0; t < 80 && (await stored(gw, key.id)).requests < LIMIT; t++) await sleep(100)
      const final = await stored(gw, key.id)
      expect(final.requests).toBe(LIMIT)
      expect(Math.abs(final.spend - spent)).toBeLessThan(1e-9)
    } finally {
      clearInterval(watch)
    }
    for (let i = 1; i < storedSeen.length; i++) {
      expect(storedSeen[i].requests).toBeGreaterThanOrEqual(storedSeen[i - 1].requests)
      expect(storedSeen[i].spend).toBeGreaterThanOrEqual(storedSeen[i - 1].spend - 1e-12)
    }
  }, 60_000)

  it('Redis frozen for 6 s: requests get 503 naming Redis, and once it thaws no hold is left and the full limit is there', async () => {
    const { redis, gw } = await setup()
    const key = await createKey(gw, STALL_LIMIT)
    for (let i = 0; i < 5; i++) expect((await ask(gw, key.value)).status).toBe(200)

    const during: Outcome[] = []
    const waves: Promise<void>[] = []
    redis.freeze()
    try {
      const stallEnds = Date.now() + 6_000
      while (Date.now() < stallEnds) {
        waves.push(
          Promise.all(Array.from({ length: 5 }, () => ask(gw, key.value))).then((rs) => {
            during.push(...rs)
          }),
        )
        await sleep(500)
      }
      // Answers arrive within the command timeout, while Redis is still frozen.
      await Promise.all(waves.slice(0, -4))
      expect(during.length).toBeGreaterThanOrEqual(20)
      expect(during.every((r) => r.status === 503)).toBe(true)
    } finally {
      redis.thaw()
    }
    await Promise.all(waves)
    // Some of the last wave may be admitted after the thaw; every earlier one is a 503 naming Redis.
    const failed = during.filter((r) => r.status !== 200)
    expect(failed.length).toBeGreaterThanOrEqual(20)
    for (const r of failed) {
      expect(r.status, JSON.stringify(r.body)).toBe(503)
      expect(r.body.is_bifrost_error).toBe(true)
      expect(r.body.error.code ?? r.body.error.type).toBeDefined()
      expect(JSON.stringify(r.body)).toMatch(/governance_unavailable/)
      expect(r.body.error.message).toMatch(/Redis/)
    }
    const admittedDuring = during.filter((r) => r.status === 200).length

    // No hold is left: every window's `r` is gone and no hold member remains.
    const client = redis.client()
    let holds = -1
    for (let t = 0; t < 50; t++) {
      holds = 0
      for (const k of await client.keys('heimdall:wr:*')) holds += await client.zcard(k)
      if (holds === 0) break
      await sleep(100)
    }
    expect(holds).toBe(0)

    // The full limit is there: 30 minus what was admitted.
    let served = 5 + admittedDuring
    let refusals = 0
    for (let i = 0; i < STALL_LIMIT + 5 && refusals === 0; i++) {
      const r = await ask(gw, key.value)
      if (r.status === 200) served++
      else {
        expect(r.status, JSON.stringify(r.body)).toBe(429)
        refusals++
      }
    }
    expect(served).toBe(STALL_LIMIT)
    expect((await live(gw, key.id)).requests).toBe(STALL_LIMIT)
  }, 60_000)
})
