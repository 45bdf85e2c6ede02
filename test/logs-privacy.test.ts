import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import WebSocket from 'ws'
import { afterAll, describe, expect, it } from 'vitest'
import type { ConfigFile } from '../src/core/schemas/index.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { backends, type Backend } from './helpers/databases.js'
import { fakeProvider, readSse, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

/**
 * What request logs keep of a request's content: nothing for a virtual key that switched content
 * logging off, and never the caller's credentials, whether in the store or on /ws/logs.
 */

const ALL_OPENAI = { provider: 'openai', allowed_models: ['*'], key_ids: ['*'] }

let fake: FakeServer | undefined
const running: RunningHeimdall[] = []
afterAll(async () => {
  for (const gw of running.splice(0)) await gw.close()
  await fake?.close()
})

/** A gateway whose config store and log store are both on the backend under test. */
async function start(backend: Backend, client: Record<string, unknown> = {}) {
  fake ??= await startFakeOpenAI()
  const configStore: Partial<ConfigFile> =
    backend.kind === 'postgres'
      ? {
          config_store: {
            enabled: true,
            type: 'postgres',
            config: { connection_string: await backend.freshUrl() },
          } as ConfigFile['config_store'],
        }
      : {}
  const gw = await startHeimdall({
    ...configStore,
    client,
    providers: { openai: fakeProvider(fake.url) },
    logs_store: { ...(await backend.fresh()), flush_interval_ms: 10 } as unknown as ConfigFile['logs_store'],
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

async function chat(gw: RunningHeimdall, body: Record<string, unknown>, headers: Record<string, string>) {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  })
  return { status: res.status, text: body.stream ? JSON.stringify(await readSse(res)) : await res.text() }
}

async function waitForLogs(gw: RunningHeimdall, n: number, query = ''): Promise<any[]> {
  for (let i = 0; i < 200; i++) {
    const body = await api(gw, `/api/logs?limit=100${query}`)
    // The page and the count are two queries: wait until both see the entries.
    if (body.logs.length >= n && body.pagination.total_count >= n) return body.logs
    await sleep(25)
  }
  throw new Error(`fewer than ${n} logs for ${query}`)
}

describe.each(backends('logs-privacy'))('content logging per virtual key on $kind', (backend) => {
  it('logs both keys’ requests, with bodies only for the key that keeps content', async () => {
    const gw = await start(backend)
    const create = (name: string, extra: Record<string, unknown>) =>
      api(gw, '/api/governance/virtual-keys', {
        method: 'POST',
        body: JSON.stringify({ name, provider_configs: [ALL_OPENAI], ...extra }),
      })
    const { virtual_key: open } = await create('open', {})
    const { virtual_key: quiet } = await create('quiet', { disable_content_logging: true })
    expect(open.disable_content_logging).toBe(false)
    expect(quiet.disable_content_logging).toBe(true)
    expect((await api(gw, `/api/governance/virtual-keys/${quiet.id}`)).virtual_key).toMatchObject({
      disable_content_logging: true,
    })

    const ask = (vk: string, content: string, stream = false) =>
      chat(
        gw,
        { model: 'openai/gpt-4o-mini', stream, messages: [{ role: 'user', content }] },
        { 'x-bf-vk': vk },
      )
    expect((await ask(open.value, 'open plain')).status).toBe(200)
    expect((await ask(quiet.value, 'quiet plain')).status).toBe(200)
    expect((await ask(quiet.value, 'quiet stream', true)).status).toBe(200)

    const openLogs = await waitForLogs(gw, 1, `&virtual_key_ids=${open.id}`)
    const quietLogs = await waitForLogs(gw, 2, `&virtual_key_ids=${quiet.id}`)
    expect(openLogs[0]).toMatchObject({
      status: 'success',
      content_summary: expect.stringContaining('open plain'),
      output_message: { role: 'assistant', content: 'Echo: open plain' },
    })
    expect(openLogs[0].request.messages[0].content).toBe('open plain')
    expect(quietLogs).toHaveLength(2)
    for (const entry of quietLogs) {
      // Metadata stays: who, which model, how many tokens, what it cost.
      expect(entry).toMatchObject({ status: 'success', virtual_key_name: 'quiet', model: 'gpt-4o-mini' })
      expect(entry.total_tokens).toBeGreaterThan(0)
      for (const field of ['request', 'response', 'input_history', 'output_message', 'content_summary'])
        expect(entry[field], field).toBeUndefined()
      expect(JSON.stringify(entry)).not.toMatch(/quiet (plain|stream)/)
    }
    expect((await api(gw, '/api/logs?content_search=quiet')).logs).toHaveLength(0)

    // Switching it back on applies to the key's next request.
    const updated = await api(gw, `/api/governance/virtual-keys/${quiet.id}`, {
      method: 'PUT',
      body: JSON.stringify({ disable_content_logging: false }),
    })
    expect(updated.virtual_key.disable_content_logging).toBe(false)
    expect((await ask(quiet.value, 'quiet again')).status).toBe(200)
    const again = await waitForLogs(gw, 1, '&content_search=quiet%20again')
    expect(again[0].virtual_key_id).toBe(quiet.id)

    const bad = await fetch(`${gw.url}/api/governance/virtual-keys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bad', disable_content_logging: 'yes' }),
    })
    expect(bad.status).toBe(400)
  })
})

describe('credentials in request logs', () => {
  it('never stores or streams the caller’s virtual key, direct key or secret body fields', async () => {
    const [sqlite] = backends('logs-secrets')
    const gw = await start(sqlite, { allow_direct_keys: true })
    const { virtual_key: vk } = await api(gw, '/api/governance/virtual-keys', {
      method: 'POST',
      body: JSON.stringify({ name: 'leaky', provider_configs: [ALL_OPENAI] }),
    })
    // Opaque values, in no known key format: only knowing what the caller sent can find them.
    const directKey = `opaque${randomBytes(12).toString('hex')}`
    const bodySecret = `hunter2${randomBytes(8).toString('hex')}`
    const secrets = [vk.value, directKey, bodySecret]

    const ws = new WebSocket(`${gw.url.replace('http', 'ws')}/ws/logs`)
    const streamed: string[] = []
    ws.on('message', (m: Buffer) => streamed.push(m.toString('utf8')))
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))

    // The caller pastes its own key into the prompt and sends a secret field in the body.
    const withVk = await chat(
      gw,
      {
        model: 'openai/gpt-4o-mini',
        messages: [{ role: 'user', content: `my key is ${vk.value}, keep it safe` }],
        api_key: bodySecret,
      },
      { 'x-bf-vk': vk.value },
    )
    expect(withVk.status).toBe(200)
    // A direct key the provider refuses, quoting it back as OpenAI does.
    fake!.fail({
      kind: 'status',
      status: 401,
      body: JSON.stringify({
        error: {
          message: `Incorrect API key provided: ${directKey}.`,
          type: 'invalid_request_error',
          param: null,
          code: 'invalid_api_key',
        },
      }),
    })
    const refused = await chat(
      gw,
      { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: `direct ${directKey}` }] },
      { authorization: `Bearer ${directKey}`, 'x-bf-direct-key': 'true' },
    )
    expect(refused.status).toBeGreaterThanOrEqual(400)
    const streamedDirect = await chat(
      gw,
      {
        model: 'openai/gpt-4o-mini',
        stream: true,
        messages: [{ role: 'user', content: `stream ${directKey}` }],
      },
      { authorization: `Bearer ${directKey}`, 'x-bf-direct-key': 'true' },
    )
    expect(streamedDirect.status).toBe(200)

    const logs = await waitForLogs(gw, 3)
    for (let i = 0; i < 100 && streamed.length < 3; i++) await sleep(20)
    ws.close()
    expect(streamed).toHaveLength(3)
    const stored = JSON.stringify(logs)
    const full = JSON.stringify(await Promise.all(logs.map((l) => api(gw, `/api/logs/${l.id}`))))
    for (const text of [stored, full, ...streamed]) {
      for (const secret of secrets) expect(text).not.toContain(secret)
    }
    // Redacted, not dropped: the entries still say what happened.
    const failed = logs.find((l) => l.status === 'error')
    expect(failed.error_details.error.message).toMatch(/Incorrect API key provided: \[redacted\]/i)
    const first = logs.find((l) => l.virtual_key_id === vk.id)
    expect(first.request.messages[0].content).toBe('my key is [REDACTED], keep it safe')
    expect(first.request.api_key).toBe('[REDACTED]')
    expect(stored).toContain('stream [REDACTED]')
    // And the secrets cannot be searched for.
    expect((await api(gw, `/api/logs?content_search=${directKey}`)).logs).toHaveLength(0)
  })
})
