import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, describe, expect, it } from 'vitest'
import type { ConfigFile } from '../src/core/schemas/index.js'
import { completeLogin, startOAuthMcpServer, type OAuthMcpServer } from './fakes/oauth-mcp-server.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { backends } from './helpers/databases.js'
import { fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'
import { perUserOAuthClient } from './helpers/mcp.js'

/**
 * Request logs filtered by the HTTP status answered (`status_codes`) and by the route a request came
 * in on (`routes`), on SQLite and PostgreSQL, with a 400 for a malformed code; and the admin's
 * view of per-user MCP sessions: every key's login listed (never a token), revocable, while a key
 * still sees only its own.
 */

const ADMIN = { username: 'admin', password: 'correct-horse-battery' }
const BASIC = `Basic ${Buffer.from(`${ADMIN.username}:${ADMIN.password}`).toString('base64')}`

let fake: FakeServer | undefined
let gw: RunningHeimdall | undefined
let upstream: OAuthMcpServer | undefined
afterAll(async () => {
  await gw?.close()
  await fake?.close()
  await upstream?.close()
})

async function call(method: string, path: string, headers: Record<string, string> = {}, body?: unknown) {
  const res = await fetch(`${gw!.url}${path}`, {
    method,
    headers: { ...headers, ...(body !== undefined && { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as any }
}

describe.each(backends('logs-code-route'))('log filters by status code and route ($kind)', (backend) => {
  it('finds requests by the status they were answered with and the route they came in on', async () => {
    fake = await startFakeOpenAI()
    gw = await startHeimdall({
      providers: { openai: fakeProvider(fake.url) },
      logs_store: {
        ...(await backend.fresh()),
        flush_interval_ms: 10,
      } as unknown as ConfigFile['logs_store'],
    })
    const chat = (path: string, model: string) =>
      fetch(`${gw!.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
      }).then((r) => r.status)
    expect(await chat('/v1/chat/completions', 'openai/gpt-4o-mini')).toBe(200)
    expect(await chat('/openai/v1/chat/completions', 'gpt-4o-mini')).toBe(200)
    // An upstream 401 is not retried: the caller gets the gateway's answer to it, and the log keeps that.
    fake.fail({ kind: 'status', status: 401 })
    const code = await chat('/v1/chat/completions', 'openai/gpt-4o-mini')
    expect(code).toBeGreaterThanOrEqual(400)

    const logs = async (query: string) => {
      const res = await call('GET', `/api/logs?${query}`)
      expect(res.status, JSON.stringify(res.body)).toBe(200)
      return res.body.logs as { id: string; route?: string; status: string }[]
    }
    let all: Awaited<ReturnType<typeof logs>> = []
    for (let i = 0; i < 200 && all.length < 3; i++) {
      all = await logs('limit=10')
      if (all.length < 3) await sleep(25)
    }
    expect(all).toHaveLength(3)
    const failed = all.find((l) => l.status === 'error')!
    const dropIn = all.find((l) => l.route?.startsWith('/openai'))!
    expect(dropIn, JSON.stringify(all.map((l) => l.route))).toBeDefined()

    expect((await logs(`status_codes=${code}`)).map((l) => l.id)).toEqual([failed.id])
    expect(await logs('status_codes=200')).toHaveLength(2)
    expect(await logs(`status_codes=200,${code}`)).toHaveLength(3)
    expect(await logs('status_codes=429')).toEqual([])
    expect((await logs(`routes=${encodeURIComponent(dropIn.route!)}`)).map((l) => l.id)).toEqual([dropIn.id])
    const unified = all.filter((l) => l.id !== dropIn.id)
    expect(
      (await logs(`routes=${encodeURIComponent(unified[0].route!)}&status_codes=200`)).map((l) => l.id),
    ).toEqual(unified.filter((l) => l.status === 'success').map((l) => l.id))
    // The same filters hold for the statistics.
    expect((await call('GET', `/api/logs/stats?status_codes=${code}`)).body.total_requests).toBe(1)
    // The routes seen are offered as filter values.
    const filterdata = (await call('GET', '/api/logs/filterdata')).body
    expect([...filterdata.routes].sort()).toEqual([...new Set(all.map((l) => l.route))].sort())

    for (const bad of ['abc', '700', '20', '200,x']) {
      const res = await call('GET', `/api/logs?status_codes=${bad}`)
      expect(res.status).toBe(400)
      expect(res.body.error.param).toBe('status_codes')
      expect(res.body.error.message).toContain('status_codes must be HTTP status codes')
    }
    await gw.close()
    await fake.close()
    gw = undefined
    fake = undefined
  }, 30_000)
})

describe('MCP per-user sessions as the admin sees them', () => {
  it("lists every key's login for the admin, without tokens, and lets the admin revoke one", async () => {
    upstream = await startOAuthMcpServer()
    gw = await startHeimdall({
      auth_config: { is_enabled: true, admin_username: ADMIN.username, admin_password: ADMIN.password },
      // A key reaches the sessions routes without the admin login, to see its own.
      client: { whitelisted_routes: ['/api/mcp/sessions', '/api/mcp/sessions/*'] },
      mcp: { client_configs: [perUserOAuthClient('oidc', upstream.mcpUrl)] },
    } as ConfigFile)
    const asAdmin = { authorization: BASIC }
    const callback = `${gw.url}/api/oauth/callback`
    const clients = (await call('GET', '/api/mcp/clients', asAdmin)).body.clients
    const clientId = clients.find((c: any) => c.config.name === 'oidc').config.client_id
    const init = await call('POST', `/api/mcp/client/${clientId}/initiate-verification`, asAdmin)
    expect(init.status).toBe(200)
    expect((await completeLogin(init.body.authorize_url, 'admin', callback)).status).toBe(200)

    const mcp_configs = [{ mcp_client_name: 'oidc', tools_to_execute: ['whoami'] }]
    const key = async (name: string) =>
      (await call('POST', '/api/governance/virtual-keys', asAdmin, { name, mcp_configs })).body
        .virtual_key as {
        id: string
        value: string
      }
    const [alice, bob] = [await key('alice-key'), await key('bob-key')]
    const whoami = (vk: string) =>
      call(
        'POST',
        '/v1/mcp/tool/execute?format=chat',
        { authorization: `Bearer ${vk}` },
        { id: 'c1', type: 'function', function: { name: 'oidc-whoami', arguments: '{}' } },
      )
    for (const [vk, user] of [
      [alice.value, 'alice'],
      [bob.value, 'bob'],
    ]) {
      const first = await whoami(vk)
      expect(first.status).toBe(401)
      const link = first.body.extra_fields.mcp_auth_required.login_url
      expect((await completeLogin(link, user, callback, { headers: { 'x-bf-vk': vk } })).status).toBe(200)
      expect((await whoami(vk)).status).toBe(200)
    }

    // The admin sees both keys' logins (and not its own verification credential), with names.
    const listed = await call('GET', '/api/mcp/sessions', asAdmin)
    expect(listed.status).toBe(200)
    const rows = listed.body.sessions as any[]
    expect(rows.map((r) => r.virtual_key?.name).sort()).toEqual(['alice-key', 'bob-key'])
    for (const r of rows)
      expect(r).toMatchObject({
        kind: 'token',
        auth_mode: 'vk',
        status: 'active',
        mcp_client: { name: 'oidc' },
      })
    // No token, nor anything of one (the upstream's access tokens are JWTs: eyJ...).
    for (const r of rows) expect(Object.keys(r).filter((k) => /token|secret|verifier/.test(k))).toEqual([])
    expect(JSON.stringify(rows)).not.toContain('eyJ')

    // A key sees only its own; a caller that names no key and is not the admin sees none.
    const own = await call('GET', '/api/mcp/sessions', { 'x-bf-vk': alice.value })
    expect(own.body.sessions.map((r: any) => r.virtual_key.name)).toEqual(['alice-key'])
    expect((await call('GET', '/api/mcp/sessions')).body.sessions).toEqual([])
    const bobRow = rows.find((r) => r.virtual_key.name === 'bob-key')
    expect((await call('DELETE', `/api/mcp/sessions/${bobRow.id}`, { 'x-bf-vk': alice.value })).status).toBe(
      404,
    )

    // The admin opens a new login for alice's key, and revokes bob's: bob's next call asks to log in.
    const reauth = await call('POST', `/api/mcp/sessions/${rows[0].id}/reauth`, asAdmin, {})
    expect(reauth.status).toBe(200)
    expect(reauth.body.authorize_url).toMatch(/\/api\/oauth\/upstream\/[^/]+\/start$/)
    expect((await call('DELETE', `/api/mcp/sessions/${bobRow.id}`, asAdmin)).status).toBe(204)
    expect((await whoami(bob.value)).status).toBe(401)
    expect((await whoami(alice.value)).status).toBe(200)
    const after = (await call('GET', '/api/mcp/sessions', asAdmin)).body.sessions as any[]
    expect(after.filter((r) => r.kind === 'token').map((r) => r.virtual_key.name)).toEqual(['alice-key'])
  }, 40_000)
})
