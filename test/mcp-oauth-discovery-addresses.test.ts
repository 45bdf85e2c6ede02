import { createServer, type Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { normalizeCreate, type McpClientConfig } from '../src/mcp/clients/config.js'
import { PerUserOAuth, type PerUserOAuthOptions } from '../src/mcp/oauth-client/index.js'
import { openConfigStore, type ConfigStore } from '../src/store/index.js'
import { sqliteBackend, tempDir } from './helpers/databases.js'

/**
 * Heimdall as the per-user OAuth client of upstream MCP servers: the URLs the upstream chooses
 * (protected-resource metadata → authorization server metadata → registration) are fetched only
 * on addresses it may reach — never link-local or metadata ones, loopback and private ones only
 * for an MCP server that is itself on such an address, every redirect hop checked — and the
 * callback URL it registers comes from `mcp_external_client_url`, else only from a loopback Host
 * or the address Heimdall listens on.
 */

const sqlite = sqliteBackend('mcp-oauth-discovery-addresses')

/** A fake upstream: MCP server and authorization server in one, whose metadata names `authServer()`. */
function startUpstream(authServer: (origin: string) => string) {
  const requests: string[] = []
  const server: Server = createServer((req, res) => {
    const origin = `http://${req.headers['x-test-host'] ?? req.headers.host}`
    requests.push(req.url ?? '')
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    }
    // An authorization server under /hop has its metadata redirect to the cloud metadata address.
    if (req.url?.endsWith('/hop')) {
      res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' })
      return res.end()
    }
    if (req.url?.startsWith('/.well-known/oauth-protected-resource'))
      return json(200, { resource: `${origin}/mcp`, authorization_servers: [authServer(origin)] })
    if (req.url?.startsWith('/.well-known/oauth-authorization-server'))
      return json(200, {
        issuer: origin,
        authorization_endpoint: `${origin}/authorize`,
        token_endpoint: `${origin}/token`,
        registration_endpoint: `${origin}/register`,
        response_types_supported: ['code'],
        code_challenge_methods_supported: ['S256'],
      })
    if (req.url === '/register' && req.method === 'POST') {
      let body = ''
      req.on('data', (c) => (body += c))
      req.on('end', () => json(201, { ...JSON.parse(body), client_id: 'heimdall-at-upstream' }))
      return
    }
    json(404, { error: 'not_found' })
  })
  return new Promise<{ port: number; requests: string[]; close(): Promise<void> }>((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      resolve({
        port: typeof address === 'object' && address ? address.port : 0,
        requests,
        close: () => new Promise((done) => server.close(() => done())),
      })
    }),
  )
}

describe('per-user OAuth discovery and callback addresses', () => {
  let store: ConfigStore
  const configs = new Map<string, McpClientConfig>()
  const fetched: string[] = []

  /** Fetch as Heimdall's would, but `*.public.test` connects to 127.0.0.1 (where the fakes listen). */
  const fetchFn: PerUserOAuthOptions['fetchFn'] = (url, init) => {
    const target = new URL(url)
    fetched.push(target.href)
    if (!target.hostname.endsWith('.public.test')) return fetch(target, init)
    // The fake names itself by the host asked for (its metadata's `resource` must be the server's URL).
    const headers = new Headers(init?.headers)
    headers.set('x-test-host', target.host)
    target.hostname = '127.0.0.1'
    return fetch(target, { ...init, headers })
  }
  /** Test DNS: `*.public.test` is a public address; everything else is as the system resolves it. */
  const resolveHost: PerUserOAuthOptions['resolveHost'] = async (host) =>
    host.endsWith('.public.test') ? ['203.0.113.7'] : ['127.0.0.1']

  function oauth(extra: Partial<PerUserOAuthOptions> = {}) {
    return new PerUserOAuth({
      store,
      clients: { config: (id) => configs.get(id) },
      fetchFn,
      resolveHost,
      ...extra,
    })
  }

  function client(name: string, url: string): string {
    const cfg = normalizeCreate({
      name,
      connection_type: 'http',
      connection_string: url,
      auth_type: 'per_user_oauth',
    })
    configs.set(cfg.client_id, cfg)
    return cfg.client_id
  }

  beforeAll(async () => {
    store = await openConfigStore(await sqlite.fresh(), {
      appDir: tempDir('mcp-oauth-discovery-app'),
      encryptionKey: 'discovery-addresses-test-key',
    })
  })
  afterAll(async () => {
    await store?.close()
    await sqlite.teardown()
  })

  it('refuses an upstream on loopback whose metadata points at 169.254.169.254', async () => {
    const upstream = await startUpstream(() => 'http://169.254.169.254/')
    try {
      const id = client('metadata', `http://127.0.0.1:${upstream.port}/mcp`)
      fetched.length = 0
      const err = await oauth()
        .initiateVerification(id, 'http://127.0.0.1:8080')
        .catch((e: unknown) => e)
      expect(err).toMatchObject({ status: 403, code: 'forbidden' })
      expect((err as Error).message).toMatch(
        /OAuth discovery for MCP client metadata refused to fetch http:\/\/169\.254\.169\.254 is on a link-local, cloud metadata or reserved address/,
      )
      expect(fetched.some((u) => u.includes('169.254.169.254'))).toBe(false)
    } finally {
      await upstream.close()
    }
  })

  it('refuses a redirect hop to a link-local address', async () => {
    const upstream = await startUpstream((origin) => `${origin}/hop`)
    try {
      const id = client('hop', `http://127.0.0.1:${upstream.port}/mcp`)
      fetched.length = 0
      const err = await oauth()
        .initiateVerification(id, 'http://127.0.0.1:8080')
        .catch((e: unknown) => e)
      expect(err).toMatchObject({ status: 403 })
      expect((err as Error).message).toMatch(/169\.254\.169\.254 is on a link-local/)
      expect(upstream.requests.some((r) => r.endsWith('/hop'))).toBe(true)
      expect(fetched.some((u) => u.includes('169.254.169.254'))).toBe(false)
    } finally {
      await upstream.close()
    }
  })

  it('refuses a public-named MCP server whose metadata points at 127.0.0.1', async () => {
    const pointing = await startUpstream(() => 'http://127.0.0.1:9/')
    try {
      const id = client('public', `http://mcp.public.test:${pointing.port}/mcp`)
      const err = await oauth()
        .initiateVerification(id, 'http://127.0.0.1:8080')
        .catch((e: unknown) => e)
      expect(err).toMatchObject({ status: 403 })
      expect((err as Error).message).toMatch(
        /refused to fetch http:\/\/127\.0\.0\.1:9 is on a loopback address, which is fetched only when the MCP server’s own URL is on a loopback or private address/,
      )
      // The server's own metadata was read: it is on a public address.
      expect(pointing.requests.some((r) => r.startsWith('/.well-known/oauth-protected-resource'))).toBe(true)
    } finally {
      await pointing.close()
    }
  })

  it('follows loopback metadata for a loopback MCP server, registering a loopback callback', async () => {
    const upstream = await startUpstream((origin) => origin)
    try {
      const id = client('local', `http://127.0.0.1:${upstream.port}/mcp`)
      const flow = await oauth().initiateVerification(id, 'http://localhost:8080')
      const authorize = new URL(flow.authorize_url)
      expect(authorize.origin).toBe(`http://127.0.0.1:${upstream.port}`)
      expect(authorize.searchParams.get('redirect_uri')).toBe('http://localhost:8080/api/oauth/callback')
    } finally {
      await upstream.close()
    }
  })

  it('derives the callback only from a loopback Host or the listen address, else asks for the external URL', async () => {
    const upstream = await startUpstream((origin) => origin)
    try {
      const id = client('callback', `http://127.0.0.1:${upstream.port}/mcp`)
      const err = await oauth({ listenHost: () => '0.0.0.0' })
        .initiateVerification(id, 'http://evil.example')
        .catch((e: unknown) => e)
      expect(err).toMatchObject({ status: 400, code: 'invalid_request' })
      expect((err as Error).message).toMatch(/Host "evil\.example".*set client\.mcp_external_client_url/)

      const listening = await oauth({ listenHost: () => '10.1.2.3' }).initiateVerification(
        id,
        'http://10.1.2.3:8080',
      )
      expect(new URL(listening.authorize_url).searchParams.get('redirect_uri')).toBe(
        'http://10.1.2.3:8080/api/oauth/callback',
      )

      const external = await oauth({ externalUrl: () => 'https://gw.example.com/' }).initiateVerification(
        id,
        'http://evil.example',
      )
      expect(new URL(external.authorize_url).searchParams.get('redirect_uri')).toBe(
        'https://gw.example.com/api/oauth/callback',
      )
    } finally {
      await upstream.close()
    }
  })
})
