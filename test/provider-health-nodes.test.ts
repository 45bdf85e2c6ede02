import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { handle as openAIAnswer } from './fakes/openai.js'
import { FakeServer } from './fakes/server.js'
import { build, startNodeWithConfig, stopNodes, type RunningCli } from './helpers/cli.js'
import { postgresBackend } from './helpers/databases.js'
import { deleteRedisKeys, REDIS_URL, redisPrefix } from './helpers/redis.js'
import { killOwnRedises, startOwnRedis, type OwnRedis } from './helpers/redis-server.js'

/**
 * Provider health held by `heimdall` processes sharing PostgreSQL and Redis, against a fake
 * OpenAI-format provider whose key `bad` fails on demand: a circuit that one node opens is skipped
 * by the others within a second, and by a node started later; an administrator's reset closes it
 * everywhere. And Bifrost's `circuit_breaker_config` / `load_balancer_config` in a config.json.
 */

let failing = false
let fake: FakeServer

function keyOf(headers: Record<string, unknown>): string {
  return String(headers.authorization ?? '').slice(7)
}

/** Requests the fake received with this key. */
const sentWith = (key: string) => fake.requests.filter((r) => keyOf(r.headers) === key).length

async function chat(url: string): Promise<number> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
  })
  await res.arrayBuffer()
  return res.status
}

async function target(url: string, keyId: string): Promise<any> {
  const res = await fetch(`${url}/api/provider-health?provider=openai`)
  expect(res.status).toBe(200)
  const body = (await res.json()) as any
  return body.providers[0].targets.find((t: any) => t.key_id === keyId && t.model === 'gpt-4o-mini')
}

/** Polls until the node shows the circuit in that state; the time it took, or fails after `ms`. */
async function until(url: string, keyId: string, circuit: string, ms: number): Promise<number> {
  const started = Date.now()
  let seen: any
  while (Date.now() - started < ms) {
    seen = await target(url, keyId)
    if (seen?.circuit === circuit) return Date.now() - started
    await sleep(20)
  }
  throw new Error(`${url}: ${keyId} is ${seen?.circuit ?? 'untracked'}, not ${circuit}, after ${ms} ms`)
}

beforeAll(async () => {
  build()
  fake = await new FakeServer(async (ctx) => {
    if (failing && keyOf(ctx.req.headers) === 'sk-bad') {
      ctx.res.writeHead(500, { 'content-type': 'application/json' })
      ctx.res.end(JSON.stringify({ error: { message: 'injected 500', type: 'server_error' } }))
      return
    }
    openAIAnswer(ctx)
  }).start()
}, 120_000)

afterAll(async () => {
  await fake?.close()
})

describe('provider health across nodes', () => {
  const pg = postgresBackend('health-nodes')
  const prefix = redisPrefix('heimdall-health-nodes')
  const nodes: RunningCli[] = []
  const dirs: string[] = []
  let config: Record<string, unknown>

  beforeAll(async () => {
    config = {
      config_store: { enabled: true, type: 'postgres', config: { connection_string: await pg.freshUrl() } },
      cluster: { redis_url: REDIS_URL, prefix },
      providers: {
        openai: {
          keys: ['bad', 'good'].map((n) => ({ id: n, name: n, value: `sk-${n}`, models: ['*'] })),
          network_config: { base_url: fake.url, retry_backoff_initial: 10, retry_backoff_max: 50 },
          circuit_breaker: { enabled: true, failure_threshold: 2, open_seconds: 120 },
        },
      },
    }
  })

  afterAll(async () => {
    await stopNodes(nodes, dirs)
    await deleteRedisKeys(prefix)
    await pg.teardown()
  }, 30_000)

  async function start(label: string): Promise<string> {
    const { node, url } = await startNodeWithConfig(config, label, dirs)
    nodes.push(node)
    return url
  }

  it('skips a key another node found failing within a second, on a node started later too; a reset closes it everywhere', async () => {
    // One at a time: the first runs the migrations.
    const a = await start('health-a')
    const b = await start('health-b')

    failing = true
    let sent = 0
    while ((await target(a, 'bad'))?.circuit !== 'open') {
      expect(++sent, 'node a never opened the circuit of the failing key').toBeLessThan(40)
      await chat(a) // 500 when it drew the bad key (no retries configured)
    }
    // Node b hears of it at once (the open message is published as the circuit opens).
    expect(await until(b, 'bad', 'open', 1000)).toBeLessThan(1000)
    expect((await target(b, 'bad')).reason).toContain('seen by another node')
    const before = sentWith('sk-bad')
    for (let i = 0; i < 10; i++) expect(await chat(b)).toBe(200)
    expect(sentWith('sk-bad')).toBe(before)

    // A node started now learns the open circuit from Redis before its first request.
    const c = await start('health-c')
    for (let i = 0; i < 10; i++) expect(await chat(c)).toBe(200)
    expect(sentWith('sk-bad')).toBe(before)
    expect((await target(c, 'bad')).circuit).toBe('open')

    // The provider is fixed; the administrator does not wait the 120 s out.
    failing = false
    const reset = await fetch(`${c}/api/provider-health/reset`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ provider: 'openai', key_id: 'bad' }),
    })
    expect(reset.status).toBe(200)
    expect(await reset.json()).toMatchObject({ reset: 1, shared: true })
    for (const url of [a, b, c]) await until(url, 'bad', 'closed', 1000)
    const redis = new Redis(REDIS_URL)
    try {
      expect(await redis.hlen(`${prefix}records:open-circuits`)).toBe(0)
    } finally {
      await redis.quit()
    }
    for (let i = 0; i < 30 && sentWith('sk-bad') === before; i++) expect(await chat(b)).toBe(200)
    expect(sentWith('sk-bad')).toBeGreaterThan(before)
  }, 120_000)

  it('answers a bad reset with a 400 naming the field, and an unknown provider with a 404', async () => {
    const url = nodes.length > 0 ? await nodes[0].url() : await start('health-d')
    const reset = async (body: unknown) => {
      const res = await fetch(`${url}/api/provider-health/reset`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
      return { status: res.status, body: (await res.json()) as any }
    }
    const missing = await reset({ key_id: 'bad' })
    expect(missing.status).toBe(400)
    expect(missing.body.error.param).toBe('provider')
    const wrong = await reset({ provider: 'openai', key_id: 7 })
    expect(wrong.status).toBe(400)
    expect(wrong.body.error.param).toBe('key_id')
    expect((await reset({ provider: 'nope' })).status).toBe(404)
  })
})

describe('provider health when Redis restarts empty or goes down', () => {
  const nodes: RunningCli[] = []
  const dirs: string[] = []
  let redis: OwnRedis

  afterAll(async () => {
    failing = false
    await stopNodes(nodes, dirs)
    await killOwnRedises()
  }, 30_000)

  it('stores open circuits again for later nodes, and serves from its own view while Redis is down', async () => {
    redis = await startOwnRedis()
    const config = {
      cluster: { redis_url: redis.url, prefix: 'h21:' },
      providers: {
        openai: {
          keys: ['bad', 'good'].map((n) => ({ id: n, name: n, value: `sk-${n}`, models: ['*'] })),
          network_config: { base_url: fake.url },
          circuit_breaker: { enabled: true, failure_threshold: 2, open_seconds: 120 },
        },
      },
    }
    const start = async (label: string) => {
      const { node, url } = await startNodeWithConfig(config, label, dirs)
      nodes.push(node)
      return url
    }
    const a = await start('redis-a')
    failing = true
    for (let sent = 0; (await target(a, 'bad'))?.circuit !== 'open'; sent++) {
      expect(sent, 'node a never opened the circuit of the failing key').toBeLessThan(40)
      await chat(a)
    }
    const stored = () => redis.client().hlen('h21:records:open-circuits')
    expect(await stored()).toBe(1)

    // Redis loses everything: node a stores its open circuit again once it is back.
    await redis.restartEmpty()
    const started = Date.now()
    while ((await stored()) === 0) {
      expect(Date.now() - started, 'the open circuit was not stored again').toBeLessThan(10_000)
      await sleep(50)
    }
    const b = await start('redis-b')
    const before = sentWith('sk-bad')
    for (let i = 0; i < 10; i++) expect(await chat(b)).toBe(200)
    expect(sentWith('sk-bad')).toBe(before)

    // Redis down: both nodes go on with what they know; callers see no error.
    await redis.down()
    for (const url of [a, b]) {
      for (let i = 0; i < 5; i++) expect(await chat(url)).toBe(200)
      expect((await target(url, 'bad')).circuit).toBe('open')
    }
    expect(sentWith('sk-bad')).toBe(before)
    await redis.up()
  }, 120_000)
})

describe("Bifrost's load_balancer_config and circuit_breaker_config in config.json", () => {
  const nodes: RunningCli[] = []
  const dirs: string[] = []

  afterAll(async () => {
    await stopNodes(nodes, dirs)
  })

  it("applies them to the file's providers and names each field it does not apply", async () => {
    const provider = (name: string) => ({
      keys: [{ id: name, name, value: `sk-${name}`, models: ['*'] }],
      network_config: { base_url: fake.url },
    })
    const { node, url } = await startNodeWithConfig(
      {
        providers: { openai: provider('bad'), groq: provider('good') },
        load_balancer_config: {
          enabled: true,
          prune_failed_fallbacks: true,
          tracker_config: { minimum_samples: 5 },
        },
        circuit_breaker_config: {
          policies: [
            {
              name: 'openai-ptu',
              enabled: true,
              primary_provider: 'openai',
              primary_model: 'gpt-4o-mini',
              fallback_provider: 'groq',
              fallback_model: 'llama-3.3-70b',
              condition: { signals: [{ source: 'response_header', header_name: 'x-overloaded' }] },
              default_cooldown: '45s',
            },
          ],
        },
      },
      'bifrost-resilience',
      dirs,
    )
    nodes.push(node)
    const health = (await (await fetch(`${url}/api/provider-health`)).json()) as any
    const byName = new Map<string, any>(health.providers.map((p: any) => [p.provider, p]))
    expect(byName.get('openai').circuit_breaker).toMatchObject({ enabled: true, open_seconds: 45 })
    expect(byName.get('groq').circuit_breaker.enabled).toBe(false)
    for (const p of ['openai', 'groq']) expect(byName.get(p).adaptive_load_balancing.enabled, p).toBe(true)

    const warnings = node
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; section?: string; msg: string })
      .filter((e) => e.level === 40)
    const lb = warnings.find((w) => w.section === 'load_balancer_config')?.msg
    expect(lb).toContain('prune_failed_fallbacks')
    expect(lb).toContain('tracker_config')
    const policy = warnings.find((w) => w.section === 'circuit_breaker_config.policies.0')?.msg
    for (const f of ['condition', 'fallback_provider', 'fallback_model', 'primary_model'])
      expect(policy).toContain(f)
    expect(
      warnings.some((w) => /not implemented by Heimdall/.test(w.msg) && /circuit|load_bal/.test(w.msg)),
    ).toBe(false)

    // The mapped breaker works: the failing key opens after Heimdall's default 5 failures, for 45 s.
    failing = true
    try {
      for (let i = 0; i < 5; i++) await chat(url)
      const t = await target(url, 'bad')
      expect(t.circuit).toBe('open')
      const openFor = Date.parse(t.open_until) - Date.now()
      expect(openFor).toBeGreaterThan(40_000)
      expect(openFor).toBeLessThanOrEqual(45_000)
    } finally {
      failing = false
    }
  }, 60_000)
})
