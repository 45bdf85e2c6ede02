import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { completeLogin, type OAuthMcpServer, startOAuthMcpServer } from './fakes/oauth-mcp-server.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { callJson, fakeProvider, type RunningHeimdall, startHeimdall } from './helpers/heimdall.js'
import { perUserOAuthClient } from './helpers/mcp.js'

/**
 * The gateway's per_user_oauth MCP client against a test MCP server of our own, protected by a real
 * authorization server (oidc-provider): dynamic registration, PKCE, resource indicators (JWT access
 * tokens with `aud` = the MCP URL), a real login and consent per user, and the refresh grant.
 */

// Heimdall refreshes a token once it is within 60 s of expiry (refreshSkewMs' default), so a
// 62-second access token is due for refresh 2 s after it was issued.
const ACCESS_TOKEN_TTL = 62
const REFRESH_SKEW_MS = 60_000

describe('per_user_oauth MCP client against an oidc-provider protected MCP server', () => {
  let upstream: OAuthMcpServer
  let fake: FakeServer
  let gw: RunningHeimdall
  let appDir: string
  let keyA: { id: string; value: string }
  let keyB: { id: string; value: string }

  const api = (method: string, path: string, body?: unknown, bearer?: string) =>
    callJson(gw.url, method, path, body, bearer)
  const client = async (name: string) =>
    (await api('GET', '/api/mcp/clients')).body.clients.find((c: any) => c.config.name === name)
  const whoami = (vk: string) =>
    api(
      'POST',
      '/v1/mcp/tool/execute?format=chat',
      { id: 'call_1', type: 'function', function: { name: 'oidc-whoami', arguments: '{}' } },
      vk,
    )
  const sessions = async (vk: string) => (await api('GET', '/api/mcp/sessions', undefined, vk)).body.sessions
  const callback = () => `${gw.url}/api/oauth/callback`

  /** A key's first call needs its own upstream login; after it, whoami names that user. */
  const loginThroughGateway = async (vk: string, user: string, clientId: string) => {
    const first = await whoami(vk)
    expect(first.status).toBe(401)
    expect(first.body.error.type).toBe('mcp_auth_required')
    const required = first.body.extra_fields.mcp_auth_required
    expect(required.mcp_client).toEqual({ client_id: clientId, name: 'oidc' })
    expect(required.login_url).toMatch(new RegExp(`^${gw.url}/api/oauth/upstream/[^/]+/start$`))
    // The link starts only for the key it was issued to.
    const done = await completeLogin(required.login_url, user, callback(), { headers: { 'x-bf-vk': vk } })
    expect(done.status).toBe(200)
    expect(await done.text()).toContain('You can close this window')
    const retried = await whoami(vk)
    expect(retried.status).toBe(200)
    expect(retried.body).toMatchObject({ role: 'tool', tool_call_id: 'call_1' })
    expect(retried.body.content).toBe(user)
  }

  beforeAll(async () => {
    upstream = await startOAuthMcpServer({ accessTokenTtl: ACCESS_TOKEN_TTL })
    fake = await startFakeOpenAI()
    appDir = await mkdtemp(join(tmpdir(), 'heimdall-oidc-upstream-'))
    gw = await startHeimdall(
      {
        providers: { openai: fakeProvider(fake.url) },
        mcp: {
          client_configs: [perUserOAuthClient('oidc', upstream.mcpUrl)],
        },
      },
      { appDir },
    )
    const provider_configs = [{ provider: 'openai', allowed_models: ['*'], key_ids: ['*'] }]
    const mcp_configs = [{ mcp_client_name: 'oidc', tools_to_execute: ['whoami'] }]
    keyA = (
      await api('POST', '/api/governance/virtual-keys', { name: 'key-a', provider_configs, mcp_configs })
    ).body.virtual_key
    keyB = (
      await api('POST', '/api/governance/virtual-keys', { name: 'key-b', provider_configs, mcp_configs })
    ).body.virtual_key
  }, 60_000)

  afterAll(async () => {
    await gw?.close()
    await fake?.close()
    await upstream?.close()
    if (appDir) await rm(appDir, { recursive: true, force: true })
  })

  it('rejects calls without a valid token for its audience', async () => {
    const bare = await fetch(upstream.mcpUrl, { method: 'POST' })
    expect(bare.status).toBe(401)
    expect(bare.headers.get('www-authenticate')).toContain(
      `resource_metadata="${new URL(upstream.mcpUrl).origin}/.well-known/oauth-protected-resource"`,
    )
    const forged = await fetch(upstream.mcpUrl, { method: 'POST', headers: { authorization: 'Bearer nope' } })
    expect(forged.status).toBe(401)
  })

  it('verifies as admin, logs each key in as its own user, and refreshes with the real refresh grant', async () => {
    const before = await client('oidc')
    expect(before.state).toBe('pending_verification')
    const clientId: string = before.config.client_id

    // --- admin verification, logged in as "admin" ---
    const init = await api('POST', `/api/mcp/client/${clientId}/initiate-verification`)
    expect(init.status).toBe(200)
    expect(init.body).toMatchObject({ status: 'pending_oauth', mcp_client_id: clientId })
    const authorize = new URL(init.body.authorize_url)
    expect(authorize.origin).toBe(upstream.issuer)
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256')
    expect(authorize.searchParams.get('resource')).toBe(upstream.mcpUrl)
    const verified = await completeLogin(init.body.authorize_url, 'admin', callback())
    expect(verified.status).toBe(200)
    expect(await verified.text()).toContain('verified')
    const after = await client('oidc')
    expect(after.state).toBe('connected')
    expect(after.tools.map((t: any) => t.name)).toContain('oidc-whoami')
    expect(upstream.calls).toContain('admin')

    // --- each key logs in as its own user ---
    await loginThroughGateway(keyA.value, 'alice', clientId)
    await loginThroughGateway(keyB.value, 'bob', clientId)
    expect((await whoami(keyA.value)).body.content).toBe('alice')

    // --- each key lists only its own credential ---
    const sessionsA = await sessions(keyA.value)
    expect(sessionsA).toHaveLength(1)
    expect(sessionsA[0]).toMatchObject({
      kind: 'token',
      auth_kind: 'oauth',
      status: 'active',
      virtual_key: { id: keyA.id, name: 'key-a' },
      mcp_client: { client_id: clientId, name: 'oidc' },
    })
    const sessionsB = await sessions(keyB.value)
    expect(sessionsB).toHaveLength(1)
    expect(sessionsB[0]).toMatchObject({ virtual_key: { id: keyB.id, name: 'key-b' } })
    expect(sessionsB[0].id).not.toBe(sessionsA[0].id)

    // --- A's access token comes due: Heimdall refreshes it with the refresh_token grant ---
    const expiresAt = Date.parse(sessionsA[0].expires_at)
    expect(expiresAt).toBeGreaterThan(Date.now())
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + ACCESS_TOKEN_TTL * 1000)
    const due = expiresAt - REFRESH_SKEW_MS
    if (due > Date.now()) await sleep(due - Date.now() + 250)
    const refreshesBefore = upstream.grants.filter((g) => g.grantType === 'refresh_token').length
    const refreshed = await whoami(keyA.value)
    expect(refreshed.status).toBe(200)
    expect(refreshed.body.content).toBe('alice')
    const refreshGrants = upstream.grants.filter((g) => g.grantType === 'refresh_token')
    expect(refreshGrants.length).toBeGreaterThan(refreshesBefore)
    const [afterRefresh] = await sessions(keyA.value)
    expect(typeof afterRefresh.last_refreshed_at).toBe('string')
    expect(Date.parse(afterRefresh.expires_at)).toBeGreaterThan(expiresAt)
    // B's credential is untouched and still bob's.
    expect((await whoami(keyB.value)).body.content).toBe('bob')
  }, 60_000)
})
