import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, describe, expect, it, onTestFinished } from 'vitest'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { FaultProxy, timeUntil } from './helpers/fault-proxy.js'
import { postgresBackend } from './helpers/databases.js'
import { deleteRedisKeys, REDIS_URL, redisPrefix } from './helpers/redis.js'
import { callJson, fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

/**
 * Nodes sharing one PostgreSQL, one of them (D) behind a TCP proxy that the test cuts (connections
 * destroyed, new ones refused) or pauses (bytes held, nothing closed: a partition). A change made
 * through another node while D is cut off reaches D soon after PostgreSQL is back; a change whose
 * event never arrived reaches it through the store's change counter; D's management API answers a
 * 503 naming the store, within its timeout, instead of a 500 or a hang.
 */

const STORE_TIMEOUT_MS = 2000
const RECONCILE_MS = 2000

const backend = postgresBackend('fault')
const prefix = redisPrefix('heimdall-fault')
let fakeA: FakeServer | undefined
let fakeB: FakeServer | undefined
let proxy: FaultProxy | undefined
const nodes: RunningHeimdall[] = []

afterAll(async () => {
  for (const n of nodes) await n.close().catch(() => undefined)
  await proxy?.close()
  await fakeA?.close()
  await fakeB?.close()
  await backend.teardown()
  await deleteRedisKeys(prefix)
}, 30_000)

async function chatStatus(node: RunningHeimdall, vk: string): Promise<number> {
  const res = await fetch(`${node.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${vk}` },
    body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
  })
  await res.arrayBuffer()
  return res.status
}

/** A management call, with how long it took; given up 5 s past the store timeout. */
async function timedCall(node: RunningHeimdall, method: string, path: string, body?: unknown) {
  const started = performance.now()
  const res = await fetch(node.url + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(STORE_TIMEOUT_MS + 5000),
  })
  const text = await res.text()
  const ms = Math.round(performance.now() - started)
  return { status: res.status, body: text ? (JSON.parse(text) as any) : undefined, ms }
}

function expectStoreUnavailable(answer: { status: number; body: any }): void {
  expect(answer.status, JSON.stringify(answer.body)).toBe(503)
  expect(answer.body.status_code).toBe(503)
  expect(answer.body.error.type).toBe('service_unavailable')
  expect(answer.body.error.code).toBe('store_unavailable')
  expect(answer.body.error.message).toMatch(/PostgreSQL store at 127\.0\.0\.1:\d+\/heimdall_fault_/)
}

async function createKey(node: RunningHeimdall, name: string): Promise<{ id: string; value: string }> {
  const created = await callJson(node.url, 'POST', '/api/governance/virtual-keys', {
    name,
    provider_configs: [{ provider: 'openai', allowed_models: ['*'], key_ids: ['*'] }],
  })
  expect(created.status, JSON.stringify(created.body)).toBe(200)
  return created.body.virtual_key
}

describe('a node whose PostgreSQL is unreachable', () => {
  let a: RunningHeimdall
  let d: RunningHeimdall
  let b: RunningHeimdall

  it('starts three nodes on one database, D behind a proxy', async () => {
    fakeA = await startFakeOpenAI()
    fakeB = await startFakeOpenAI()
    const url = new URL(await backend.freshUrl())
    proxy = await FaultProxy.start({ host: url.hostname, port: Number(url.port || 5432) })
    const proxied = new URL(url)
    proxied.host = `127.0.0.1:${proxy.port}`
    const config = (connection: URL, cluster: boolean) => ({
      config_store: {
        enabled: true,
        type: 'postgres' as const,
        config: {
          connection_string: connection.toString(),
          connect_timeout_ms: STORE_TIMEOUT_MS,
          query_timeout_ms: STORE_TIMEOUT_MS,
          reconcile_interval_ms: RECONCILE_MS,
        },
      },
      ...(cluster && { cluster: { redis_url: REDIS_URL, prefix } }),
      client: { enforce_auth_on_inference: true },
      providers: { openai: fakeProvider(fakeA!.url) },
    })
    a = await startHeimdall(config(url, true))
    nodes.push(a)
    d = await startHeimdall(config(proxied, true))
    nodes.push(d)
    // B shares the database but not the change bus: its changes send D no event.
    b = await startHeimdall(config(url, false))
    nodes.push(b)
  }, 30_000)

  it('converges within 2 s after PostgreSQL returns: a revoked key, a provider change, a pricing override', async () => {
    const vk = await createKey(a, 'revoked-during-outage')
    await timeUntil(async () => (await chatStatus(d, vk.value)) === 200, 5000)

    proxy!.cut()
    onTestFinished(() => proxy!.restore())
    const cutAt = performance.now()
    const revoked = await callJson(a.url, 'PUT', `/api/governance/virtual-keys/${vk.id}`, {
      is_active: false,
    })
    expect(revoked.status, JSON.stringify(revoked.body)).toBe(200)
    const provider = await callJson(a.url, 'PUT', '/api/providers/openai', {
      ...fakeProvider(fakeB!.url),
    })
    expect(provider.status, JSON.stringify(provider.body)).toBe(200)
    const override = await callJson(a.url, 'POST', '/api/governance/pricing-overrides', {
      name: 'during-outage',
      scope_kind: 'global',
      match_type: 'exact',
      pattern: 'gpt-4o-mini',
      pricing_patch: { input_cost_per_token: 0.001, output_cost_per_token: 0.002 },
    })
    expect(override.status, JSON.stringify(override.body)).toBe(201)
    const overrideId = override.body.pricing_override.id as string

    // D heard of the changes but cannot read them: it still serves what it had.
    await sleep(300)
    expect(await chatStatus(d, vk.value)).toBe(200)
    expect(d.heimdall.registry.get('openai')?.config.network_config.base_url).toBe(fakeA!.url)

    // Long enough for the retries to back off to their longest wait, and for a counter check to fail.
    await sleep(Math.max(0, 3000 - (performance.now() - cutAt)))
    proxy!.restore()
    const cutMs = Math.round(performance.now() - cutAt)
    const [keyMs, providerMs, pricingMs] = await Promise.all([
      timeUntil(async () => [401, 403].includes(await chatStatus(d, vk.value)), 10_000),
      timeUntil(
        () => d.heimdall.registry.get('openai')?.config.network_config.base_url === fakeB!.url,
        10_000,
      ),
      timeUntil(() => d.heimdall.governance.pricing.list().some((o) => o.id === overrideId), 10_000),
    ])
    console.log(
      `store-outage: after a ${cutMs} ms cut, D converged in ${keyMs} ms (revoked key refused), ` +
        `${providerMs} ms (provider), ${pricingMs} ms (pricing override)`,
    )
    expect(Math.max(keyMs, providerMs, pricingMs)).toBeLessThan(2000)
  }, 30_000)

  it('answers 503 naming the store at once while connections to PostgreSQL are refused', async () => {
    proxy!.cut()
    onTestFinished(() => proxy!.restore())
    const read = await timedCall(d, 'GET', '/api/governance/virtual-keys')
    const write = await timedCall(d, 'PUT', '/api/providers/openai', fakeProvider(fakeA!.url))
    console.log(
      `store-outage: with the store cut D answered 503 in ${read.ms} ms (read), ${write.ms} ms (write)`,
    )
    expectStoreUnavailable(read)
    expectStoreUnavailable(write)
    for (const call of [read, write]) expect(call.ms).toBeLessThan(STORE_TIMEOUT_MS + 1000)
  })

  it('answers 503 naming the store within its timeout while PostgreSQL is partitioned, and recovers', async () => {
    const vk = await createKey(a, 'revoked-during-partition')
    await timeUntil(async () => (await chatStatus(d, vk.value)) === 200, 5000)
    // Connections in D's pool are open; the partition leaves them so.
    expect((await callJson(d.url, 'GET', '/api/governance/virtual-keys')).status).toBe(200)
    proxy!.pause()
    onTestFinished(() => proxy!.restore())
    const revoked = await callJson(a.url, 'PUT', `/api/governance/virtual-keys/${vk.id}`, {
      is_active: false,
    })
    expect(revoked.status, JSON.stringify(revoked.body)).toBe(200)
    {
      const [read, write] = await Promise.all([
        timedCall(d, 'GET', '/api/governance/virtual-keys'),
        timedCall(d, 'POST', '/api/governance/pricing-overrides', {
          name: 'during-partition',
          scope_kind: 'global',
          match_type: 'exact',
          pattern: 'gpt-4o',
          pricing_patch: { input_cost_per_token: 0.001 },
        }),
      ])
      expectStoreUnavailable(read)
      expectStoreUnavailable(write)
      // A second call after the first timed out: new connections hang too, until the connect timeout.
      const again = await timedCall(d, 'GET', '/api/governance/virtual-keys')
      expectStoreUnavailable(again)
      console.log(
        `store-outage: during a partition D answered 503 in ${read.ms} ms (read), ${write.ms} ms (write), ` +
          `${again.ms} ms (next read); store timeouts ${STORE_TIMEOUT_MS} ms`,
      )
      for (const call of [read, write, again]) expect(call.ms).toBeLessThan(STORE_TIMEOUT_MS + 1000)
    }
    proxy!.restore()
    const keyMs = await timeUntil(async () => [401, 403].includes(await chatStatus(d, vk.value)), 10_000)
    // Broken connections were dropped, not handed out again.
    const readMs = await timeUntil(
      async () => (await callJson(d.url, 'GET', '/api/governance/virtual-keys')).status === 200,
      5000,
    )
    console.log(
      `store-outage: after the partition D refused the key revoked meanwhile in ${keyMs} ms; ` +
        `its management API answered 200 again ${readMs} ms later`,
    )
    expect(keyMs).toBeLessThan(2000)
  }, 30_000)

  it('picks up a change whose event never arrived, through the store change counter', async () => {
    const vk = await createKey(a, 'revoked-without-event')
    await timeUntil(async () => (await chatStatus(d, vk.value)) === 200, 5000)
    const started = performance.now()
    const revoked = await callJson(b.url, 'PUT', `/api/governance/virtual-keys/${vk.id}`, {
      is_active: false,
    })
    expect(revoked.status, JSON.stringify(revoked.body)).toBe(200)
    const ms = await timeUntil(
      async () => [401, 403].includes(await chatStatus(d, vk.value)),
      RECONCILE_MS + 5000,
    )
    console.log(
      `store-outage: a revocation with no event reached D after ${Math.round(performance.now() - started)} ms ` +
        `(counter checked every ${RECONCILE_MS} ms)`,
    )
    expect(ms).toBeLessThan(RECONCILE_MS + 1000)
  }, 30_000)
})
