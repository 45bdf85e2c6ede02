import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { verifyWebhook } from '../src/webhooks/index.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'
import { WebhookReceiver as Receiver } from './helpers/webhook-receiver.js'

/**
 * Webhooks as an operator and a caller see them: a finished async job is POSTed, signed, to the
 * caller's callback URL and to the operator's endpoints; a receiver that fails is retried with
 * backoff, listed in /api/webhooks/deliveries, and redelivered from the API. Callback URLs that
 * point inward are refused unless the operator allows it.
 */

const SECRET = 'whsec-test-secret'
const MODEL = 'openai/gpt-4o-mini'

let fake: FakeServer
let gw: RunningHeimdall
let strictGw: RunningHeimdall
let callback: Receiver
let endpoint: Receiver

async function submit(target: RunningHeimdall, content: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${target.url}/v1/async/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content }] }),
  })
  return { status: res.status, body: (await res.json()) as any }
}

async function until<T>(read: () => Promise<T | undefined>, what: string): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const v = await read()
    if (v !== undefined) return v
    await sleep(20)
  }
  throw new Error(`timed out waiting for ${what}`)
}

async function deliveries(target: RunningHeimdall, query = ''): Promise<any[]> {
  const r = await fetch(`${target.url}/api/webhooks/deliveries${query}`)
  expect(r.status).toBe(200)
  return ((await r.json()) as any).deliveries
}

beforeAll(async () => {
  fake = await startFakeOpenAI()
  callback = await new Receiver().start()
  endpoint = await new Receiver().start()
  gw = await startHeimdall({
    providers: { openai: fakeProvider(fake.url) },
    client: {
      webhook_config: {
        secret: SECRET,
        // The receivers are on loopback: allowed here on purpose.
        allow_private_networks: true,
        max_attempts: 3,
        retry_backoff_initial_ms: 50,
        endpoints: [{ id: 'ops-1', name: 'ops', url: endpoint.url, events: ['async_job.failed'] }],
      },
    } as never,
  })
  strictGw = await startHeimdall({ providers: { openai: fakeProvider(fake.url) } })
})

afterAll(async () => {
  await gw?.close()
  await strictGw?.close()
  await callback?.close()
  await endpoint?.close()
  await fake?.close()
})

describe('webhooks', () => {
  it("a finished job is POSTed to the caller's callback URL, signed; the receiver verifies it", async () => {
    const job = await submit(gw, 'call me back', { 'x-bf-async-webhook-url': `${callback.url}/hook` })
    expect(job.status).toBe(202)
    const got = await until(
      async () => callback.received.find((r) => r.body.includes(job.body.id)),
      'the callback',
    )
    expect(verifyWebhook(SECRET, got.headers, got.body)).toBe(true)
    // A wrong secret, or a body changed by one byte, does not verify.
    expect(verifyWebhook('another-secret', got.headers, got.body)).toBe(false)
    expect(verifyWebhook(SECRET, got.headers, got.body.replace('completed', 'complete_'))).toBe(false)
    const payload = JSON.parse(got.body)
    expect(payload).toMatchObject({
      type: 'async_job.completed',
      data: { id: job.body.id, status: 'completed' },
    })
    expect(payload.data.result.object).toBe('chat.completion')
    expect(payload.id).toBe(got.headers['webhook-id'])
    // The job named no endpoint: the operator's endpoint got nothing.
    expect(endpoint.received.filter((r) => r.body.includes(job.body.id))).toHaveLength(0)
    const listed = await until(
      async () =>
        (await deliveries(gw)).find((d) => d.async_job_id === job.body.id && d.status === 'delivered'),
      'the delivery record',
    )
    expect(listed).toMatchObject({ event: 'async_job.completed', attempts: 1, last_status_code: 200 })
  })

  it('a failing receiver is retried with backoff, left failed, then redelivered from the API', async () => {
    fake.fail({
      kind: 'status',
      status: 400,
      body: JSON.stringify({ error: { message: 'nope', type: 'invalid_request_error' } }),
    })
    endpoint.statuses = [500, 503, 500]
    const job = await submit(gw, 'this one fails', { 'x-bf-async-webhook': 'ops' })
    const failed = await until(
      async () => (await deliveries(gw, '?status=failed')).find((d) => d.async_job_id === job.body.id),
      'the delivery to give up',
    )
    expect(failed).toMatchObject({
      event: 'async_job.failed',
      endpoint_id: 'ops-1',
      attempts: 3,
      last_status_code: 500,
    })
    const attempts = endpoint.received.filter((r) => r.body.includes(job.body.id))
    expect(attempts).toHaveLength(3)
    // Every attempt is the same delivery (one webhook-id), signed afresh.
    expect(new Set(attempts.map((a) => a.headers['webhook-id'])).size).toBe(1)
    for (const a of attempts) expect(verifyWebhook(SECRET, a.headers, a.body)).toBe(true)
    const redelivered = await fetch(`${gw.url}/api/webhooks/deliveries/${failed.id}/redeliver`, {
      method: 'POST',
    })
    expect(redelivered.status).toBe(202)
    expect(((await redelivered.json()) as any).delivery).toMatchObject({
      status: 'delivered',
      attempts: 4,
      last_status_code: 200,
    })
    expect(endpoint.received.filter((r) => r.body.includes(job.body.id))).toHaveLength(4)
    const history = await fetch(`${gw.url}/api/webhooks/ops-1/deliveries`)
    expect(((await history.json()) as any).deliveries.map((d: any) => d.id)).toContain(failed.id)
    const missing = await fetch(`${gw.url}/api/webhooks/deliveries/no-such/redeliver`, { method: 'POST' })
    expect(missing.status).toBe(404)
    expect((await fetch(`${gw.url}/api/webhooks/deliveries?status=lost`)).status).toBe(400)
  })

  it('a receiver that refuses with a 4xx (not 408 or 429) is not retried', async () => {
    callback.statuses = [404]
    const job = await submit(gw, 'refused delivery', { 'x-bf-async-webhook-url': `${callback.url}/gone` })
    const failed = await until(
      async () => (await deliveries(gw, '?status=failed')).find((d) => d.async_job_id === job.body.id),
      'the delivery to fail',
    )
    expect(failed).toMatchObject({ attempts: 1, last_status_code: 404 })
    await sleep(200)
    expect(callback.received.filter((r) => r.body.includes(job.body.id))).toHaveLength(1)
  })

  it('x-bf-async-webhook names a registered endpoint: its events filter what it gets; an unknown name is a 400', async () => {
    const unknown = await submit(gw, 'x', { 'x-bf-async-webhook': 'no-such-endpoint' })
    expect(unknown.status).toBe(400)
    expect(unknown.body.error).toMatchObject({
      param: 'x-bf-async-webhook',
      message: expect.stringContaining('no-such-endpoint'),
    })
    // 'ops' asked for failures only: a job that completes is not sent there.
    const job = await submit(gw, 'completes quietly', { 'x-bf-async-webhook': 'ops' })
    expect(job.status).toBe(202)
    await until(async () => {
      const r = await fetch(`${gw.url}/v1/async/chat/completions/${job.body.id}`)
      return r.status === 200 ? true : undefined
    }, 'the job')
    await sleep(200)
    expect(endpoint.received.filter((r) => r.body.includes(job.body.id))).toHaveLength(0)
    expect((await deliveries(gw)).filter((d) => d.async_job_id === job.body.id)).toHaveLength(0)
  })

  it('refuses callback URLs on loopback or private addresses unless the operator allows them', async () => {
    for (const url of [
      callback.url,
      'http://10.1.2.3/hook',
      'http://[::1]:9/hook',
      'http://169.254.169.254/latest',
    ]) {
      const r = await submit(strictGw, 'x', { 'x-bf-async-webhook-url': url })
      expect(r.status, url).toBe(400)
      expect(r.body.error.message).toMatch(/loopback or private/)
    }
    for (const url of ['ftp://example.com/x', 'not a url', 'http://user:pw@example.com/']) {
      const r = await submit(strictGw, 'x', { 'x-bf-async-webhook-url': url })
      expect(r.status, url).toBe(400)
    }
  })
})
