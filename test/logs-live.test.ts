import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import type { ConfigFile } from '../src/core/schemas/index.js'
import { LogStore, type LogRow } from '../src/observability/logs/index.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

let fake: FakeServer | undefined
const running: RunningHeimdall[] = []
afterAll(async () => {
  for (const gw of running.splice(0)) await gw.close()
  await fake?.close()
})

async function start(extra: Partial<ConfigFile> = {}, appDir?: string) {
  fake ??= await startFakeOpenAI()
  const gw = await startHeimdall(
    {
      providers: {
        openai: fakeProvider(fake.url),
        groq: fakeProvider(fake.url, {}, [{ name: 'bad', value: 'sk-bad', models: ['*'], weight: 1 }]),
      },
      logs_store: { type: 'sqlite', flush_interval_ms: 10 } as ConfigFile['logs_store'],
      ...extra,
    },
    { appDir },
  )
  running.push(gw)
  return gw
}

async function get(gw: RunningHeimdall, path: string, headers: Record<string, string> = {}): Promise<any> {
  const res = await fetch(`${gw.url}${path}`, { headers })
  const body = await res.json()
  expect(res.status, `${path}: ${JSON.stringify(body)}`).toBe(200)
  return body
}

function chat(gw: RunningHeimdall, model: string, content: string) {
  return fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content }] }),
  }).then((r) => r.text())
}

async function waitForLogs(gw: RunningHeimdall, n: number): Promise<any[]> {
  for (let i = 0; i < 200; i++) {
    const body = await get(gw, '/api/logs?limit=100')
    if (body.pagination.total_count >= n) return body.logs
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error(`fewer than ${n} logs`)
}

function wsUrl(gw: RunningHeimdall, path: string) {
  return gw.url.replace(/^http/, 'ws') + path
}

describe('live log stream', () => {
  it('/ws/logs delivers matching entries in the order requests ended, in Bifrost message shape', async () => {
    const gw = await start()
    const socket = new WebSocket(wsUrl(gw, '/ws/logs?providers=openai'))
    const messages: any[] = []
    socket.on('message', (data) => messages.push(JSON.parse(String(data))))
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject))
    for (const [model, text] of [
      ['openai/gpt-4o-mini', 'one'],
      ['openai/gpt-4o-mini', 'two'],
      ['groq/llama-3', 'filtered out'],
      ['openai/gpt-4o', 'three'],
      ['openai/gpt-4o-mini', 'four'],
    ]) {
      await chat(gw, model, text)
    }
    for (let i = 0; i < 100 && messages.length < 4; i++) await new Promise((r) => setTimeout(r, 20))
    socket.close()
    expect(messages.map((m) => [m.type, m.operation, m.payload.request.messages[0].content])).toEqual([
      ['log', 'create', 'one'],
      ['log', 'create', 'two'],
      ['log', 'create', 'three'],
      ['log', 'create', 'four'],
    ])
    expect(messages[2].payload).toMatchObject({ provider: 'openai', model: 'gpt-4o', status: 'success' })
    // The same entries are in the store.
    const stored = await waitForLogs(gw, 5)
    expect(stored.map((l) => l.id)).toContain(messages[0].payload.id)
  })

  it('with admin auth on, a socket without credentials is refused and one with them is served', async () => {
    const gw = await start({
      auth_config: { is_enabled: true, admin_username: 'admin', admin_password: 'hunter2-long' },
    })
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(wsUrl(gw, '/ws/logs'))
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0))
      ws.on('open', () => resolve(101))
      ws.on('error', () => undefined)
    })
    expect(status).toBe(401)
    const basic = `Basic ${Buffer.from('admin:hunter2-long').toString('base64')}`
    const ok = new WebSocket(wsUrl(gw, '/ws/logs'), { headers: { authorization: basic } })
    await new Promise((resolve, reject) => ok.once('open', resolve).once('error', reject))
    ok.close()
    expect((await fetch(`${gw.url}/api/logs`)).status).toBe(401)
    expect((await get(gw, '/api/logs', { authorization: basic })).logs).toEqual([])
  })
})

describe('content logging', () => {
  it('with disable_content_logging no body is stored and content search finds nothing', async () => {
    const gw = await start({ client: { disable_content_logging: true } })
    await chat(gw, 'openai/gpt-4o-mini', 'a secret plan')
    const [entry] = await waitForLogs(gw, 1)
    expect(entry.status).toBe('success')
    expect(entry.total_tokens).toBeGreaterThan(0)
    for (const field of ['request', 'response', 'input_history', 'output_message', 'content_summary']) {
      expect(entry, field).not.toHaveProperty(field)
    }
    expect((await get(gw, '/api/logs?content_search=secret')).logs).toEqual([])
  })

  it('credentials in a logged body are redacted', async () => {
    const gw = await start()
    await chat(gw, 'openai/gpt-4o-mini', 'use key sk-proj-abcdefghijklmnopqrstuvwxyz0123 please')
    const [entry] = await waitForLogs(gw, 1)
    const text = JSON.stringify(entry)
    expect(text).not.toContain('abcdefghijklmnopqrstuvwxyz0123')
    expect(entry.request.messages[0].content).toBe('use key [REDACTED] please')
  })
})

describe('spend questions from the API alone', () => {
  it('what did team X spend yesterday, on which models, and which requests failed', async () => {
    const appDir = await mkdtemp(join(tmpdir(), 'heimdall-logs-'))
    const today = Math.floor(Date.now() / 86_400_000) * 86_400_000
    const yesterday = today - 86_400_000
    const seed = await LogStore.open({ type: 'sqlite' }, appDir)
    const base: Omit<LogRow, 'id' | 'ts' | 'model' | 'cost' | 'status' | 'team_id'> = {
      object: 'chat_completion',
      route: '/v1/chat/completions',
      provider: 'openai',
      stream: 0,
      fallback_index: 0,
      number_of_retries: 0,
      selected_key_id: 'k',
      selected_key_name: 'main',
      virtual_key_id: 'vk-1',
      virtual_key_name: 'bot',
      team_name: null,
      customer_id: null,
      customer_name: null,
      latency: 120,
      ttft: null,
      prompt_tokens: 100,
      completion_tokens: 50,
      total_tokens: 150,
      cached_tokens: 0,
      reasoning_tokens: 0,
      cost_estimated: 0,
      error: null,
      attempts: null,
      input: null,
      output: null,
      content_summary: null,
    }
    const fail = JSON.stringify({ error: { type: 'rate_limit_error', message: 'quota exceeded upstream' } })
    await seed.insert([
      {
        ...base,
        id: 'x1',
        ts: yesterday + 3_600_000,
        team_id: 'team-x',
        model: 'gpt-4o',
        cost: 0.25,
        status: 'success',
      },
      {
        ...base,
        id: 'x2',
        ts: yesterday + 7_200_000,
        team_id: 'team-x',
        model: 'gpt-4o',
        cost: 0.5,
        status: 'success',
      },
      {
        ...base,
        id: 'x3',
        ts: yesterday + 9_000_000,
        team_id: 'team-x',
        model: 'gpt-4o-mini',
        cost: 0.125,
        status: 'success',
      },
      {
        ...base,
        id: 'x4',
        ts: yesterday + 10_000_000,
        team_id: 'team-x',
        model: 'gpt-4o-mini',
        cost: null,
        status: 'error',
        error: fail,
      },
      {
        ...base,
        id: 'y1',
        ts: yesterday + 3_600_000,
        team_id: 'team-y',
        model: 'gpt-4o',
        cost: 9,
        status: 'success',
      },
      {
        ...base,
        id: 'x-today',
        ts: today + 60_000,
        team_id: 'team-x',
        model: 'gpt-4o',
        cost: 7,
        status: 'success',
      },
      {
        ...base,
        id: 'x-before',
        ts: yesterday - 60_000,
        team_id: 'team-x',
        model: 'gpt-4o',
        cost: 3,
        status: 'error',
        error: fail,
      },
    ])
    await seed.close()
    const gw = await start({}, appDir)
    const window = `team_ids=team-x&start_time=${new Date(yesterday).toISOString()}&end_time=${new Date(today - 1).toISOString()}`

    const spend = await get(gw, `/api/logs/stats?${window}`)
    expect(spend.total_cost).toBeCloseTo(0.875, 10)
    expect(spend.total_requests).toBe(4)
    const models = await get(gw, `/api/logs/breakdown?dimension=model&${window}`)
    expect(models.rows.map((r: any) => [r.model, r.total_cost, r.total_requests, r.errors])).toEqual([
      ['gpt-4o', 0.75, 2, 0],
      ['gpt-4o-mini', 0.125, 2, 1],
    ])
    const failed = await get(gw, `/api/logs?status=error&${window}`)
    expect(failed.logs.map((l: any) => [l.id, l.model, l.error_details.error.message])).toEqual([
      ['x4', 'gpt-4o-mini', 'quota exceeded upstream'],
    ])
  })
})
