import { afterAll, describe, expect, it } from 'vitest'
import type { ConfigFile } from '../src/core/schemas/index.js'
import type { StoreSpec } from '../src/store/index.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { backends } from './helpers/databases.js'
import { fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

const ALL_OPENAI = { provider: 'openai', allowed_models: ['*'], key_ids: ['*'] }
const BAD_KEY = [{ name: 'bad', value: 'sk-bad', models: ['*'], weight: 1 }]

let fake: FakeServer | undefined
const running: RunningHeimdall[] = []
afterAll(async () => {
  for (const gw of running.splice(0)) await gw.close()
  await fake?.close()
})

async function start(logsStore: StoreSpec, client: Record<string, unknown> = {}) {
  fake ??= await startFakeOpenAI()
  const gw = await startHeimdall({
    client,
    providers: {
      openai: fakeProvider(fake.url),
      groq: fakeProvider(fake.url, {}, BAD_KEY),
    },
    logs_store: { ...logsStore, flush_interval_ms: 10 } as unknown as ConfigFile['logs_store'],
  })
  running.push(gw)
  return gw
}

async function api(gw: RunningHeimdall, path: string, init: RequestInit = {}): Promise<any> {
  const res = await fetch(`${gw.url}${path}`, {
    ...init,
    headers: { 'content-type': 'application/json', ...(init.headers as Record<string, string>) },
  })
  const body = await res.json()
  expect(res.status, `${path}: ${JSON.stringify(body)}`).toBe(200)
  return body
}

async function chat(
  gw: RunningHeimdall,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
) {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  })
  return { status: res.status, text: await res.text() }
}

/** Waits until the store holds `n` entries (the writer runs off the request path). */
async function waitForLogs(gw: RunningHeimdall, n: number, query = ''): Promise<any> {
  for (let i = 0; i < 200; i++) {
    const body = await api(gw, `/api/logs?limit=100${query}`)
    // The page and the count are separate queries: wait until both see the entries.
    if (body.logs.length >= Math.min(n, 100) && body.pagination.total_count >= n) return body
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error(`fewer than ${n} logs`)
}

describe.each(backends('logs'))('request logs on $kind', (backend) => {
  it('plain, streamed, failed and team requests land in the store and every filter finds them', async () => {
    const gw = await start(await backend.fresh())
    expect((await api(gw, '/api/config')).is_logs_connected).toBe(true)
    const { customer } = await api(gw, '/api/governance/customers', {
      method: 'POST',
      body: JSON.stringify({ name: `acme-${backend.kind}` }),
    })
    const { team } = await api(gw, '/api/governance/teams', {
      method: 'POST',
      body: JSON.stringify({ name: `research-${backend.kind}`, customer_id: customer.id }),
    })
    const { virtual_key: vk } = await api(gw, '/api/governance/virtual-keys', {
      method: 'POST',
      body: JSON.stringify({ name: `vk-${backend.kind}`, team_id: team.id, provider_configs: [ALL_OPENAI] }),
    })

    const plain = await chat(gw, {
      model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: 'hello plain' }],
    })
    expect(plain.status).toBe(200)
    const streamed = await chat(gw, {
      model: 'openai/gpt-4o-mini',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'hello stream' }],
    })
    expect(streamed.status).toBe(200)
    const failed = await chat(gw, {
      model: 'groq/llama-3',
      messages: [{ role: 'user', content: 'hello fail' }],
    })
    expect(failed.status).toBeGreaterThanOrEqual(400)
    const viaKey = await chat(
      gw,
      { model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'hello team' }] },
      { 'x-bf-vk': vk.value },
    )
    expect(viaKey.status).toBe(200)

    const all = await waitForLogs(gw, 4)
    expect(all.pagination.total_count).toBe(4)
    expect(all.has_logs).toBe(true)
    // Newest first by default.
    expect(all.logs.map((l: any) => l.content_summary?.split(' ').slice(0, 2).join(' '))).toEqual([
      'hello team',
      'hello fail',
      'hello stream',
      'hello plain',
    ])

    const find = async (q: string) => (await api(gw, `/api/logs?${q}`)).logs
    const ofStream = (await find('content_search=HELLO%20STREAM'))[0]
    expect(ofStream.stream).toBe(true)
    expect(ofStream.object).toBe('chat_completion_stream')
    expect(ofStream.response).toMatchObject({ role: 'assistant', content: 'Echo: hello stream' })
    expect(ofStream.time_to_first_token).toBeGreaterThan(0)
    expect(ofStream.time_to_first_token).toBeLessThanOrEqual(ofStream.latency)
    expect(ofStream.total_tokens).toBeGreaterThan(0)

    const failures = await find('status=error')
    expect(failures).toHaveLength(1)
    expect(failures[0]).toMatchObject({ provider: 'groq', status: 'error' })
    // Unpriced: left out, as Bifrost's schema wants (a number or nothing).
    expect(failures[0]).not.toHaveProperty('cost')
    expect(failures[0].error_details.error.message).toMatch(/Incorrect API key/)
    expect(failures[0].attempt_trail[0]).toMatchObject({ provider: 'groq', key_id: expect.any(String) })
    expect(await find('providers=groq')).toHaveLength(1)
    expect(await find('providers=openai')).toHaveLength(3)
    expect(await find('models=gpt-4o')).toHaveLength(1)
    expect(await find('objects=chat_completion')).toHaveLength(3)

    for (const q of [`virtual_key_ids=${vk.id}`, `team_ids=${team.id}`, `customer_ids=${customer.id}`]) {
      const [entry] = await find(q)
      expect(entry).toMatchObject({
        virtual_key_id: vk.id,
        virtual_key_name: vk.name,
        team_id: team.id,
        team_name: team.name,
        customer_id: customer.id,
        customer_name: customer.name,
        model: 'gpt-4o',
        status: 'success',
      })
      expect(entry.cost).toBeGreaterThan(0)
      expect(entry.request.messages[0].content).toBe('hello team')
    }
    expect(await find(`team_ids=${team.id}&status=error`)).toHaveLength(0)

    const plainEntry = (await find('content_search=hello%20plain'))[0]
    expect(plainEntry.output_message.content).toBe('Echo: hello plain')
    expect(plainEntry.input_history).toEqual([{ role: 'user', content: 'hello plain' }])
    expect(plainEntry).toMatchObject({ selected_key_name: 'main', selected_key_id: expect.any(String) })
    expect(await api(gw, `/api/logs/${plainEntry.id}`)).toMatchObject({ id: plainEntry.id, stream: false })
    const missing = await fetch(`${gw.url}/api/logs/nope`)
    expect(missing.status).toBe(404)
    expect(((await missing.json()) as any).error.message).toMatch(/not found/)

    const tokens = plainEntry.total_tokens
    expect(await find(`min_tokens=${tokens}&max_tokens=${tokens}&content_search=plain`)).toHaveLength(1)
    expect(await find(`min_latency=0&max_latency=600000`)).toHaveLength(4)
    expect(await find(`min_cost=0.0000001`)).toHaveLength(3)
    expect(await find(`missing_cost_only=true`)).toHaveLength(1)
    expect(await find(`start_time=${new Date(Date.now() + 60_000).toISOString()}`)).toHaveLength(0)
    expect(await find(`request_id=${plainEntry.id}`)).toHaveLength(1)
    const byTokens = await find('sort_by=tokens&order=asc&limit=2&offset=0')
    expect(byTokens).toHaveLength(2)
    expect(byTokens[0].total_tokens).toBeLessThanOrEqual(byTokens[1].total_tokens)

    // Aggregates add up to what was sent.
    const sumTokens = all.logs.reduce((s: number, l: any) => s + l.total_tokens, 0)
    const sumCost = all.logs.reduce((s: number, l: any) => s + (l.cost ?? 0), 0)
    const stats = await api(gw, '/api/logs/stats')
    expect(stats).toMatchObject({ total_requests: 4, success_rate: 75, total_tokens: sumTokens })
    expect(stats.total_cost).toBeCloseTo(sumCost, 10)
    expect(stats.provider_breakdown).toEqual({ openai: 3, groq: 1 })
    const hist = await api(gw, '/api/logs/histogram?period=1h')
    const count = (k: string) => hist.buckets.reduce((s: number, b: any) => s + b[k], 0)
    expect([count('count'), count('success'), count('error')]).toEqual([4, 3, 1])
    expect(hist.bucket_size_seconds).toBe(60)
    const tok = await api(gw, '/api/logs/histogram/tokens?period=1h')
    expect(tok.buckets.reduce((s: number, b: any) => s + b.total_tokens, 0)).toBe(sumTokens)
    const cost = await api(gw, '/api/logs/histogram/cost?period=1h')
    expect(cost.models.sort()).toEqual(['gpt-4o', 'gpt-4o-mini', 'llama-3'])
    expect(cost.buckets.reduce((s: number, b: any) => s + b.total_cost, 0)).toBeCloseTo(sumCost, 10)
    const lat = await api(gw, '/api/logs/histogram/latency?period=1h')
    expect(lat.buckets.reduce((s: number, b: any) => s + b.total_requests, 0)).toBe(4)
    const models = await api(gw, '/api/logs/histogram/models?period=1h')
    const mini = models.buckets.reduce((s: number, b: any) => s + (b.by_model['gpt-4o-mini']?.total ?? 0), 0)
    expect(mini).toBe(2)
    const byTeam = await api(gw, '/api/logs/histogram/cost/by-dimension?dimension=team_id&period=1h')
    expect(byTeam.values).toContain(team.id)
    const byProvider = await api(gw, '/api/logs/histogram/tokens/by-provider?period=1h')
    expect(byProvider.providers.sort()).toEqual(['groq', 'openai'])
    const filterData = await api(gw, '/api/logs/filterdata')
    expect(filterData.models.map((m: any) => m.id).sort()).toEqual(['gpt-4o', 'gpt-4o-mini', 'llama-3'])
    expect(filterData.teams).toEqual([{ id: team.id, name: team.name }])
    expect(filterData.virtual_keys).toEqual([{ id: vk.id, name: vk.name }])

    const bad = await fetch(`${gw.url}/api/logs?limit=5000`)
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as any).error.param).toBe('limit')
    const badDim = await fetch(`${gw.url}/api/logs/histogram/cost/by-dimension?dimension=color`)
    expect(badDim.status).toBe(400)
    // Bifrost's filters on things Heimdall's entries never carry match nothing, rather than everything.
    for (const q of ['routing_rule_ids=rr-1', 'project_ids=p1', 'parent_request_id=x', 'metadata_env=prod'])
      expect(await find(q), q).toHaveLength(0)
    expect((await api(gw, '/api/logs/stats?routing_engine_used=governance')).total_requests).toBe(0)
    const byUser = await fetch(`${gw.url}/api/logs?user_ids=u-1`)
    expect(byUser.status).toBe(400)
    expect(((await byUser.json()) as any).error.param).toBe('user_ids')
    // Bifrost's OpenAPI names the error `error`, its server `error_details`: both are there.
    expect(failures[0].error).toEqual(failures[0].error_details)

    await api(gw, '/api/logs', { method: 'DELETE', body: JSON.stringify({ ids: [plainEntry.id] }) })
    expect((await api(gw, '/api/logs')).pagination.total_count).toBe(3)
    expect(await api(gw, '/api/logs/dropped')).toMatchObject({ dropped_requests: 0 })
  })
})

describe('request logs switched off', () => {
  it('reports is_logs_connected false and /api/logs says the store is not available', async () => {
    const gw = await start({ enabled: false } as StoreSpec)
    expect((await api(gw, '/api/config')).is_logs_connected).toBe(false)
    const ok = await chat(gw, { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
    expect(ok.status).toBe(200)
    const res = await fetch(`${gw.url}/api/logs`)
    expect(res.status).toBe(503)
    expect(((await res.json()) as any).error.message).toMatch(/log store/)
  })
})

describe('a request refused before routing', () => {
  it('is logged under the provider and model the caller named', async () => {
    const gw = await start({ enabled: true, type: 'sqlite', config: { path: 'logs.db' } } as StoreSpec)
    const refused = await chat(
      gw,
      { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] },
      { 'x-bf-vk': 'sk-bf-not-a-key' },
    )
    expect(refused.status).toBe(401)
    const body = await waitForLogs(gw, 1)
    expect(body.logs[0]).toMatchObject({ provider: 'openai', model: 'gpt-4o-mini', status: 'error' })
  })
})
