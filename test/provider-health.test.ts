import { setTimeout as sleep } from 'node:timers/promises'
import Anthropic from '@anthropic-ai/sdk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ConfigFile } from '../src/core/schemas/index.js'
import { handle as openAIAnswer } from './fakes/openai.js'
import { FakeServer } from './fakes/server.js'
import { callJson, fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'
import { deleteRedisKeys, REDIS_URL, redisPrefix } from './helpers/redis.js'

/**
 * Provider health with fake OpenAI-format providers whose keys misbehave one by one (the key is
 * read from the Authorization header): circuit breakers that open and probe back, the 503 when
 * every target is open, adaptive weights, circuits shared by two nodes over Redis, SSE keep-alive
 * comments, and streams that fail over before their first byte and end with an error after it.
 */

/** What each key's requests get: an error status (with Retry-After), or added latency. */
const behaviour = new Map<string, { status?: number; retryAfter?: string; latencyMs?: number }>()
let fake: FakeServer

function keyOf(headers: Record<string, unknown>): string {
  return String(headers.authorization ?? '').slice(7)
}

/** How many requests each key received since `from` (an index into the fake's requests). */
function served(from = 0): Record<string, number> {
  const out: Record<string, number> = {}
  for (const r of fake.requests.slice(from)) out[keyOf(r.headers)] = (out[keyOf(r.headers)] ?? 0) + 1
  return out
}

const breaker = (extra: Record<string, unknown> = {}) => ({
  enabled: true,
  failure_threshold: 3,
  open_seconds: 1.5,
  window_seconds: 10,
  ...extra,
})

function config(extra: Partial<ConfigFile> = {}): ConfigFile {
  const keys = (...names: string[]) => names.map((n) => ({ id: n, name: n, value: `sk-${n}`, models: ['*'] }))
  return {
    client: { stream_keepalive_seconds: 0.2 },
    providers: {
      openai: fakeProvider(fake.url, { circuit_breaker: breaker() }, keys('a', 'b')),
      groq: fakeProvider(fake.url, { circuit_breaker: breaker({ failure_threshold: 2 }) }, keys('g')),
      deepseek: fakeProvider(
        fake.url,
        { adaptive_load_balancing: { enabled: true, recompute_seconds: 0.05, min_weight_ratio: 0.1 } },
        keys('fast', 'slow'),
      ),
      xai: fakeProvider(
        fake.url,
        { adaptive_load_balancing: { enabled: true, recompute_seconds: 0.05 } },
        keys('x'),
      ),
      mistral: fakeProvider(fake.url, { network_config: { stream_idle_timeout_in_seconds: 1 } }, keys('m')),
    },
    ...extra,
  }
}

function post(node: RunningHeimdall, model: string, headers: Record<string, string>, extra: object) {
  return fetch(`${node.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], ...extra }),
  })
}

async function chat(
  node: RunningHeimdall,
  model: string,
  headers: Record<string, string> = {},
  extra: Record<string, unknown> = {},
) {
  const res = await post(node, model, headers, extra)
  return { status: res.status, headers: res.headers, body: (await res.json()) as any }
}

/** Waits until an open circuit's time is over (its next request is a probe). */
async function probeTime(node: RunningHeimdall, provider: string, keyId: string) {
  const until = Date.parse((await target(node, provider, keyId)).open_until)
  await sleep(Math.max(0, until - Date.now() + 20))
}

async function target(node: RunningHeimdall, provider: string, keyId: string) {
  const res = await callJson(node.url, 'GET', `/api/provider-health?provider=${provider}`)
  expect(res.status).toBe(200)
  return (res.body.providers[0].targets as any[]).find((t) => t.key_id === keyId)
}

beforeAll(async () => {
  fake = await new FakeServer(async (ctx) => {
    const b = behaviour.get(keyOf(ctx.req.headers))
    if (b?.latencyMs) await sleep(b.latencyMs)
    if (b?.status) {
      const headers: Record<string, string> = { 'content-type': 'application/json' }
      if (b.retryAfter) headers['retry-after'] = b.retryAfter
      ctx.res.writeHead(b.status, headers)
      ctx.res.end(JSON.stringify({ error: { message: `injected ${b.status}`, type: 'server_error' } }))
      return
    }
    openAIAnswer(ctx)
  }).start()
})

afterAll(async () => {
  await fake?.close()
})

describe('provider health on one node', () => {
  let h: RunningHeimdall

  beforeAll(async () => {
    h = await startHeimdall(config())
  })
  afterAll(async () => {
    await h?.close()
  })

  it('opens the circuit of a failing key, moves traffic to the healthy one, then probes it back', async () => {
    behaviour.set('sk-a', { status: 500 })
    // Three failures pinned to key a open its circuit.
    for (let i = 0; i < 3; i++)
      expect((await chat(h, 'openai/gpt-4o-mini', { 'x-bf-api-key': 'a' })).status).toBe(500)
    const open = await target(h, 'openai', 'a')
    expect(open).toMatchObject({ circuit: 'open', status: 'unhealthy', consecutive_failures: 3, errors: 3 })
    expect(open.reason).toContain('3 consecutive failures')

    // Pinned to the open key: refused at once, nothing sent upstream.
    const before = fake.requests.length
    const refused = await chat(h, 'openai/gpt-4o-mini', { 'x-bf-api-key': 'a' })
    expect(refused.status).toBe(503)
    expect(refused.body.error.code).toBe('circuit_open')
    expect(fake.requests.length).toBe(before)

    // Unpinned traffic all goes to key b.
    for (let i = 0; i < 10; i++) expect((await chat(h, 'openai/gpt-4o-mini')).status).toBe(200)
    expect(served(before)).toEqual({ 'sk-b': 10 })

    // Healed, and the open time over: the next request that picks a is the probe, which closes it.
    behaviour.delete('sk-a')
    await probeTime(h, 'openai', 'a')
    expect((await target(h, 'openai', 'a')).circuit).toBe('half_open')
    expect((await chat(h, 'openai/gpt-4o-mini', { 'x-bf-api-key': 'a' })).status).toBe(200)
    expect(await target(h, 'openai', 'a')).toMatchObject({ circuit: 'closed', consecutive_failures: 0 })
    const after = fake.requests.length
    for (let i = 0; i < 20; i++) await chat(h, 'openai/gpt-4o-mini')
    expect(served(after)['sk-a']).toBeGreaterThan(0)
  })

  it('reopens the circuit when the probe fails', async () => {
    behaviour.set('sk-a', { status: 502 })
    for (let i = 0; i < 3; i++) await chat(h, 'openai/gpt-4o-mini', { 'x-bf-api-key': 'a' })
    expect((await target(h, 'openai', 'a')).circuit).toBe('open')
    await probeTime(h, 'openai', 'a')
    expect((await chat(h, 'openai/gpt-4o-mini', { 'x-bf-api-key': 'a' })).status).toBe(502)
    const reopened = await target(h, 'openai', 'a')
    expect(reopened.circuit).toBe('open')
    expect(reopened.reason).toContain('the probe request failed')
    behaviour.delete('sk-a')
    await probeTime(h, 'openai', 'a')
    expect((await chat(h, 'openai/gpt-4o-mini', { 'x-bf-api-key': 'a' })).status).toBe(200)
  })

  it('keeps a key that answered 429 with Retry-After out for as long as it asked', async () => {
    behaviour.set('sk-b', { status: 429, retryAfter: '3' })
    expect((await chat(h, 'openai/gpt-4o-mini', { 'x-bf-api-key': 'b' })).status).toBe(429)
    behaviour.delete('sk-b')
    const b = await target(h, 'openai', 'b')
    expect(b.circuit).toBe('open')
    expect(b.reason).toContain('Retry-After 3s')
    const before = fake.requests.length
    for (let i = 0; i < 5; i++) expect((await chat(h, 'openai/gpt-4o-mini')).status).toBe(200)
    expect(served(before)).toEqual({ 'sk-a': 5 })
  })

  it('answers 503 at once, naming the reason, when every target is open; a healthy fallback serves', async () => {
    behaviour.set('sk-g', { status: 503 })
    for (let i = 0; i < 2; i++) expect((await chat(h, 'groq/llama-3.3-70b')).status).toBe(503)
    const before = fake.requests.length
    const res = await chat(h, 'groq/llama-3.3-70b')
    expect(fake.requests.length).toBe(before)
    expect(res.status).toBe(503)
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/)
    expect(res.body).toMatchObject({
      is_bifrost_error: true,
      status_code: 503,
      error: { type: 'service_unavailable', code: 'circuit_open' },
    })
    expect(res.body.error.message).toContain('every key of groq that serves llama-3.3-70b is unhealthy')
    expect(res.body.error.message).toContain('2 consecutive failures')

    // The open provider is skipped before any byte; the fallback serves.
    const viaFallback = await chat(h, 'groq/llama-3.3-70b', {}, { fallbacks: ['openai/gpt-4o-mini'] })
    expect(viaFallback.status).toBe(200)
    expect(Object.keys(served(before))).not.toContain('sk-g')
    const health = await callJson(h.url, 'GET', '/api/provider-health?provider=groq')
    expect(health.body.providers[0]).toMatchObject({ provider: 'groq', status: 'unhealthy' })
    behaviour.delete('sk-g')
  })

  it('shifts traffic from a slowed key to the fast one, and back when it heals', async () => {
    behaviour.set('sk-slow', { latencyMs: 200 })
    for (let i = 0; i < 10; i++) await chat(h, 'deepseek/deepseek-chat')
    let from = fake.requests.length
    for (let i = 0; i < 40; i++) expect((await chat(h, 'deepseek/deepseek-chat')).status).toBe(200)
    const slowed = served(from)
    expect(slowed['sk-slow'] ?? 0).toBeLessThanOrEqual(14)
    expect((await target(h, 'deepseek', 'slow')).weight_ratio).toBeLessThan(0.3)

    behaviour.delete('sk-slow')
    let ratio = 0
    for (let i = 0; i < 400 && ratio < 0.9; i++) {
      await chat(h, 'deepseek/deepseek-chat')
      if (i % 10 === 9) ratio = (await target(h, 'deepseek', 'slow')).weight_ratio
    }
    expect(ratio).toBeGreaterThanOrEqual(0.9)
    from = fake.requests.length
    for (let i = 0; i < 60; i++) await chat(h, 'deepseek/deepseek-chat')
    expect(served(from)['sk-slow']).toBeGreaterThanOrEqual(15)
  })

  it("scales a virtual key's provider weights by the providers' latency", async () => {
    const created = await callJson(h.url, 'POST', '/api/governance/virtual-keys', {
      name: 'adaptive',
      provider_configs: ['deepseek', 'xai'].map((provider) => ({
        provider,
        weight: 1,
        allowed_models: ['*'],
        key_ids: ['*'],
      })),
    })
    expect(created.status, JSON.stringify(created.body)).toBe(200)
    const vk = { 'x-bf-vk': created.body.virtual_key.value as string }
    behaviour.set('sk-x', { latencyMs: 200 })
    for (let i = 0; i < 10; i++) await chat(h, 'chat-model', vk)
    const from = fake.requests.length
    for (let i = 0; i < 30; i++) expect((await chat(h, 'chat-model', vk)).status).toBe(200)
    behaviour.delete('sk-x')
    const split = served(from)
    expect(split['sk-x'] ?? 0).toBeLessThanOrEqual(10)
    expect((split['sk-fast'] ?? 0) + (split['sk-slow'] ?? 0)).toBeGreaterThanOrEqual(20)
  })

  it('shows health in /metrics', async () => {
    const text = await (await fetch(`${h.url}/metrics`)).text()
    expect(text).toMatch(/heimdall_provider_circuit_state\{provider="openai",key="a",model="gpt-4o-mini"\} 0/)
    expect(text).toMatch(/heimdall_provider_error_rate\{provider="groq",key="g",model="llama-3.3-70b"\} 1/)
    expect(text).toMatch(
      /heimdall_provider_latency_ms\{provider="deepseek",key="fast",model="deepseek-chat"\} \d/,
    )
  })

  it('sends SSE keep-alive comments while the upstream is silent, and ends a stalled stream with an error', async () => {
    fake.fail({ kind: 'stall', afterEvents: 1 })
    const res = await post(h, 'mistral/mistral-small', {}, { stream: true })
    expect(res.status).toBe(200)
    const text = await res.text()
    expect(text.match(/^: keep-alive$/gm)?.length ?? 0).toBeGreaterThanOrEqual(2)
    expect(text).not.toContain('[DONE]')
    const last = text.trim().split('\n\n').at(-1)!
    expect(JSON.parse(last.slice('data: '.length)).error.message).toBeTruthy()
  })

  it('fails a stream over before its first byte, and ends one cut after it with an error in its own format', async () => {
    fake.fail({ kind: 'drop', afterEvents: 0 })
    const before = fake.requests.length
    const res = await post(
      h,
      'mistral/mistral-small',
      {},
      { stream: true, fallbacks: ['openai/gpt-4o-mini'] },
    )
    const text = await res.text()
    expect(res.status).toBe(200)
    expect(text).toContain('data: [DONE]')
    expect(served(before)['sk-m']).toBe(1)
    expect((served(before)['sk-a'] ?? 0) + (served(before)['sk-b'] ?? 0)).toBe(1)

    // The Anthropic SDK on the drop-in route: a stream cut mid-way raises, it never finishes cleanly,
    // and the cut counts against the key that served it.
    const errors = (await target(h, 'mistral', 'm')).errors as number
    fake.fail({ kind: 'drop', afterEvents: 3 })
    const anthropic = new Anthropic({ baseURL: `${h.url}/anthropic`, apiKey: 'unused', maxRetries: 0 })
    const stream = anthropic.messages.stream({
      model: 'mistral/mistral-small',
      max_tokens: 50,
      messages: [{ role: 'user', content: 'tell me a long story' }],
    })
    await expect(stream.finalMessage()).rejects.toThrow()
    await expect.poll(async () => (await target(h, 'mistral', 'm')).errors).toBe(errors + 1)
  })

  it('answers bad settings with a 400 naming the field', async () => {
    const bad = await callJson(h.url, 'PUT', '/api/providers/openai', {
      circuit_breaker: { enabled: true, failure_threshold: 0 },
    })
    expect(bad.status).toBe(400)
    expect(bad.body.error.param).toBe('circuit_breaker.failure_threshold')
    const unknown = await callJson(h.url, 'PUT', '/api/providers/openai', {
      adaptive_load_balancing: { enabled: true, min_weight: 0.5 },
    })
    expect(unknown.status).toBe(400)
    expect(unknown.body.error.message).toContain('adaptive_load_balancing')
    const keepAlive = await callJson(h.url, 'PUT', '/api/config', {
      client_config: { stream_keepalive_seconds: -1 },
    })
    expect(keepAlive.status).toBe(400)
    expect(keepAlive.body.error.message).toContain('stream_keepalive_seconds')
    const missing = await callJson(h.url, 'GET', '/api/provider-health?provider=nope')
    expect(missing.status).toBe(404)
  })

  it('leaves /api/providers/{provider} to a custom provider named health', async () => {
    const added = await callJson(h.url, 'POST', '/api/providers', {
      provider: 'health',
      keys: [{ id: 'hk', name: 'hk', value: 'sk-hk', models: ['*'] }],
      network_config: { base_url: fake.url },
      custom_provider_config: { base_provider_type: 'openai' },
    })
    expect(added.status).toBe(200)
    try {
      const read = await callJson(h.url, 'GET', '/api/providers/health')
      expect(read.status).toBe(200)
      expect(read.body.name).toBe('health')
      expect((await chat(h, 'health/gpt-4o-mini')).status).toBe(200)
      // Its health is where every provider's is.
      const live = await callJson(h.url, 'GET', '/api/provider-health?provider=health')
      expect(live.body.providers[0].targets[0]).toMatchObject({ key_id: 'hk', requests: 1 })
    } finally {
      await callJson(h.url, 'DELETE', '/api/providers/health')
    }
  })

  it('keeps the settings through the store and applies a change at once', async () => {
    const put = await callJson(h.url, 'PUT', '/api/providers/groq', {
      keys: [{ id: 'g', name: 'g', value: 'sk-g', models: ['*'] }],
      network_config: { base_url: fake.url },
      circuit_breaker: { enabled: false },
    })
    expect(put.status, JSON.stringify(put.body)).toBe(200)
    expect(put.body.circuit_breaker).toEqual({ enabled: false })
    // Switched off: the open circuit no longer refuses.
    expect((await chat(h, 'groq/llama-3.3-70b')).status).toBe(200)
    const stored = await h.heimdall.store.getProvider('groq')
    expect(stored?.circuit_breaker).toEqual({ enabled: false })
    expect(stored?.network_config).not.toHaveProperty('heimdall_resilience')
  })
})

describe('provider health across two nodes', () => {
  it('shows a circuit opened on one node on the other within a second, and its closing too', async () => {
    const prefix = redisPrefix('heimdall-health')
    const cluster = { cluster: { redis_url: REDIS_URL, prefix } }
    const shared = config(cluster)
    // A shorter open time: this test waits for it once.
    ;(shared.providers!.groq as { circuit_breaker: { open_seconds: number } }).circuit_breaker.open_seconds =
      0.8
    const [a, b] = await Promise.all([startHeimdall(shared), startHeimdall(shared)])
    try {
      behaviour.set('sk-g', { status: 500 })
      for (let i = 0; i < 2; i++) await chat(a, 'groq/llama-3.3-70b')
      behaviour.delete('sk-g')
      const opened = Date.now()
      let seen: any
      while (Date.now() - opened < 1000 && seen?.circuit !== 'open') {
        seen = await target(b, 'groq', 'g')
        if (seen?.circuit !== 'open') await sleep(20)
      }
      expect(seen?.circuit).toBe('open')
      expect(seen.reason).toContain('seen by another node')
      const before = fake.requests.length
      expect((await chat(b, 'groq/llama-3.3-70b')).status).toBe(503)
      expect(fake.requests.length).toBe(before)

      // Node a's probe closes it; node b hears of it.
      await probeTime(a, 'groq', 'g')
      expect((await chat(a, 'groq/llama-3.3-70b')).status).toBe(200)
      const closed = Date.now()
      while (Date.now() - closed < 1000 && (await target(b, 'groq', 'g')).circuit !== 'closed')
        await sleep(20)
      expect((await target(b, 'groq', 'g')).circuit).toBe('closed')
    } finally {
      await a.close()
      await b.close()
      await deleteRedisKeys(prefix)
    }
  })
})
