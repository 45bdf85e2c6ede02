import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ConfigFile } from '../src/core/schemas/index.js'
import { verifyWebhook } from '../src/webhooks/index.js'
import { handle as openAIAnswer } from './fakes/openai.js'
import { FakeServer } from './fakes/server.js'
import {
  callJson,
  createVirtualKey,
  fakeProvider,
  startHeimdall,
  type RunningHeimdall,
} from './helpers/heimdall.js'
import { WebhookReceiver as Receiver } from './helpers/webhook-receiver.js'

/**
 * Webhook endpoints registered through the management API (Bifrost's /api/webhooks) as an operator
 * sees them: the secret told once and never again, bad input refused naming the field, and the
 * events they subscribe to delivered signed with their own secret: a job that names the endpoint,
 * a virtual key rotated, a budget exhausted (once however often it refuses), a provider circuit
 * opened. A retry persisted by a node that stopped is made by the next node on the same store.
 */

const MODEL = 'openai/gpt-4o-mini'

async function until<T>(read: () => Promise<T | undefined> | T | undefined, what: string): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const v = await read()
    if (v !== undefined && v !== false) return v
    await sleep(20)
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** Key `bad` of provider groq answers 500; everything else answers as OpenAI does. */
let fake: FakeServer
let gw: RunningHeimdall
let receiver: Receiver

function config(extra: Record<string, unknown> = {}): ConfigFile {
  return {
    providers: {
      openai: fakeProvider(fake.url),
      groq: fakeProvider(
        fake.url,
        { circuit_breaker: { enabled: true, failure_threshold: 2, open_seconds: 30 } },
        [{ id: 'bad', name: 'bad', value: 'sk-bad', models: ['*'] }],
      ),
    },
    client: {
      webhook_config: { retry_backoff_initial_ms: 50, max_attempts: 3, ...extra },
    } as never,
  }
}

async function register(body: Record<string, unknown>): Promise<{ id: string; secret: string }> {
  const r = await callJson(gw.url, 'POST', '/api/webhooks', {
    url: receiver.url,
    allow_private_network: true,
    ...body,
  })
  expect(r.status, JSON.stringify(r.body)).toBe(201)
  return { id: r.body.id, secret: r.body.secret }
}

const createKey = (body: Record<string, unknown>) => createVirtualKey(gw.url, body)

function chat(model: string, headers: Record<string, string> = {}) {
  return fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
  })
}

beforeAll(async () => {
  fake = await new FakeServer(async (ctx) => {
    if (String(ctx.req.headers.authorization) === 'Bearer sk-bad') {
      ctx.res.writeHead(500, { 'content-type': 'application/json' })
      ctx.res.end(JSON.stringify({ error: { message: 'injected 500', type: 'server_error' } }))
      return
    }
    openAIAnswer(ctx)
  }).start()
  receiver = await new Receiver().start()
  gw = await startHeimdall(config())
})

afterAll(async () => {
  await gw?.close()
  await receiver?.close()
  await fake?.close()
})

describe('webhook endpoints', () => {
  it('are created, listed, changed and deleted; the secret is told once, at creation and rotation', async () => {
    const created = await callJson(gw.url, 'POST', '/api/webhooks', {
      name: 'crud',
      url: receiver.url,
      events: ['async_job.completed'],
      allow_private_network: true,
    })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({ name: 'crud', url: receiver.url, disabled: false })
    expect(created.body.secret).toMatch(/^whsec_/)
    const { id, secret } = created.body
    const listed = await callJson(gw.url, 'GET', '/api/webhooks?search=cru')
    expect(listed.body.endpoints.map((e: any) => e.id)).toEqual([id])
    const one = await callJson(gw.url, 'GET', `/api/webhooks/${id}`)
    expect(one.body.events).toEqual(['async_job.completed'])
    for (const answer of [listed, one]) expect(JSON.stringify(answer.body)).not.toContain(secret)
    const changed = await callJson(gw.url, 'PUT', `/api/webhooks/${id}`, { disabled: true })
    expect(changed.status).toBe(200)
    expect(changed.body).toMatchObject({ disabled: true, name: 'crud', events: ['async_job.completed'] })
    expect((await callJson(gw.url, 'GET', '/api/webhooks?disabled=true')).body.total).toBe(1)
    const rotated = await callJson(gw.url, 'POST', `/api/webhooks/${id}/rotate-secret`)
    expect(rotated.body.secret).toMatch(/^whsec_/)
    expect(rotated.body.secret).not.toBe(secret)
    // A secret the operator brings is not told back.
    const own = await callJson(gw.url, 'POST', '/api/webhooks', {
      name: 'own-secret',
      url: receiver.url,
      events: ['budget.exhausted'],
      allow_private_network: true,
      secret: 'an-operator-chosen-secret',
    })
    expect(own.status).toBe(201)
    expect(own.body.secret).toBeUndefined()
    expect((await callJson(gw.url, 'DELETE', `/api/webhooks/${own.body.id}`)).status).toBe(200)
    expect((await callJson(gw.url, 'DELETE', `/api/webhooks/${id}`)).status).toBe(200)
    expect((await callJson(gw.url, 'GET', `/api/webhooks/${id}`)).status).toBe(404)
  })

  it('refuses bad input with a 400 naming the field, and a second endpoint of one name with 409', async () => {
    const base = {
      name: 'bad-input',
      url: receiver.url,
      events: ['budget.exhausted'],
      allow_private_network: true,
    }
    const cases: [Record<string, unknown>, string][] = [
      [{ ...base, name: '' }, 'name'],
      [{ ...base, events: [] }, 'events'],
      [{ ...base, events: ['job.done'] }, 'events'],
      [{ ...base, url: 'ftp://example.com/x' }, 'url'],
      // Loopback without the endpoint's (or the operator's) permission: the SSRF guard.
      [{ ...base, allow_private_network: false }, 'url'],
      [{ ...base, disabled: 'yes' }, 'disabled'],
      [{ ...base, secret: 'short' }, 'secret'],
    ]
    for (const [body, param] of cases) {
      const r = await callJson(gw.url, 'POST', '/api/webhooks', body)
      expect(r.status, JSON.stringify(body)).toBe(400)
      expect(r.body.error.param).toBe(param)
    }
    const first = await register(base)
    const again = await callJson(gw.url, 'POST', '/api/webhooks', base)
    expect(again.status).toBe(409)
    const secretHere = await callJson(gw.url, 'PUT', `/api/webhooks/${first.id}`, { secret: 'x'.repeat(20) })
    expect(secretHere.status).toBe(400)
    expect(secretHere.body.error.param).toBe('secret')
    await callJson(gw.url, 'DELETE', `/api/webhooks/${first.id}`)
  })

  it("a job that names the endpoint is delivered signed with the endpoint's own secret", async () => {
    const ep = await register({ name: 'jobs', events: ['async_job.completed', 'async_job.failed'] })
    const res = await fetch(`${gw.url}/v1/async/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-bf-async-webhook': 'jobs' },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hook me' }] }),
    })
    expect(res.status).toBe(202)
    const job = (await res.json()) as any
    const got = await until(
      () => receiver.of('async_job.completed').find((r) => r.json.data.id === job.id),
      'the job delivery',
    )
    expect(verifyWebhook(ep.secret, got.headers, got.body)).toBe(true)
    const unknown = await fetch(`${gw.url}/v1/async/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-bf-async-webhook': 'nobody' },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'x' }] }),
    })
    expect(unknown.status).toBe(400)
    await callJson(gw.url, 'DELETE', `/api/webhooks/${ep.id}`)
  })

  it('a rotated virtual key and an exhausted budget are delivered; the budget once, however often it refuses', async () => {
    const ep = await register({ name: 'governance', events: ['virtual_key.rotated', 'budget.exhausted'] })
    const key = await createKey({ budgets: [{ max_limit: 0.000001, reset_duration: '1d' }] })
    expect((await callJson(gw.url, 'POST', `/api/governance/virtual-keys/${key.id}/rotate`)).status).toBe(200)
    const rotated = await until(
      () => receiver.of('virtual_key.rotated').find((r) => r.json.data.virtual_key_id === key.id),
      'the rotation event',
    )
    expect(verifyWebhook(ep.secret, rotated.headers, rotated.body)).toBe(true)

    const fresh = await createKey({ budgets: [{ max_limit: 0.000001, reset_duration: '1d' }] })
    const auth = { 'x-bf-vk': fresh.value }
    expect((await chat(MODEL, auth)).status).toBe(200)
    const refused = [await chat(MODEL, auth), await chat(MODEL, auth)]
    expect(refused.map((r) => r.status)).toEqual([402, 402])
    const spent = await until(() => receiver.of('budget.exhausted')[0], 'the budget event')
    expect(spent.json.data).toMatchObject({ scope: 'virtual_key', scope_id: fresh.id, reset_duration: '1d' })
    expect(verifyWebhook(ep.secret, spent.headers, spent.body)).toBe(true)
    await sleep(100)
    expect(receiver.of('budget.exhausted')).toHaveLength(1)
    await callJson(gw.url, 'DELETE', `/api/webhooks/${ep.id}`)
  })

  it('a provider circuit that opens is delivered to the endpoints subscribed to it', async () => {
    const ep = await register({ name: 'circuits', events: ['provider.circuit_opened'] })
    for (let i = 0; i < 2; i++) expect((await chat('groq/llama-3')).status).toBeGreaterThanOrEqual(500)
    const opened = await until(() => receiver.of('provider.circuit_opened')[0], 'the circuit event')
    expect(opened.json.data).toMatchObject({ provider: 'groq', key_id: 'bad', model: 'llama-3' })
    expect(verifyWebhook(ep.secret, opened.headers, opened.body)).toBe(true)
    const log = await callJson(gw.url, 'GET', `/api/webhooks/${ep.id}/deliveries`)
    expect(log.body.deliveries[0]).toMatchObject({
      event: 'provider.circuit_opened',
      status: 'delivered',
      attempts: 1,
    })
    expect((await callJson(gw.url, 'GET', `/api/webhooks/${ep.id}`)).body.last_success_at).toBeDefined()
    await callJson(gw.url, 'DELETE', `/api/webhooks/${ep.id}`)
  })
})

describe('persisted retries', () => {
  it('a retry left by a node that stopped is made by the next node on the same store', async () => {
    const appDir = await mkdtemp(join(tmpdir(), 'heimdall-webhook-restart-'))
    const flaky = await new Receiver().start()
    try {
      // Node A: the first attempt fails, the retry is due in 300 ms, and A stops before it.
      const a = await startHeimdall(config({ retry_backoff_initial_ms: 300 }), { appDir })
      const ep = await callJson(a.url, 'POST', '/api/webhooks', {
        name: 'restart',
        url: flaky.url,
        events: ['virtual_key.rotated'],
        allow_private_network: true,
      })
      const vk = await callJson(a.url, 'POST', '/api/governance/virtual-keys', { name: 'restart-vk' })
      flaky.statuses = [503]
      await callJson(a.url, 'POST', `/api/governance/virtual-keys/${vk.body.virtual_key.id}/rotate`)
      const pending = await until(async () => {
        const d = (await callJson(a.url, 'GET', `/api/webhooks/${ep.body.id}/deliveries`)).body.deliveries[0]
        return d?.attempts === 1 ? d : undefined
      }, 'the failed first attempt')
      expect(pending).toMatchObject({ status: 'pending', last_status_code: 503 })
      await a.close()
      expect(flaky.received).toHaveLength(1)

      // Node B, on A's store, finds the due retry and makes it.
      const b = await startHeimdall(config({ retry_poll_ms: 50 }), { appDir })
      try {
        const done = await until(async () => {
          const d = (await callJson(b.url, 'GET', `/api/webhooks/deliveries/${pending.id}`)).body.delivery
          return d.status === 'delivered' ? d : undefined
        }, 'the retry on node B')
        expect(done.attempts).toBe(2)
        expect(flaky.received).toHaveLength(2)
        // The same webhook-id both times: a receiver can deduplicate.
        expect(flaky.received[1].headers['webhook-id']).toBe(flaky.received[0].headers['webhook-id'])
        expect(verifyWebhook(ep.body.secret, flaky.received[1].headers, flaky.received[1].body)).toBe(true)
      } finally {
        await b.close()
      }
    } finally {
      await flaky.close()
      await rm(appDir, { recursive: true, force: true })
    }
  })
})
