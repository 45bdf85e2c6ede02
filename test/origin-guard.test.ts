import { existsSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { upgradeStatus } from './helpers/upgrade.js'
import { fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

/**
 * A gateway on loopback with no admin login (the quick start) answers curl and SDKs as before, but
 * a web page cannot use it: a `Host` that is not a loopback name (DNS rebinding) and an `Origin`
 * that is not the gateway's own are refused on every route, the live log socket included.
 */

interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

/** Sends a request with exactly these headers (fetch would not let a test set Host). */
function send(
  base: string,
  path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<Answer> {
  const url = new URL(base)
  const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body)
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path,
        method: opts.method ?? 'GET',
        headers: {
          ...(payload !== undefined && { 'content-type': 'application/json' }),
          ...opts.headers,
        },
      },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => (body += c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
      },
    )
    req.on('error', reject)
    req.end(payload)
  })
}

const CHAT = { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }

function expectForbidden(answer: Answer, what: string, mentions: RegExp): void {
  expect(answer.status, `${what}: ${answer.body}`).toBe(403)
  const body = JSON.parse(answer.body)
  expect(body, what).toMatchObject({
    is_bifrost_error: false,
    status_code: 403,
    error: { type: 'permission_error', code: 'forbidden' },
  })
  expect(body.error.message, what).toMatch(mentions)
}

let fake: FakeServer
let gw: RunningHeimdall
let port: string

beforeAll(async () => {
  fake = await startFakeOpenAI()
  gw = await startHeimdall({ providers: { openai: fakeProvider(fake.url) } })
  port = new URL(gw.url).port
})

afterAll(async () => {
  await gw?.close()
  await fake?.close()
})

describe('a gateway on loopback without admin login', () => {
  it('answers curl and SDKs (no Origin) on the management API and inference, with no setup', async () => {
    const providers = await send(gw.url, '/api/providers')
    expect(providers.status, providers.body).toBe(200)
    const chat = await send(gw.url, '/v1/chat/completions', { method: 'POST', body: CHAT })
    expect(chat.status, chat.body).toBe(200)
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, 'localhost']) {
      expect((await send(gw.url, '/api/providers', { headers: { host } })).status, host).toBe(200)
    }
  })

  it('refuses a Host that is not a loopback name (DNS rebinding) on every route, saying how to allow it', async () => {
    fake.reset()
    const host = `rebind.attacker.example:${port}`
    const routes: [string, string, unknown?][] = [
      ['GET', '/api/providers'],
      [
        'POST',
        '/api/mcp/client',
        { name: 'x', connection_type: 'stdio', stdio_config: { command: '/bin/sh' } },
      ],
      ['POST', '/v1/chat/completions', CHAT],
      ['POST', '/openai/v1/chat/completions', { ...CHAT, model: 'gpt-4o-mini' }],
      ['POST', '/v1/mcp/tool/execute', { name: 'x', arguments: {} }],
      ['GET', '/ws/logs'],
      ['GET', '/'],
    ]
    for (const [method, path, body] of routes) {
      expectForbidden(
        await send(gw.url, path, { method, body, headers: { host } }),
        `${method} ${path}`,
        /host rebind\.attacker\.example:\d+ is not allowed.*client\.allowed_origins/,
      )
    }
    expect(fake.requests).toHaveLength(0)
  })

  it('refuses a foreign Origin: a web page can neither run a command nor read an environment variable', async () => {
    const marker = join(gw.appDir, 'pwned')
    const evil = { origin: 'http://evil.example' }
    expectForbidden(
      await send(gw.url, '/api/mcp/client', {
        method: 'POST',
        headers: evil,
        body: {
          name: 'pwn',
          connection_type: 'stdio',
          stdio_config: { command: '/bin/sh', args: ['-c', `touch ${marker}`] },
        },
      }),
      'stdio client',
      /origin http:\/\/evil\.example is not allowed/,
    )
    expectForbidden(
      await send(gw.url, '/api/providers', {
        method: 'POST',
        headers: evil,
        body: {
          provider: 'openai',
          keys: [{ name: 'home', value: 'env.HOME', models: ['*'], weight: 1 }],
          network_config: { base_url: 'http://evil.example' },
        },
      }),
      'env key',
      /origin http:\/\/evil\.example is not allowed/,
    )
    for (const origin of ['http://evil.example', 'null', `http://127.0.0.1.evil.example:${port}`]) {
      expectForbidden(
        await send(gw.url, '/v1/chat/completions', { method: 'POST', headers: { origin }, body: CHAT }),
        origin,
        /is not allowed/,
      )
    }
    await sleep(200)
    expect(existsSync(marker)).toBe(false)
    const clients = JSON.parse((await send(gw.url, '/api/mcp/clients')).body)
    expect(clients.clients).toEqual([])
    const providers = JSON.parse((await send(gw.url, '/api/providers')).body)
    expect(JSON.stringify(providers)).not.toContain('evil.example')
  })

  it('serves its own web UI: its own origin reaches the API and the live logs', async () => {
    for (const origin of [`http://127.0.0.1:${port}`, `http://localhost:${port}`]) {
      const host = new URL(origin).host
      const res = await send(gw.url, '/api/providers', { headers: { host, origin } })
      expect(res.status, origin).toBe(200)
      const chat = await send(gw.url, '/v1/chat/completions', {
        method: 'POST',
        headers: { host, origin },
        body: CHAT,
      })
      expect(chat.status, origin).toBe(200)
    }
    const page = await send(gw.url, '/')
    expect(page.status).toBe(200)
    expect(page.headers['content-type']).toMatch(/text\/html/)
  })

  it('/ws/logs refuses a foreign Origin and accepts its own', async () => {
    const ws = gw.url.replace(/^http/, 'ws') + '/ws/logs'
    expect(await upgradeStatus(ws, { origin: 'http://evil.example' })).toBe(403)
    expect(await upgradeStatus(ws, { origin: `http://localhost:${port}`, host: `localhost:${port}` })).toBe(
      101,
    )
    expect(await upgradeStatus(ws, { origin: gw.url })).toBe(101)
    expect(await upgradeStatus(ws, {})).toBe(101)
  })

  it('/mcp decides with the same guard, answering in JSON-RPC', async () => {
    const rpc = { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }
    const foreign: Record<string, string>[] = [
      { host: `evil.example:${port}` },
      { origin: 'http://evil.example' },
    ]
    for (const headers of foreign) {
      const res = await send(gw.url, '/mcp', {
        method: 'POST',
        headers: { accept: 'application/json, text/event-stream', ...headers },
        body: rpc,
      })
      expect(res.status, JSON.stringify(headers)).toBe(403)
      expect(JSON.parse(res.body).error.message).toMatch(/^Forbidden: (host|origin) .* is not allowed/)
    }
  })
})

describe('a gateway on loopback behind a proxy, with its public origin in client.allowed_origins', () => {
  it('accepts that Host and Origin, and still refuses others', async () => {
    const proxied = await startHeimdall({
      providers: { openai: fakeProvider(fake.url) },
      client: { allowed_origins: ['https://gw.example.com'] },
    })
    try {
      const ok = await send(proxied.url, '/api/providers', {
        headers: { host: 'gw.example.com', origin: 'https://gw.example.com', 'x-forwarded-proto': 'https' },
      })
      expect(ok.status, ok.body).toBe(200)
      expectForbidden(
        await send(proxied.url, '/api/providers', { headers: { host: 'other.example.com' } }),
        'other host',
        /host other\.example\.com is not allowed/,
      )
      expectForbidden(
        await send(proxied.url, '/api/providers', {
          headers: { host: 'gw.example.com', origin: 'https://other.example.com' },
        }),
        'other origin',
        /origin https:\/\/other\.example\.com is not allowed/,
      )
    } finally {
      await proxied.close()
    }
  })
})

describe('/ws/logs with admin auth on', () => {
  it('a foreign origin is refused even with a valid session cookie', async () => {
    const authed = await startHeimdall({
      auth_config: { is_enabled: true, admin_username: 'admin', admin_password: 'a long admin password' },
    })
    try {
      const login = await send(authed.url, '/api/session/login', {
        method: 'POST',
        body: { username: 'admin', password: 'a long admin password' },
      })
      const cookie = String(login.headers['set-cookie']).split(';')[0]
      const ws = authed.url.replace(/^http/, 'ws') + '/ws/logs'
      expect(await upgradeStatus(ws, { cookie, origin: 'http://evil.example' })).toBe(403)
      expect(await upgradeStatus(ws, { cookie, origin: authed.url })).toBe(101)
      expect(await upgradeStatus(ws, { origin: authed.url })).toBe(401)
    } finally {
      await authed.close()
    }
  })
})
