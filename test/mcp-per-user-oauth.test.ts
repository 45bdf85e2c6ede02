import { createHash, randomBytes } from 'node:crypto'
import type { ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { callJson, fakeProvider, type RunningHeimdall, startHeimdall } from './helpers/heimdall.js'
import { everythingClient, perUserOAuthClient, startExampleOAuthServer, waitForTool } from './helpers/mcp.js'

/**
 * The whole gateway with a per_user_oauth MCP client (the MCP SDK's example server in
 * `--oauth-strict` mode, auto-approving its /authorize) next to server-everything over stdio:
 * an admin verifies the OAuth client, after which its tools are known to every key's access checks
 * and injection, while each key still calls them with its own upstream login.
 */

/** Approves at the (auto-approving) upstream authorization URL and follows its redirect back to Heimdall. */
/** The upstream approves at once; the redirect back to Heimdall carries `cookie` (the login's browser binding). */
async function approve(authorizeUrl: string, heimdallUrl: string, cookie?: string): Promise<Response> {
  const approved = await fetch(authorizeUrl, { redirect: 'manual' })
  expect(approved.status).toBe(302)
  const back = new URL(approved.headers.get('location') ?? '')
  expect(`${back.origin}${back.pathname}`).toBe(`${heimdallUrl}/api/oauth/callback`)
  return fetch(back, { headers: cookie ? { cookie } : {} })
}

describe('per_user_oauth MCP client through the gateway', () => {
  let fake: FakeServer
  let gw: RunningHeimdall
  let upstream: ChildProcess | undefined
  let keyA: { id: string; value: string }
  let keyB: { id: string; value: string }
  let appDir: string
  let config: Parameters<typeof startHeimdall>[0]

  const api = (method: string, path: string, body?: unknown, bearer?: string) =>
    callJson(gw.url, method, path, body, bearer)
  const client = async (name: string) =>
    (await api('GET', '/api/mcp/clients')).body.clients.find((c: any) => c.config.name === name)
  const execute = (vk: string, name: string, args: unknown) =>
    api(
      'POST',
      '/v1/mcp/tool/execute?format=chat',
      { id: 'call_1', type: 'function', function: { name, arguments: JSON.stringify(args) } },
      vk,
    )

  beforeAll(async () => {
    const started = await startExampleOAuthServer()
    upstream = started.child
    fake = await startFakeOpenAI()
    appDir = await mkdtemp(join(tmpdir(), 'heimdall-per-user-oauth-'))
    config = {
      providers: { openai: fakeProvider(fake.url) },
      mcp: {
        client_configs: [everythingClient(), perUserOAuthClient('secure', started.url)],
      },
    }
    gw = await startHeimdall(config, { appDir })
    await waitForTool(gw, 'everything-echo')
    const provider_configs = [{ provider: 'openai', allowed_models: ['*'], key_ids: ['*'] }]
    const a = await api('POST', '/api/governance/virtual-keys', {
      name: 'key-a',
      provider_configs,
      mcp_configs: [
        { mcp_client_name: 'everything', tools_to_execute: ['echo'] },
        { mcp_client_name: 'secure', tools_to_execute: ['greet'] },
      ],
    })
    keyA = a.body.virtual_key
    const b = await api('POST', '/api/governance/virtual-keys', {
      name: 'key-b',
      provider_configs,
      mcp_configs: [{ mcp_client_name: 'everything', tools_to_execute: ['echo'] }],
    })
    keyB = b.body.virtual_key
  }, 60_000)

  afterAll(async () => {
    await gw?.close()
    await fake?.close()
    upstream?.kill('SIGKILL')
    if (appDir) await rm(appDir, { recursive: true, force: true })
  })

  it('verifies the client as admin, then lets each key call it with its own login', async () => {
    const before = await client('secure')
    expect(before.state).toBe('pending_verification')
    expect(before.tools).toEqual([])
    const clientId: string = before.config.client_id
    // Not a per-user client, and not found.
    const everythingId: string = (await client('everything')).config.client_id
    expect((await api('POST', `/api/mcp/client/${everythingId}/initiate-verification`)).status).toBe(400)
    expect((await api('POST', '/api/mcp/client/nope/initiate-verification')).status).toBe(404)

    // --- admin verification ---
    const init = await api('POST', `/api/mcp/client/${clientId}/initiate-verification`)
    expect(init.status).toBe(200)
    expect(init.body).toMatchObject({ status: 'pending_oauth', mcp_client_id: clientId })
    expect(typeof init.body.oauth_config_id).toBe('string')
    expect(typeof init.body.expires_at).toBe('string')
    const authorize = new URL(init.body.authorize_url)
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256')
    expect(authorize.searchParams.get('redirect_uri')).toBe(`${gw.url}/api/oauth/callback`)
    const done = await approve(init.body.authorize_url, gw.url)
    expect(done.status).toBe(200)
    expect(await done.text()).toContain('verified')

    const after = await client('secure')
    expect(after.state).toBe('connected')
    expect(after.tools.map((t: any) => t.name)).toContain('secure-greet')
    // Once verified, verification is not started again.
    expect((await api('POST', `/api/mcp/client/${clientId}/initiate-verification`)).status).toBe(400)

    // --- injection: key A's chat completion carries exactly its two tools ---
    fake.reset()
    const openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: keyA.value, maxRetries: 0 })
    await openai.chat.completions.create({
      model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: 'tools?' }],
    })
    const sent = fake.requests[0].body.tools.map((t: any) => t.function.name).sort()
    expect(sent).toEqual(['everything-echo', 'secure-greet'])

    // --- Heimdall's own consent pages send key A (not key B) through the upstream login ---
    const consentMcps = async (vk: string) => {
      const reg = await api('POST', '/api/oauth/per-user/register', {
        client_name: 'consent-test',
        redirect_uris: ['http://127.0.0.1:9/callback'],
      })
      expect(reg.status).toBe(201)
      const verifier = randomBytes(32).toString('base64url')
      const authorized = await fetch(
        `${gw.url}/api/oauth/per-user/authorize?${new URLSearchParams({
          response_type: 'code',
          client_id: reg.body.client_id,
          redirect_uri: 'http://127.0.0.1:9/callback',
          code_challenge: createHash('sha256').update(verifier).digest('base64url'),
          code_challenge_method: 'S256',
          state: 's',
        })}`,
        { redirect: 'manual' },
      )
      const flowId = new URL(authorized.headers.get('location')!, gw.url).searchParams.get('flow_id')!
      const cookie = authorized.headers.get('set-cookie')!.split(';')[0]
      const chosen = await fetch(`${gw.url}/api/oauth/per-user/consent/vk`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
        body: new URLSearchParams({ flow_id: flowId, vk }).toString(),
      })
      expect(chosen.status).toBe(302)
      const page = await fetch(`${gw.url}/oauth/consent/mcps?flow_id=${flowId}`, { headers: { cookie } })
      expect(page.status).toBe(200)
      return page.text()
    }
    const pageA = await consentMcps(keyA.value)
    expect(pageA).toContain('secure')
    expect(pageA).toMatch(/\/api\/oauth\/upstream\/[^"]+\/start/)
    expect(await consentMcps(keyB.value)).not.toMatch(/\/api\/oauth\/upstream\//)

    // --- key A calls the protected tool: its own login is required, not the admin's credential ---
    const first = await execute(keyA.value, 'secure-greet', { name: 'Ada' })
    expect(first.status).toBe(401)
    expect(JSON.stringify(first.body)).toContain('mcp_auth_required')
    expect(first.body.error.type).toBe('mcp_auth_required')
    const required = first.body.extra_fields.mcp_auth_required
    expect(required.mcp_client).toEqual({ client_id: clientId, name: 'secure' })
    const loginUrl: string = required.login_url
    expect(loginUrl).toMatch(new RegExp(`^${gw.url}/api/oauth/upstream/[^/]+/start$`))

    // The link starts only for the key it was issued to.
    const start = await fetch(loginUrl, { headers: { 'x-bf-vk': keyA.value }, redirect: 'manual' })
    expect(start.status).toBe(303)
    const binding = start.headers.get('set-cookie')!.split(';')[0]
    const loggedIn = await approve(start.headers.get('location') ?? '', gw.url, binding)
    expect(loggedIn.status).toBe(200)
    expect(await loggedIn.text()).toContain('You can close this window')

    const retried = await execute(keyA.value, 'secure-greet', { name: 'Ada' })
    expect(retried.status).toBe(200)
    expect(retried.body).toMatchObject({ role: 'tool', tool_call_id: 'call_1' })
    expect(retried.body.content).toContain('Ada')

    // --- sessions: A sees its own credential only; the admin's is nobody's to list ---
    const sessionsA = (await api('GET', '/api/mcp/sessions', undefined, keyA.value)).body.sessions
    expect(sessionsA).toHaveLength(1)
    expect(sessionsA[0]).toMatchObject({
      kind: 'token',
      auth_kind: 'oauth',
      auth_mode: 'vk',
      status: 'active',
      virtual_key: { id: keyA.id, name: 'key-a' },
      mcp_client: { client_id: clientId, name: 'secure' },
    })
    const sessionsB = (await api('GET', '/api/mcp/sessions', undefined, keyB.value)).body.sessions
    expect(sessionsB).toEqual([])
    // The admin (no admin login configured, no key sent) sees every key's credential, never its own.
    const all = (await api('GET', '/api/mcp/sessions')).body.sessions
    expect(all.map((s: any) => [s.auth_mode, s.virtual_key?.name])).toEqual([['vk', 'key-a']])

    // --- key B may not call the protected tool at all ---
    const blocked = await execute(keyB.value, 'secure-greet', { name: 'Bo' })
    expect(blocked.status).toBe(403)
    expect(blocked.body.type).toBe('mcp_tool_blocked')
    // ...but may call its own.
    const echo = await execute(keyB.value, 'everything-echo', { message: 'hi' })
    expect(echo.status).toBe(200)
    expect(echo.body.content).toContain('Echo: hi')
  }, 60_000)

  it('verifies the client again on restart with the stored admin credential', async () => {
    await gw.close()
    gw = await startHeimdall(config, { appDir })
    for (let i = 0; i < 200 && (await client('secure')).state !== 'connected'; i++) await sleep(50)
    const secure = await client('secure')
    expect(secure.state).toBe('connected')
    expect(secure.tools.map((t: any) => t.name)).toContain('secure-greet')
    // Key A's own credential survived too; key B still has none to list.
    const again = await execute(keyA.value, 'secure-greet', { name: 'Cy' })
    expect(again.status).toBe(200)
    expect(again.body.content).toContain('Cy')
    expect((await api('GET', '/api/mcp/sessions', undefined, keyB.value)).body.sessions).toEqual([])
  }, 60_000)
})
