import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { ConfigFile } from '../src/core/schemas/index.js'
import { LogStore, type LogRow } from '../src/observability/logs/index.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { backends } from './helpers/databases.js'
import { fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

let fake: FakeServer | undefined
const running: RunningHeimdall[] = []
afterAll(async () => {
  for (const gw of running.splice(0)) await gw.close()
  await fake?.close()
})

function chat(gw: RunningHeimdall, requestId: string, content: string) {
  return fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': requestId },
    body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content }] }),
  })
}

describe.each(backends('reused-request-id'))('a reused x-request-id on $kind', (backend) => {
  it('keeps every request in /api/logs, each with its own id and the caller id beside it', async () => {
    fake ??= await startFakeOpenAI()
    const gw = await startHeimdall({
      providers: { openai: fakeProvider(fake.url) },
      logs_store: {
        ...(await backend.fresh()),
        flush_interval_ms: 10,
      } as unknown as ConfigFile['logs_store'],
    })
    running.push(gw)
    const sent = ['first', 'second', 'third']
    for (const content of sent) {
      const res = await chat(gw, 'my-request-1', content)
      expect(res.status).toBe(200)
      expect(res.headers.get('x-request-id')).toBe('my-request-1')
      await res.text()
    }
    let logs: any[] = []
    for (let i = 0; i < 200 && logs.length < 3; i++) {
      logs = ((await (await fetch(`${gw.url}/api/logs?limit=100`)).json()) as { logs: any[] }).logs
      if (logs.length < 3) await new Promise((r) => setTimeout(r, 25))
    }
    expect(logs.map((l) => l.request.messages[0].content).sort()).toEqual(sent.sort())
    expect(new Set(logs.map((l) => l.id)).size).toBe(3)
    for (const l of logs) {
      expect(l.client_request_id).toBe('my-request-1')
      expect(l.id).not.toBe('my-request-1')
      const one = await (await fetch(`${gw.url}/api/logs/${l.id}`)).json()
      expect(one).toMatchObject({ id: l.id, client_request_id: 'my-request-1' })
    }
    // Without the header the entry has no caller id, and the answer carries the gateway's.
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'fourth' }] }),
    })
    const own = res.headers.get('x-request-id')
    await res.text()
    let entry: any
    for (let i = 0; i < 200 && !entry; i++) {
      const r = await fetch(`${gw.url}/api/logs/${own}`)
      if (r.status === 200) entry = await r.json()
      else await new Promise((r) => setTimeout(r, 25))
    }
    expect(entry.id).toBe(own)
    expect(entry.client_request_id).toBeUndefined()
  })
})

describe('a log table made before client_request_id', () => {
  it('gains the column and stores it', async () => {
    const appDir = await mkdtemp(join(tmpdir(), 'logs-old-'))
    const { default: Database } = await import('better-sqlite3')
    const old = new Database(join(appDir, 'logs.db'))
    old.exec(
      `create table logs (id varchar(255) not null primary key, ts bigint not null, object varchar(64) not null, route varchar(255), provider varchar(255) not null, model varchar(255) not null, status varchar(16) not null, stream integer not null default 0, fallback_index integer not null default 0, number_of_retries integer not null default 0, selected_key_id varchar(255), selected_key_name varchar(255), virtual_key_id varchar(255), virtual_key_name varchar(255), team_id varchar(255), team_name varchar(255), customer_id varchar(255), customer_name varchar(255), latency double precision not null default 0, ttft double precision, prompt_tokens integer not null default 0, completion_tokens integer not null default 0, total_tokens integer not null default 0, cached_tokens integer not null default 0, reasoning_tokens integer not null default 0, cost double precision, cost_estimated integer not null default 0, error text, attempts text, input text, output text, content_summary text)`,
    )
    old.close()
    const store = await LogStore.open({ type: 'sqlite' }, appDir)
    try {
      const row: LogRow = {
        id: 'gw-1',
        client_request_id: 'caller-1',
        ts: Date.now(),
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
        latency: 1,
        ttft: null,
        prompt_tokens: 0,
        completion_tokens: 0,
        total_tokens: 0,
        cached_tokens: 0,
        reasoning_tokens: 0,
        cost: null,
        cost_estimated: 0,
        error: null,
        attempts: null,
        input: null,
        output: null,
        content_summary: null,
      }
      await store.insert([row])
      const { rows } = await store.search({}, { limit: 10, offset: 0, sort_by: 'timestamp', order: 'asc' })
      expect(rows.map((r) => [r.id, r.client_request_id])).toEqual([['gw-1', 'caller-1']])
    } finally {
      await store.close()
    }
  })
})
