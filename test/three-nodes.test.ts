import { randomUUID } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { computeCost } from '../src/governance/pricing/index.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { alive, build, runCli, type RunningCli } from './helpers/cli.js'

/**
 * Three Heimdall processes sharing one PostgreSQL (configuration) and one Redis (counters and
 * change events), hit concurrently through all three with one virtual key: request limits hold
 * exactly, spend stays within the budget, and a key revoked on one node is refused by the others.
 */
const PG_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

describe('three nodes sharing PostgreSQL and Redis', () => {
  const dbName = `heimdall_3n_${randomUUID().replace(/-/g, '').slice(0, 12)}`
  const prefix = `heimdall-3n-${randomUUID().slice(0, 8)}:`
  let fake: FakeServer
  const nodes: RunningCli[] = []
  const urls: string[] = []
  const dirs: string[] = []

  const admin = (node: number, path: string, init: { method?: string; body?: unknown } = {}) =>
    fetch(`${urls[node]}${path}`, {
      method: init.method ?? 'GET',
      headers: { 'content-type': 'application/json' },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }))

  const chat = async (node: number, vk: string) => {
    const res = await fetch(`${urls[node]}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${vk}` },
      body: JSON.stringify({
        model: 'openai/gpt-4o-mini',
        messages: [{ role: 'user', content: 'three nodes' }],
        max_tokens: 16,
      }),
    })
    return { status: res.status, body: (await res.json()) as any }
  }

  beforeAll(async () => {
    build()
    const client = new pg.Client({ connectionString: PG_URL })
    await client.connect()
    await client.query(`CREATE DATABASE ${dbName}`)
    await client.end()
    fake = await startFakeOpenAI()
    fake.latencyMs = 20
    const config = {
      config_store: {
        enabled: true,
        type: 'postgres',
        config: { connection_string: PG_URL.replace(/\/[^/]*$/, `/${dbName}`) },
      },
      cluster: { redis_url: REDIS_URL, prefix },
      client: { enforce_auth_on_inference: true },
      providers: {
        openai: {
          keys: [{ name: 'k', value: 'sk-test', models: ['*'] }],
          network_config: { base_url: fake.url },
        },
      },
    }
    // One at a time: the first runs the migrations.
    for (let i = 0; i < 3; i++) {
      const dir = await mkdtemp(join(tmpdir(), `heimdall-node${i}-`))
      dirs.push(dir)
      await writeFile(join(dir, 'config.json'), JSON.stringify(config))
      const node = runCli(['--app-dir', dir, '--port', '0', '--log-level', 'info'])
      nodes.push(node)
      urls.push(await node.url())
    }
  }, 60_000)

  afterAll(async () => {
    for (const n of nodes) if (alive(n)) n.proc.kill('SIGTERM')
    await Promise.all(nodes.map((n) => Promise.race([n.exited, sleep(5000)])))
    for (const n of nodes) if (alive(n)) n.proc.kill('SIGKILL')
    await fake?.close()
    for (const d of dirs) await rm(d, { recursive: true, force: true })
    const client = new pg.Client({ connectionString: PG_URL })
    await client.connect()
    await client.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`)
    await client.end()
    const redis = new Redis(REDIS_URL)
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length) await redis.del(...keys)
    await redis.quit()
  }, 30_000)

  it('holds a request limit exactly under concurrent load through all three nodes', async () => {
    const created = await admin(0, '/api/governance/virtual-keys', {
      method: 'POST',
      body: {
        name: 'limited',
        provider_configs: [{ provider: 'openai', allowed_models: ['*'], key_ids: ['*'] }],
        rate_limit: { request_max_limit: 25, request_reset_duration: '1h' },
      },
    })
    expect(created.status).toBe(200)
    const vk = created.body.virtual_key.value as string
    await sleep(300) // the other nodes hear of the new key
    const sent = 90
    const results = await Promise.all(Array.from({ length: sent }, (_, i) => chat(i % 3, vk)))
    const admitted = results.filter((r) => r.status === 200).length
    const limited = results.filter((r) => r.status === 429)
    expect(admitted).toBe(25)
    expect(limited).toHaveLength(sent - 25)
    expect(limited.every((r) => r.body.type === 'request_limited')).toBe(true)
    const read = await admin(2, `/api/governance/virtual-keys/${created.body.virtual_key.id}`)
    expect(read.body.virtual_key.rate_limit.request_current_usage).toBe(25)
    console.log(
      `three nodes, request limit: sent ${sent}, admitted ${admitted}, refused ${limited.length}, limit 25`,
    )
  }, 60_000)

  it('keeps spend within the budget under concurrent load through all three nodes', async () => {
    // The cost of one request, from the fake's usage for this prompt.
    const probe = await admin(0, '/api/governance/virtual-keys', {
      method: 'POST',
      body: {
        name: 'probe',
        provider_configs: [{ provider: 'openai', allowed_models: ['*'], key_ids: ['*'] }],
      },
    })
    await sleep(300)
    const one = await chat(0, probe.body.virtual_key.value)
    const perRequest = computeCost('openai', 'gpt-4o-mini', one.body.usage).cost
    expect(perRequest).toBeGreaterThan(0)
    const budget = perRequest * 20.5
    const created = await admin(1, '/api/governance/virtual-keys', {
      method: 'POST',
      body: {
        name: 'budgeted',
        provider_configs: [{ provider: 'openai', allowed_models: ['*'], key_ids: ['*'] }],
        budgets: [{ max_limit: budget, reset_duration: '1d' }],
      },
    })
    expect(created.status).toBe(200)
    const vk = created.body.virtual_key.value as string
    await sleep(300)
    let sent = 0
    let admitted = 0
    let spend = 0
    let refused = 0
    // Waves of 30 concurrent requests until the budget refuses everything.
    for (let wave = 0; wave < 10 && refused < 30; wave++) {
      const results = await Promise.all(Array.from({ length: 30 }, (_, i) => chat(i % 3, vk)))
      sent += results.length
      refused = 0
      for (const r of results) {
        if (r.status === 200) {
          admitted++
          spend += computeCost('openai', 'gpt-4o-mini', r.body.usage).cost
        } else {
          expect(r.status).toBe(402)
          expect(r.body.type).toBe('budget_exceeded')
          refused++
        }
      }
    }
    // Never more than what was in flight when it ran out: here at most one request's cost.
    expect(spend).toBeLessThanOrEqual(budget + perRequest + 1e-12)
    expect(admitted).toBeGreaterThanOrEqual(20)
    const read = await admin(2, `/api/governance/virtual-keys/${created.body.virtual_key.id}`)
    expect(read.body.virtual_key.budgets[0].current_usage).toBeCloseTo(spend, 9)
    console.log(
      `three nodes, budget: sent ${sent}, admitted ${admitted}, budget $${budget.toFixed(9)}, spend $${spend.toFixed(9)} (${((spend / budget) * 100).toFixed(1)}% of budget), one request $${perRequest.toFixed(9)}`,
    )
  }, 90_000)

  it('refuses a key revoked on one node at every node within a second', async () => {
    const created = await admin(0, '/api/governance/virtual-keys', {
      method: 'POST',
      body: {
        name: 'revoked',
        provider_configs: [{ provider: 'openai', allowed_models: ['*'], key_ids: ['*'] }],
      },
    })
    const vk = created.body.virtual_key.value as string
    await sleep(300)
    for (let n = 0; n < 3; n++) expect((await chat(n, vk)).status).toBe(200)
    const t0 = Date.now()
    const update = await admin(1, `/api/governance/virtual-keys/${created.body.virtual_key.id}`, {
      method: 'PUT',
      body: { is_active: false },
    })
    expect(update.status).toBe(200)
    const refusedAt: number[] = []
    for (const n of [0, 2]) {
      for (;;) {
        const r = await chat(n, vk)
        if (r.status === 403) {
          expect(r.body.type).toBe('virtual_key_blocked')
          refusedAt.push(Date.now() - t0)
          break
        }
        expect(Date.now() - t0).toBeLessThan(1000)
        await sleep(20)
      }
    }
    console.log(`three nodes, revocation: refused by the other nodes after ${refusedAt.join(' and ')} ms`)
  }, 30_000)

  it('applies a provider added on one node at the others', async () => {
    const add = await admin(2, '/api/providers', {
      method: 'POST',
      body: {
        provider: 'groq',
        keys: [{ name: 'g', value: 'sk-groq', models: ['*'] }],
        network_config: { base_url: fake.url },
      },
    })
    expect(add.status).toBe(200)
    const created = await admin(0, '/api/governance/virtual-keys', {
      method: 'POST',
      body: {
        name: 'groq-user',
        provider_configs: [{ provider: 'groq', allowed_models: ['*'], key_ids: ['*'] }],
      },
    })
    await sleep(500)
    const res = await fetch(`${urls[0]}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${created.body.virtual_key.value}`,
      },
      body: JSON.stringify({ model: 'groq/llama-3.1-8b', messages: [{ role: 'user', content: 'hi' }] }),
    })
    expect(res.status).toBe(200)
  }, 30_000)

  it('holds a model request limit exactly and a provider budget within the in-flight bound across the three nodes', async () => {
    const created = await admin(0, '/api/governance/virtual-keys', {
      method: 'POST',
      body: {
        name: 'model-limits',
        provider_configs: [{ provider: 'openai', allowed_models: ['*'], key_ids: ['*'] }],
      },
    })
    const vk = created.body.virtual_key.value as string
    const chatModel = (node: number, model: string) =>
      fetch(`${urls[node]}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${vk}` },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'three nodes' }], max_tokens: 16 }),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }))
    const mc = await admin(1, '/api/governance/model-configs', {
      method: 'POST',
      body: {
        model_name: 'gpt-4o',
        provider: 'openai',
        rate_limit: { request_max_limit: 20, request_reset_duration: '1h' },
      },
    })
    expect(mc.status).toBe(200)
    await sleep(300)
    const limited = await Promise.all(Array.from({ length: 60 }, (_, i) => chatModel(i % 3, 'openai/gpt-4o')))
    expect(limited.filter((r) => r.status === 200)).toHaveLength(20)
    expect(limited.filter((r) => r.status === 429 && r.body.type === 'request_limited')).toHaveLength(40)

    const one = await chatModel(0, 'openai/gpt-4o-mini')
    const perRequest = computeCost('openai', 'gpt-4o-mini', one.body.usage).cost
    const budget = perRequest * 10.5
    const put = await admin(2, '/api/governance/providers/openai', {
      method: 'PUT',
      body: { budgets: [{ max_limit: budget, reset_duration: '1d' }] },
    })
    expect(put.status).toBe(200)
    await sleep(300)
    let spend = 0
    let admitted = 0
    let refused = 0
    for (let wave = 0; wave < 6 && refused < 30; wave++) {
      const results = await Promise.all(
        Array.from({ length: 30 }, (_, i) => chatModel(i % 3, 'openai/gpt-4o-mini')),
      )
      refused = 0
      for (const r of results) {
        if (r.status === 200) {
          admitted++
          spend += computeCost('openai', 'gpt-4o-mini', r.body.usage).cost
        } else {
          expect(r.body.type).toBe('budget_exceeded')
          refused++
        }
      }
    }
    expect(refused).toBe(30)
    expect(admitted).toBeGreaterThanOrEqual(10)
    expect(spend).toBeLessThanOrEqual(budget + perRequest + 1e-12)
    console.log(
      `three nodes, provider budget: admitted ${admitted}, budget $${budget.toFixed(9)}, spend $${spend.toFixed(9)}; model limit: 20 of 60`,
    )
    expect((await fetch(`${urls[0]}/api/governance/providers/openai`, { method: 'DELETE' })).status).toBe(200)
    const removed = await fetch(`${urls[1]}/api/governance/model-configs/${mc.body.model_config.id}`, {
      method: 'DELETE',
    })
    expect(removed.status).toBe(200)
  }, 60_000)
})
