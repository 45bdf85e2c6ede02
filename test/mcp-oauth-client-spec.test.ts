import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import {
  completeLogin,
  MCP_SCOPE,
  type OAuthMcpServer,
  type OAuthMcpServerOptions,
  startOAuthMcpServer,
} from './fakes/oauth-mcp-server.js'
import { callJson, type RunningHeimdall, startHeimdall } from './helpers/heimdall.js'
import { perUserOAuthClient } from './helpers/mcp.js'

/**
 * Heimdall as the OAuth client of an upstream MCP server, held to the MCP authorization spec
 * (2025-06-18 / 2025-11-25) against a real authorization server (oidc-provider): discovery from
 * the 401's WWW-Authenticate, the RFC 9728 resource check, the challenge's scope and step-up on
 * 403 insufficient_scope, a token rejected before its expiry refreshed once, and client ID
 * metadata documents where the authorization server supports them.
 */

interface Setup {
  upstream: OAuthMcpServer
  gw: RunningHeimdall
  /** The same Heimdall (app dir, store) stopped and started again, on a new port. */
  restart(): Promise<void>
  clientId: string
  api(method: string, path: string, body?: unknown, vk?: string): ReturnType<typeof callJson>
  /** A virtual key that may call every tool of the `oidc` client. */
  key(name: string): Promise<string>
  call(vk: string, tool?: string): ReturnType<typeof callJson>
  /** The admin's verification login; its answer. */
  verify(): Promise<{ status: number; body: any }>
  /** The key's tool call answers mcp_auth_required; `user` logs in through its login link. */
  login(vk: string, user: string, tool?: string): Promise<void>
}

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f()
})

async function setup(upstreamOpts: OAuthMcpServerOptions = {}, client: object = {}): Promise<Setup> {
  const upstream = await startOAuthMcpServer(upstreamOpts)
  const appDir = await mkdtemp(join(tmpdir(), 'heimdall-oauth-spec-'))
  const start = () =>
    startHeimdall(
      { client, mcp: { client_configs: [perUserOAuthClient('oidc', upstream.mcpUrl)] } },
      { appDir },
    )
  let gw = await start()
  cleanups.push(async () => {
    await gw.close()
    await upstream.close()
    await rm(appDir, { recursive: true, force: true })
  })
  const api = (method: string, path: string, body?: unknown, vk?: string) =>
    callJson(gw.url, method, path, body, vk)
  const clientId: string = (await api('GET', '/api/mcp/clients')).body.clients.find(
    (c: any) => c.config.name === 'oidc',
  ).config.client_id
  const callback = () => `${gw.url}/api/oauth/callback`
  const call = (vk: string, tool = 'whoami') =>
    api(
      'POST',
      '/v1/mcp/tool/execute?format=chat',
      { id: 'call_1', type: 'function', function: { name: `oidc-${tool}`, arguments: '{}' } },
      vk,
    )
  return {
    upstream,
    get gw() {
      return gw
    },
    restart: async () => {
      await gw.close()
      gw = await start()
    },
    clientId,
    api,
    call,
    key: async (name) =>
      (
        await api('POST', '/api/governance/virtual-keys', {
          name,
          mcp_configs: [{ mcp_client_name: 'oidc', tools_to_execute: ['*'] }],
        })
      ).body.virtual_key.value,
    verify: async () => {
      const init = await api('POST', `/api/mcp/client/${clientId}/initiate-verification`)
      if (init.status !== 200) return init
      const done = await completeLogin(init.body.authorize_url, 'admin', callback())
      return { status: done.status, body: await done.text() }
    },
    login: async (vk, user, tool) => {
      const first = await call(vk, tool)
      expect(first.status).toBe(401)
      expect(first.body.error.type).toBe('mcp_auth_required')
      const link: string = first.body.extra_fields.mcp_auth_required.login_url
      const done = await completeLogin(link, user, callback(), { headers: { 'x-bf-vk': vk } })
      expect(done.status).toBe(200)
    },
  }
}

const sessionOf = async (s: Setup, vk: string) =>
  (await s.api('GET', '/api/mcp/sessions', undefined, vk)).body.sessions[0]
const refreshGrants = (s: Setup) => s.upstream.grants.filter((g) => g.grantType === 'refresh_token').length

describe('per-user OAuth client held to the MCP authorization spec', () => {
  it('refreshes a token the upstream rejects before its expiry and retries the call; a refused refresh asks for a login', async () => {
    const s = await setup()
    expect((await s.verify()).status).toBe(200)
    const vk = await s.key('key-a')
    await s.login(vk, 'alice')
    expect((await s.call(vk)).body.content).toBe('alice')

    // Revoked early: the stored access token has hours left, but the upstream answers 401.
    s.upstream.rejectTokensIssuedSoFar('alice')
    const before = refreshGrants(s)
    const retried = await s.call(vk)
    expect(retried.status).toBe(200)
    expect(retried.body.content).toBe('alice')
    expect(refreshGrants(s)).toBe(before + 1)
    expect(await sessionOf(s, vk)).toMatchObject({ status: 'active' })

    // After a restart the key's connection is opened anew: a token refused at initialize is refreshed too.
    await s.restart()
    // Once the stored admin credential has listed the tools again.
    const state = async () => (await s.api('GET', '/api/mcp/clients')).body.clients[0].state
    for (let i = 0; i < 100 && (await state()) !== 'connected'; i++) await sleep(50)
    s.upstream.rejectTokensIssuedSoFar('alice')
    const reopened = await s.call(vk)
    expect(reopened.status).toBe(200)
    expect(reopened.body.content).toBe('alice')
    expect(refreshGrants(s)).toBe(before + 2)

    // The refresh itself is refused (invalid_grant): only now is a new login asked for.
    s.upstream.rejectTokensIssuedSoFar('alice')
    s.upstream.refuseRefresh(true)
    const refused = await s.call(vk)
    expect(refused.status).toBe(401)
    expect(refused.body.error.type).toBe('mcp_auth_required')
    expect(await sessionOf(s, vk)).toMatchObject({ status: 'needs_reauth' })
  }, 60_000)

  it('finds protected-resource metadata named only in the 401 WWW-Authenticate', async () => {
    const s = await setup({ resourceMetadataPath: '/meta/resource.json' })
    const wellKnown = await fetch(`${new URL(s.upstream.mcpUrl).origin}/.well-known/oauth-protected-resource`)
    expect(wellKnown.status).toBe(404)
    expect((await s.verify()).status).toBe(200)
    const [authorize] = s.upstream.authorizeRequests
    expect(authorize.searchParams.get('resource')).toBe(s.upstream.mcpUrl)
    // No client ID metadata document support advertised: Heimdall registered dynamically.
    expect(s.upstream.registrations).toBe(1)
    const vk = await s.key('key-a')
    await s.login(vk, 'alice')
    expect((await s.call(vk)).body.content).toBe('alice')
  }, 60_000)

  it('refuses a server whose protected-resource metadata names another resource, before any authorization or token request', async () => {
    const s = await setup({ metadataResource: 'https://other.example/mcp' })
    const init = await s.api('POST', `/api/mcp/client/${s.clientId}/initiate-verification`)
    expect(init.status).toBe(403)
    expect(init.body.error.message).toContain('names the resource https://other.example/mcp, not this server')
    expect(s.upstream.authorizeRequests).toEqual([])
    expect(s.upstream.registrations).toBe(0)
    expect(s.upstream.grants).toEqual([])
  }, 60_000)

  it('asks for the scope of the challenge, and steps up when a 403 insufficient_scope names more', async () => {
    const s = await setup({ challengeScope: MCP_SCOPE, stepUpScope: 'mcp:admin' })
    expect((await s.verify()).status).toBe(200)
    // The challenge's scope, not every scope the server supports.
    expect(s.upstream.authorizeRequests[0].searchParams.get('scope')).toBe(MCP_SCOPE)
    const vk = await s.key('key-a')
    await s.login(vk, 'alice')
    expect((await s.call(vk)).body.content).toBe('alice')

    // admin_op needs mcp:admin: the 403 asks the key to log in again, for both scopes.
    await s.login(vk, 'alice', 'admin_op')
    const stepUp = s.upstream.authorizeRequests.at(-1)!
    expect(stepUp.searchParams.get('scope')?.split(' ').sort()).toEqual(['mcp:admin', MCP_SCOPE].sort())
    const done = await s.call(vk, 'admin_op')
    expect(done.status).toBe(200)
    expect(done.body.content).toBe('admin alice')
  }, 60_000)

  it('uses its client ID metadata document as client id where the authorization server supports them', async () => {
    const external = 'https://heimdall.example'
    const s = await setup({ clientIdMetadataDocuments: true }, { mcp_external_client_url: external })
    const init = await s.api('POST', `/api/mcp/client/${s.clientId}/initiate-verification`)
    expect(init.status).toBe(200)
    const authorize = new URL(init.body.authorize_url)
    expect(authorize.searchParams.get('client_id')).toBe(`${external}/api/oauth/client-metadata.json`)
    expect(authorize.searchParams.get('redirect_uri')).toBe(`${external}/api/oauth/callback`)
    expect(s.upstream.registrations).toBe(0)

    const doc = await fetch(`${s.gw.url}/api/oauth/client-metadata.json`)
    expect(doc.status).toBe(200)
    expect(await doc.json()).toEqual({
      client_id: `${external}/api/oauth/client-metadata.json`,
      client_name: 'Heimdall',
      client_uri: `${external}/`,
      redirect_uris: [`${external}/api/oauth/callback`],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    })
  }, 60_000)
})
