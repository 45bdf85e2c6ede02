import Fastify, { type FastifyInstance } from 'fastify'
import type { Kysely } from 'kysely'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { GatewayError } from '../src/core/errors.js'
import { installErrorHandlers } from '../src/http/errors.js'
import { registerMcpSessionRoutes } from '../src/http/routes/mcp-sessions.js'
import { registerUpstreamLoginRoutes } from '../src/http/routes/upstream-login.js'
import { McpClientManager, SqlMcpClientRepo } from '../src/mcp/index.js'
import { PerUserOAuth, type McpSessionRow } from '../src/mcp/oauth-client/index.js'
import { type ConfigStore, type McpOAuthCredentialsTables, openConfigStore } from '../src/store/index.js'
import { sqliteBackend, tempDir } from './helpers/databases.js'
import { perUserOAuthClient, startExampleOAuthServer } from './helpers/mcp.js'

/**
 * Heimdall as the per-user OAuth client of an upstream MCP server: the MCP SDK's own example server
 * in `--oauth-strict` mode (RFC 9728 discovery, dynamic registration, PKCE S256, auto-approving
 * /authorize, tokens bound to the MCP server as their RFC 8707 resource), driven as a browser would
 * through Heimdall's login link and callback.
 */

const sqlite = sqliteBackend('mcp-oauth-client')
const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f()
})
afterAll(() => sqlite.teardown())

/** The example OAuth MCP server, killed after the test; answers its /mcp URL. */
async function startUpstream(): Promise<string> {
  const { url, child } = await startExampleOAuthServer()
  cleanups.push(() => {
    child.kill('SIGKILL')
  })
  return url
}

type RefreshMode = 'pass' | 'invalid_grant' | 'network'

interface Harness {
  base: string
  app: FastifyInstance
  manager: McpClientManager
  oauth: PerUserOAuth
  store: ConfigStore
  db: Kysely<McpOAuthCredentialsTables>
  setRefresh(mode: RefreshMode): void
}

async function harness(): Promise<Harness> {
  const store = await openConfigStore(await sqlite.fresh(), {
    appDir: tempDir('mcp-oauth-app'),
    encryptionKey: 'per-user-oauth-test-key',
  })
  let refresh: RefreshMode = 'pass'
  // Stands in for an authorization server that refuses a refresh token, or a network that fails.
  const fetchFn = async (url: string | URL, init?: RequestInit): Promise<Response> => {
    const body = init?.body instanceof URLSearchParams ? init.body : undefined
    if (body?.get('grant_type') === 'refresh_token') {
      if (refresh === 'network') throw new TypeError('fetch failed')
      if (refresh === 'invalid_grant') {
        return new Response(JSON.stringify({ error: 'invalid_grant', error_description: 'unknown token' }), {
          status: 400,
          headers: { 'content-type': 'application/json' },
        })
      }
    }
    return fetch(url, init)
  }
  const oauth: PerUserOAuth = new PerUserOAuth({
    store,
    // Called only after `manager` below exists.
    clients: { config: (id) => manager.config(id) },
    fetchFn,
    names: { virtualKey: (id) => `key ${id}` },
  })
  const manager: McpClientManager = new McpClientManager({
    repo: new SqlMcpClientRepo(store),
    timings: { connectTimeoutMs: 8000, initialBackoffMs: 200, maxBackoffMs: 1000, healthIntervalMs: 0 },
    perUserAuth: oauth,
  })
  const app = Fastify()
  installErrorHandlers(app)
  registerMcpSessionRoutes(app, {
    oauth,
    store,
    caller: (request) => {
      const header = (name: string) => {
        const v = request.headers[name]
        return typeof v === 'string' ? v : undefined
      }
      return { virtualKeyId: header('x-test-vk'), sessionId: header('x-bf-mcp-session-id') }
    },
  })
  // Virtual key `sk-bf-<id>` is key <id>: what proves a login link's key.
  registerUpstreamLoginRoutes(app, {
    oauth,
    state: {
      virtualKeyByValue: (value: string) =>
        ({ id: value.replace(/^sk-bf-/, ''), is_active: true }) as ReturnType<
          Parameters<typeof registerUpstreamLoginRoutes>[1]['state']['virtualKeyByValue']
        >,
    },
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`
  cleanups.push(async () => {
    await app.close()
    await manager.close()
    await store.close()
  })
  return {
    base,
    app,
    manager,
    oauth,
    store,
    db: store.db.withTables<McpOAuthCredentialsTables>() as unknown as Kysely<McpOAuthCredentialsTables>,
    setRefresh: (mode) => {
      refresh = mode
    },
  }
}

interface AuthRequired {
  mcp_client: { client_id: string; name: string }
  flow_id: string
  login_url: string
  authorize_url: string
}

async function authRequired(call: Promise<unknown>): Promise<AuthRequired> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(GatewayError)
  const gw = err as GatewayError
  expect(gw.type).toBe('mcp_auth_required')
  expect(gw.status).toBe(401)
  return gw.extra?.mcp_auth_required as AuthRequired
}

/** The upstream's redirect back to Heimdall, and the cookie of the browser that started the login. */
interface LoginRedirect {
  url: URL
  cookie: string
}

/**
 * Follows the login link as a browser would, proving its identity with `proof` headers, up to the
 * upstream's redirect back to Heimdall.
 */
async function loginRedirect(
  base: string,
  loginUrl: string,
  proof: Record<string, string>,
): Promise<LoginRedirect> {
  const start = await fetch(`${base}${loginUrl}`, { headers: proof, redirect: 'manual' })
  expect(start.status).toBe(303)
  const cookie = start.headers.get('set-cookie')!.split(';')[0]
  const authorize = new URL(start.headers.get('location') ?? '')
  expect(authorize.searchParams.get('code_challenge_method')).toBe('S256')
  expect(authorize.searchParams.get('resource')).toMatch(/^http:\/\/localhost:\d+\/mcp$/)
  expect(authorize.searchParams.get('redirect_uri')).toBe(`${base}/api/oauth/callback`)
  const approved = await fetch(authorize, { redirect: 'manual' })
  expect(approved.status).toBe(302)
  return { url: new URL(approved.headers.get('location') ?? ''), cookie }
}

/** The browser that started the login comes back to Heimdall's callback. */
const finishLogin = (back: LoginRedirect) => fetch(back.url, { headers: { cookie: back.cookie } })

async function sessions(h: Harness, headers: Record<string, string>): Promise<McpSessionRow[]> {
  const res = await h.app.inject({ method: 'GET', url: '/api/mcp/sessions', headers })
  expect(res.statusCode).toBe(200)
  return (res.json() as { sessions: McpSessionRow[] }).sessions
}

describe('per-user OAuth to an upstream MCP server', () => {
  it('logs a key in through the upstream, stores its token sealed, and keeps other identities out', async () => {
    const url = await startUpstream()
    const h = await harness()
    await h.manager.add(perUserOAuthClient('secure', url))
    expect(h.manager.status(h.manager.list()[0]?.config.client_id ?? '').state).toBe('disconnected')
    const clientId = h.manager.list()[0]?.config.client_id ?? ''

    const first = await authRequired(h.manager.callTool('secure-greet', { name: 'A' }, { identity: 'vk:A' }))
    expect(first.mcp_client).toEqual({ client_id: clientId, name: 'secure' })
    expect(first.login_url).toBe(`/api/oauth/upstream/${first.flow_id}/start`)
    // A second call before the login reuses the open flow.
    expect((await authRequired(h.manager.callTool('secure-greet', {}, { identity: 'vk:A' }))).flow_id).toBe(
      first.flow_id,
    )

    const back = await loginRedirect(h.base, first.login_url, { 'x-bf-vk': 'sk-bf-A' })
    expect(`${back.url.origin}${back.url.pathname}`).toBe(`${h.base}/api/oauth/callback`)
    const done = await finishLogin(back)
    expect(done.status).toBe(200)
    expect(await done.text()).toContain('You can close this window')

    const stored = await h.db.selectFrom('mcp_oauth_tokens').selectAll().execute()
    expect(stored).toHaveLength(1)
    const token = h.store.secrets.open(stored[0]?.access_token ?? '')
    expect(stored[0]?.access_token.startsWith('enc:v1:')).toBe(true)
    expect(stored[0]?.access_token).not.toContain(token)
    expect(stored[0]).toMatchObject({ auth_mode: 'vk', identity_id: 'A', status: 'active' })

    const result = await h.manager.callTool('secure-greet', { name: 'Ada' }, { identity: 'vk:A' })
    expect(JSON.stringify(result.content)).toContain('Ada')
    // The tools are now known, under their exposed names.
    expect(h.manager.listTools().map((t) => t.name)).toContain('secure-greet')
    // A bare identity is a virtual key id.
    await expect(h.manager.callTool('secure-greet', { name: 'Bo' }, { identity: 'A' })).resolves.toBeDefined()

    const forB = await authRequired(h.manager.callTool('secure-greet', { name: 'B' }, { identity: 'vk:B' }))
    expect(forB.flow_id).not.toBe(first.flow_id)

    const listA = await sessions(h, { 'x-test-vk': 'A' })
    expect(listA).toEqual([
      {
        id: stored[0]?.id,
        kind: 'token',
        auth_kind: 'oauth',
        auth_mode: 'vk',
        status: 'active',
        created_at: stored[0]?.created_at,
        can_reauth: true,
        virtual_key: { id: 'A', name: 'key A' },
        mcp_client: { client_id: clientId, name: 'secure' },
        expires_at: stored[0]?.expires_at,
        updated_at: stored[0]?.updated_at,
        oauth_config_id: stored[0]?.oauth_config_id,
      },
    ])
    const listB = await sessions(h, { 'x-test-vk': 'B' })
    expect(listB).toHaveLength(1)
    expect(listB[0]).toMatchObject({ id: forB.flow_id, kind: 'flow', status: 'pending', auth_mode: 'vk' })
    expect(await sessions(h, {})).toEqual([])

    // Re-auth opens a new flow; the listing still shows only the credential.
    const reauth = await h.app.inject({
      method: 'POST',
      url: `/api/mcp/sessions/${stored[0]?.id}/reauth`,
      headers: { 'x-test-vk': 'A' },
    })
    expect(reauth.statusCode).toBe(200)
    const fresh = reauth.json() as { authorize_url: string; session_id: string }
    // Absolute on the origin the caller used (inject's is localhost:80).
    expect(fresh.authorize_url).toBe(`http://localhost:80/api/oauth/upstream/${fresh.session_id}/start`)
    expect((await sessions(h, { 'x-test-vk': 'A' })).map((r) => r.kind)).toEqual(['token'])
    // B cannot see, revoke or re-auth A's credential.
    const foreign = await h.app.inject({
      method: 'DELETE',
      url: `/api/mcp/sessions/${stored[0]?.id}`,
      headers: { 'x-test-vk': 'B' },
    })
    expect(foreign.statusCode).toBe(404)

    // A forged state and an unknown login link are refused without a token.
    const forged = await fetch(`${h.base}/api/oauth/callback?code=x&state=forged`)
    expect(forged.status).toBe(400)
    expect((await fetch(`${h.base}/api/oauth/upstream/nope/start`, { redirect: 'manual' })).status).toBe(404)

    // The authorization server's error fails B's flow and is shown, escaped.
    const backB = await loginRedirect(h.base, forB.login_url, { 'x-bf-vk': 'sk-bf-B' })
    const refused = await fetch(
      `${h.base}/api/oauth/callback?state=${backB.url.searchParams.get('state')}&error=access_denied&error_description=%3Cb%3Eno%3C%2Fb%3E`,
      { headers: { cookie: backB.cookie } },
    )
    expect(refused.status).toBe(400)
    const text = await refused.text()
    expect(text).toContain('access_denied')
    expect(text).not.toContain('<b>')
    expect(await sessions(h, { 'x-test-vk': 'B' })).toEqual([])
    // The code can no longer be used on the failed flow.
    expect((await finishLogin(backB)).status).toBe(400)

    // DELETE revokes A's credential locally: the next call asks for a login again.
    const del = await h.app.inject({
      method: 'DELETE',
      url: `/api/mcp/sessions/${stored[0]?.id}`,
      headers: { 'x-test-vk': 'A' },
    })
    expect(del.statusCode).toBe(204)
    expect(await sessions(h, { 'x-test-vk': 'A' })).toEqual([])
    await authRequired(h.manager.callTool('secure-greet', { name: 'A' }, { identity: 'vk:A' }))
  }, 60_000)

  it('refreshes before expiry: a network failure keeps the credential, a refused refresh needs a new login', async () => {
    const url = await startUpstream()
    const h = await harness()
    await h.manager.add(perUserOAuthClient('secure', url))
    const asked = await authRequired(h.manager.callTool('secure-greet', {}, { identity: 'session:s1' }))
    const backS = await loginRedirect(h.base, asked.login_url, { 'x-bf-mcp-session-id': 's1' })
    expect((await finishLogin(backS)).status).toBe(200)
    await expect(
      h.manager.callTool('secure-greet', { name: 'S' }, { identity: 'session:s1' }),
    ).resolves.toBeDefined()
    const [row] = await h.db.selectFrom('mcp_oauth_tokens').selectAll().execute()
    if (!row) throw new Error('no token stored')
    expect(await sessions(h, { 'x-bf-mcp-session-id': 's1' })).toMatchObject([
      { kind: 'token', auth_mode: 'session', session_id: 's1', can_reauth: true },
    ])

    // The access token has expired and the stored refresh token is one the server will not know.
    await h.db
      .updateTable('mcp_oauth_tokens')
      .set({
        expires_at: new Date(Date.now() - 1000).toISOString(),
        refresh_token: h.store.secrets.seal('bogus'),
      })
      .execute()

    h.setRefresh('network')
    const transient = await h.manager
      .callTool('secure-greet', {}, { identity: 'session:s1' })
      .catch((e: unknown) => e)
    expect(transient).toBeInstanceOf(GatewayError)
    expect((transient as GatewayError).code).toBe('upstream_connection_error')
    expect((await h.db.selectFrom('mcp_oauth_tokens').select('status').executeTakeFirst())?.status).toBe(
      'active',
    )

    h.setRefresh('invalid_grant')
    const again = await authRequired(h.manager.callTool('secure-greet', {}, { identity: 'session:s1' }))
    expect(again.login_url).toMatch(/^\/api\/oauth\/upstream\/.+\/start$/)
    expect(await sessions(h, { 'x-bf-mcp-session-id': 's1' })).toMatchObject([
      { id: row.id, kind: 'token', status: 'needs_reauth' },
    ])

    // A key-bound credential whose key loses access is orphaned, and cannot be re-authorized.
    await h.db.updateTable('mcp_oauth_tokens').set({ auth_mode: 'vk', identity_id: 'K' }).execute()
    expect(await h.oauth.orphanUnreachable(() => false)).toBe(1)
    expect((await sessions(h, { 'x-test-vk': 'K' }))[0]).toMatchObject({ status: 'orphaned' })
    const reauth = await h.app.inject({
      method: 'POST',
      url: `/api/mcp/sessions/${row.id}/reauth`,
      headers: { 'x-test-vk': 'K' },
    })
    expect(reauth.statusCode).toBe(403)
  }, 60_000)

  it('refuses per_user_oauth on stdio clients and asks for an identity', async () => {
    const h = await harness()
    await expect(
      h.manager.add({
        name: 'local',
        connection_type: 'stdio',
        stdio_config: { command: 'true' },
        auth_type: 'per_user_oauth',
      }),
    ).rejects.toThrow(/http or sse/)
    await h.manager.add({
      name: 'remote',
      connection_type: 'http',
      connection_string: 'http://127.0.0.1:9/mcp',
      auth_type: 'per_user_oauth',
    })
    const err = await h.manager.callTool('remote-x', {}).catch((e: unknown) => e)
    expect((err as GatewayError).type).toBe('mcp_auth_required')
  })
})
