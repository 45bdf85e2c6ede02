import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import type { ConfigFile } from '../src/core/schemas/index.js'
import { computeCost } from '../src/governance/pricing/index.js'
import { LogStore, type LogRow } from '../src/observability/logs/index.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { bifrostResponse, schemaErrors } from './helpers/bifrost-openapi.js'
import { backends } from './helpers/databases.js'
import { callJson, fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

/**
 * POST /api/logs/recalculate-cost recomputes stored entries' cost with today's prices and pricing
 * overrides, as a background job whose progress GET .../status reports and POST .../cancel stops.
 */

let fake: FakeServer | undefined
let gw: RunningHeimdall | undefined
let extra: LogStore | undefined
afterEach(async () => {
  await gw?.close()
  await extra?.close()
  await fake?.close()
  gw = extra = fake = undefined
})
const stores = backends('recalc')
afterAll(() => Promise.all(stores.map((b) => b.teardown())))

const api = (method: string, path: string, body?: unknown) => callJson(gw!.url, method, path, body)

function expectBifrostShape(entry: string, method: string, status: string, body: unknown): void {
  const validate = bifrostResponse('paths/management/logging.yaml', entry, method, status)
  const ok = validate(body)
  expect(schemaErrors(validate.errors), JSON.stringify(body)).toEqual([])
  expect(ok).toBe(true)
}

async function until<T>(f: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  let v = await f()
  for (let i = 0; i < 400 && !done(v); i++) {
    await sleep(25)
    v = await f()
  }
  return v
}

function row(i: number, ts: number): LogRow {
  return {
    id: `bulk-${String(i).padStart(6, '0')}`,
    ts,
    object: 'chat_completion',
    route: null,
    provider: 'openai',
    model: 'gpt-4o',
    status: 'success',
    stream: 0,
    fallback_index: 0,
    number_of_retries: 0,
    selected_key_id: null,
    selected_key_name: null,
    virtual_key_id: null,
    virtual_key_name: null,
    team_id: null,
    team_name: null,
    customer_id: null,
    customer_name: null,
    latency: 10,
    ttft: null,
    prompt_tokens: 100,
    completion_tokens: 50,
    total_tokens: 150,
    cached_tokens: 0,
    reasoning_tokens: 0,
    cost: 0.5,
    cost_estimated: 0,
    error: null,
    attempts: null,
    input: null,
    output: null,
    content_summary: null,
    client_request_id: null,
    content_truncated: 0,
  }
}

describe.each(stores)('recalculating stored log costs on $kind', (backend) => {
  it('recomputes costs with a new pricing override, reports progress, and can be cancelled', async () => {
    fake = await startFakeOpenAI()
    const spec = await backend.fresh()
    gw = await startHeimdall({
      providers: { openai: fakeProvider(fake.url) },
      logs_store: { ...spec, flush_interval_ms: 10 } as unknown as ConfigFile['logs_store'],
    })

    for (const content of ['first', 'second request'])
      await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content }] }),
      }).then((r) => r.text())
    const logged = await until(
      () => api('GET', '/api/logs?models=gpt-4o-mini&limit=10'),
      (r) => r.body.logs?.length === 2,
    )
    expect(logged.body.logs).toHaveLength(2)
    for (const entry of logged.body.logs) {
      const listPrice = computeCost('openai', 'gpt-4o-mini', entry.token_usage).cost
      expect(entry.cost).toBeCloseTo(listPrice, 12)
    }

    const override = await api('POST', '/api/governance/pricing-overrides', {
      name: 'renegotiated',
      scope_kind: 'global',
      match_type: 'exact',
      pattern: 'gpt-4o-mini',
      pricing_patch: { input_cost_per_token: 0.001, output_cost_per_token: 0.002 },
    })
    expect(override.status, JSON.stringify(override.body)).toBe(201)

    expect((await api('GET', '/api/logs/recalculate-cost/status')).body).toMatchObject({ status: 'idle' })
    const started = await api('POST', '/api/logs/recalculate-cost', { filters: { models: ['gpt-4o-mini'] } })
    expect(started.status, JSON.stringify(started.body)).toBe(202)
    expectBifrostShape('logs-recalculate-cost', 'post', '202', started.body)
    expect(started.body).toMatchObject({ total: 2 })
    const id = started.body.id as string
    const finished = await until(
      () => api('GET', `/api/logs/recalculate-cost/status?id=${id}`),
      (r) => r.body.status === 'completed',
    )
    expectBifrostShape('logs-recalculate-cost-status', 'get', '200', finished.body)
    expect(finished.body).toMatchObject({
      id,
      status: 'completed',
      total: 2,
      processed: 2,
      updated: 2,
      skipped: 0,
    })

    const repriced = await api('GET', '/api/logs?models=gpt-4o-mini&limit=10')
    for (const entry of repriced.body.logs) {
      const u = entry.token_usage
      expect(entry.cost).toBeCloseTo(u.prompt_tokens * 0.001 + u.completion_tokens * 0.002, 10)
    }

    // A larger set: 20,000 stored entries, cancelled while the job works through them.
    extra = await LogStore.open(spec, gw.appDir)
    const base = Date.now() - 3_600_000
    const rows = Array.from({ length: 20_000 }, (_, i) => row(i, base + i))
    for (let i = 0; i < rows.length; i += 1000) await extra.insert(rows.slice(i, i + 1000))
    const big = await api('POST', '/api/logs/recalculate-cost', { filters: { models: ['gpt-4o'] } })
    expect(big.status).toBe(202)
    const again = await api('POST', '/api/logs/recalculate-cost', {})
    expect(again.status).toBe(409)
    expectBifrostShape('logs-recalculate-cost', 'post', '409', again.body)
    expect(again.body.id).toBe(big.body.id)
    const cancelled = await api('POST', '/api/logs/recalculate-cost/cancel')
    expect(cancelled.status, JSON.stringify(cancelled.body)).toBe(200)
    expect(cancelled.body).toMatchObject({ id: big.body.id, status: 'cancelled', total: 20_000 })
    await sleep(200)
    const after = await api('GET', `/api/logs/recalculate-cost/status?id=${big.body.id}`)
    expect(after.body.status).toBe('cancelled')
    expect(after.body.processed).toBeLessThan(20_000)
    expect((await api('GET', '/api/logs/recalculate-cost/status')).body.status).toBe('idle')
    const untouched = await api('GET', '/api/logs?models=gpt-4o&limit=1&sort_by=timestamp&order=desc')
    expect(untouched.body.logs[0].cost).toBe(0.5)

    // Nothing to cancel, an unknown job, a malformed body: 4xx in Bifrost's error shape.
    const none = await api('POST', '/api/logs/recalculate-cost/cancel')
    expect(none.status).toBe(404)
    expect(none.body.error.message).toMatch(/no recalculation job/)
    expect((await api('GET', '/api/logs/recalculate-cost/status?id=nope')).status).toBe(404)
    const bad = await api('POST', '/api/logs/recalculate-cost', { filters: { start_time: 'yesterday' } })
    expect(bad.status).toBe(400)
    expect(bad.body.error.param).toBe('start_time')
  })
})
