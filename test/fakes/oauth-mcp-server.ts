import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { createRemoteJWKSet, jwtVerify } from 'jose'
// @ts-expect-error -- oidc-provider ships no type declarations
import Provider, { errors as oidcErrors } from 'oidc-provider'

/**
 * A test MCP server of our own, protected by a real OAuth authorization server (oidc-provider):
 * dynamic client registration, PKCE, resource indicators issuing JWT access tokens whose `aud` is
 * the MCP URL (scope `mcp:tools`), refresh tokens, and oidc-provider's development login and
 * consent pages (any user name logs in), which `completeLogin` scripts with fetch and a cookie jar.
 * The MCP server (stateless Streamable HTTP) answers only requests bearing a valid JWT for its
 * audience, and its one tool `whoami` returns the token's `sub`.
 */

export const MCP_SCOPE = 'mcp:tools'

export interface OAuthMcpServer {
  /** The MCP endpoint, also the resource indicator and the tokens' audience. */
  mcpUrl: string
  /** The oidc-provider issuer. */
  issuer: string
  /** Successful token-endpoint grants, in order (`authorization_code`, `refresh_token`). */
  grants: { grantType: string; sub?: string }[]
  /** Subjects of the MCP requests that carried a valid token, in order. */
  calls: string[]
  /** The authorization requests that reached the authorization server, and its client registrations. */
  authorizeRequests: URL[]
  registrations: number
  /** From now on, the access tokens of `sub` used so far are refused (revoked early); new ones are good. */
  rejectTokensIssuedSoFar(sub: string): void
  /** Whether refresh grants are refused with invalid_grant. */
  refuseRefresh(refuse: boolean): void
  close(): Promise<void>
}

export interface OAuthMcpServerOptions {
  /** Lifetime of the JWT access tokens, in seconds (default 300). */
  accessTokenTtl?: number
  /** Serve the protected-resource metadata only at this path, named in the 401 challenge (no well-known document). */
  resourceMetadataPath?: string
  /** The `resource` the protected-resource metadata names (default: the MCP URL). */
  metadataResource?: string
  /** The `scope` of the 401 challenge. */
  challengeScope?: string
  /** An extra scope the tool `admin_op` needs: without it, 403 insufficient_scope naming it. */
  stepUpScope?: string
  /** The authorization server's metadata says it supports client ID metadata documents. */
  clientIdMetadataDocuments?: boolean
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      resolve(`http://127.0.0.1:${port}`)
    })
  })
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  })
}

export async function startOAuthMcpServer(opts: OAuthMcpServerOptions = {}): Promise<OAuthMcpServer> {
  const accessTokenTtl = opts.accessTokenTtl ?? 300
  const grants: OAuthMcpServer['grants'] = []
  const calls: string[] = []
  const authorizeRequests: URL[] = []
  let registrations = 0
  const seenTokens = new Map<string, string>()
  const rejectedTokens = new Set<string>()
  let refuseRefresh = false
  const scopes = [MCP_SCOPE, ...(opts.stepUpScope ? [opts.stepUpScope] : [])]

  // Both servers listen first (the provider needs its issuer, the provider its resource URL).
  const handlers: {
    oidc?: (req: IncomingMessage, res: ServerResponse) => void
    mcp?: (req: IncomingMessage, res: ServerResponse) => Promise<void>
  } = {}
  const oidcServer = createServer((req, res) => handlers.oidc!(req, res))
  const mcpServer = createServer((req, res) => {
    handlers.mcp!(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' })
      res.end(String(err))
    })
  })
  const issuer = await listen(oidcServer)
  const mcpOrigin = await listen(mcpServer)
  const mcpUrl = `${mcpOrigin}/mcp`

  const provider = new Provider(issuer, {
    clients: [],
    scopes: ['openid', 'offline_access', ...scopes],
    ...(opts.clientIdMetadataDocuments ? { discovery: { client_id_metadata_document_supported: true } } : {}),
    pkce: { required: () => true },
    ttl: {
      AccessToken: accessTokenTtl,
      AuthorizationCode: 60,
      Grant: 3600,
      Interaction: 600,
      RefreshToken: 3600,
      Session: 3600,
    },
    features: {
      devInteractions: { enabled: true },
      registration: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => mcpUrl,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, resourceIndicator: string) => {
          if (resourceIndicator !== mcpUrl) throw new oidcErrors.InvalidTarget()
          return {
            audience: mcpUrl,
            accessTokenFormat: 'jwt',
            accessTokenTTL: accessTokenTtl,
            scope: scopes.join(' '),
          }
        },
      },
    },
    issueRefreshToken: (_ctx: unknown, client: any) => client.grantTypeAllowed('refresh_token'),
    findAccount: (_ctx: unknown, sub: string) => ({ accountId: sub, claims: () => ({ sub }) }),
  })
  provider.on('grant.success', (ctx: any) => {
    grants.push({
      grantType: String(ctx.oidc.params?.grant_type),
      sub: ctx.oidc.entities?.AccessToken?.accountId,
    })
  })
  const oidcHandler = provider.callback()
  handlers.oidc = (req, res) => {
    const path = new URL(req.url ?? '/', issuer).pathname
    if (path === '/auth') authorizeRequests.push(new URL(req.url ?? '/', issuer))
    if (path === '/reg' && req.method === 'POST') registrations++
    if (path !== '/token' || req.method !== 'POST') return oidcHandler(req, res)
    // The token request's form is read here (oidc-provider takes a parsed req.body) to refuse refreshes.
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString())
      if (refuseRefresh && form.get('grant_type') === 'refresh_token') {
        res.writeHead(400, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ error: 'invalid_grant', error_description: 'grant revoked' }))
        return
      }
      ;(req as IncomingMessage & { body?: unknown }).body = Object.fromEntries(form)
      oidcHandler(req, res)
    })
  }

  const jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`))
  const resourceMetadata = {
    resource: opts.metadataResource ?? mcpUrl,
    authorization_servers: [issuer],
    scopes_supported: scopes,
    bearer_methods_supported: ['header'],
  }
  const resourceMetadataPath = opts.resourceMetadataPath ?? '/.well-known/oauth-protected-resource'
  const resourceMetadataUrl = `${mcpOrigin}${resourceMetadataPath}`

  handlers.mcp = async (req, res) => {
    const path = new URL(req.url ?? '/', mcpOrigin).pathname
    if (req.method === 'GET' && path.startsWith(resourceMetadataPath)) {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify(resourceMetadata))
      return
    }
    if (path !== '/mcp') {
      res.writeHead(404).end()
      return
    }
    const unauthorized = (error?: string) => {
      const params = [`resource_metadata="${resourceMetadataUrl}"`]
      if (opts.challengeScope) params.push(`scope="${opts.challengeScope}"`)
      if (error) params.unshift(`error="${error}"`)
      res.writeHead(401, {
        'www-authenticate': `Bearer ${params.join(', ')}`,
        'content-type': 'application/json',
      })
      res.end(JSON.stringify({ error: error ?? 'unauthorized' }))
    }
    const header = req.headers.authorization ?? ''
    if (!header.toLowerCase().startsWith('bearer ')) return unauthorized()
    let sub: string
    let granted: string[]
    try {
      const { payload } = await jwtVerify(header.slice(7).trim(), jwks, { issuer, audience: mcpUrl })
      granted = typeof payload.scope === 'string' ? payload.scope.split(' ') : []
      if (!granted.includes(MCP_SCOPE) || typeof payload.sub !== 'string')
        return unauthorized('insufficient_scope')
      if (typeof payload.jti === 'string') {
        if (rejectedTokens.has(payload.jti)) return unauthorized('invalid_token')
        seenTokens.set(payload.jti, payload.sub ?? '')
      }
      sub = payload.sub
    } catch {
      return unauthorized('invalid_token')
    }
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const body: unknown = chunks.length > 0 ? JSON.parse(Buffer.concat(chunks).toString()) : undefined
    const call = body as { method?: string; params?: { name?: string } } | undefined
    const stepUp = opts.stepUpScope
    if (
      stepUp &&
      call?.method === 'tools/call' &&
      call.params?.name === 'admin_op' &&
      !granted.includes(stepUp)
    ) {
      res.writeHead(403, {
        'www-authenticate': `Bearer error="insufficient_scope", scope="${MCP_SCOPE} ${stepUp}", resource_metadata="${resourceMetadataUrl}"`,
        'content-type': 'application/json',
      })
      res.end(JSON.stringify({ error: 'insufficient_scope' }))
      return
    }
    calls.push(sub)
    const server = new McpServer({ name: 'oidc-protected', version: '1.0.0' })
    server.registerTool('whoami', { description: 'The subject of the caller’s access token' }, () => ({
      content: [{ type: 'text', text: sub }],
    }))
    if (stepUp)
      server.registerTool('admin_op', { description: `Needs the ${stepUp} scope` }, () => ({
        content: [{ type: 'text', text: `admin ${sub}` }],
      }))
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined })
    res.on('close', () => {
      void transport.close()
      void server.close()
    })
    await server.connect(transport)
    await transport.handleRequest(req, res, body)
  }

  return {
    mcpUrl,
    issuer,
    grants,
    calls,
    authorizeRequests,
    get registrations() {
      return registrations
    },
    rejectTokensIssuedSoFar(sub) {
      for (const [jti, of] of seenTokens) if (of === sub) rejectedTokens.add(jti)
    },
    refuseRefresh(refuse) {
      refuseRefresh = refuse
    },
    async close() {
      await Promise.all([close(mcpServer), close(oidcServer)])
    },
  }
}

type CookieJar = Map<string, Map<string, string>>

function cookieHeader(jar: CookieJar, url: URL): string | undefined {
  const cookies = jar.get(url.origin)
  if (!cookies || cookies.size === 0) return undefined
  return [...cookies].map(([k, v]) => `${k}=${v}`).join('; ')
}

function storeCookies(jar: CookieJar, url: URL, res: Response): void {
  for (const line of res.headers.getSetCookie()) {
    const [pair] = line.split(';')
    const eq = pair.indexOf('=')
    if (eq < 0) continue
    const cookies = jar.get(url.origin) ?? new Map<string, string>()
    const name = pair.slice(0, eq).trim()
    const value = pair.slice(eq + 1).trim()
    if (value === '' || /max-age=0|expires=thu, 01 jan 1970/i.test(line)) cookies.delete(name)
    else cookies.set(name, value)
    jar.set(url.origin, cookies)
  }
}

/**
 * Completes a login as `user` from a URL that leads to the authorization server (Heimdall's upstream
 * login URL, or an authorize URL it returned): follows every redirect by hand with a fresh cookie
 * jar, signs in on the login page, approves the consent page, and returns Heimdall's answer at
 * `callbackUrl` (the redirect back to it is followed too).
 */
export async function completeLogin(
  startUrl: string,
  user: string,
  callbackUrl: string,
  /** The first request's init: e.g. the `x-bf-vk` header that proves whose Heimdall login link it is. */
  first: RequestInit = {},
): Promise<Response> {
  const jar: CookieJar = new Map()
  const send = async (url: URL, init: RequestInit = {}): Promise<Response> => {
    const headers = new Headers(init.headers)
    const cookie = cookieHeader(jar, url)
    if (cookie) headers.set('cookie', cookie)
    const res = await fetch(url, { ...init, headers, redirect: 'manual' })
    storeCookies(jar, url, res)
    return res
  }
  let url = new URL(startUrl)
  let res = await send(url, first)
  for (let step = 0; step < 20; step++) {
    if (`${url.origin}${url.pathname}` === callbackUrl) return res
    if (res.status >= 300 && res.status < 400) {
      const location = res.headers.get('location')
      if (!location) throw new Error(`redirect without a location from ${url.href}`)
      await res.body?.cancel()
      url = new URL(location, url)
      res = await send(url)
      continue
    }
    const html = await res.text()
    if (res.status !== 200)
      throw new Error(`login at ${url.href} failed with ${res.status}: ${html.slice(0, 500)}`)
    const prompt = /name="prompt" value="([a-z]+)"/.exec(html)?.[1]
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1]
    if (!prompt || !action) throw new Error(`no login or consent form at ${url.href}: ${html.slice(0, 500)}`)
    const form = new URLSearchParams({ prompt })
    if (prompt === 'login') {
      form.set('login', user)
      form.set('password', 'secret')
    }
    url = new URL(action.replace(/&amp;/g, '&'), url)
    res = await send(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
    })
  }
  throw new Error(`login as ${user} did not get back to ${callbackUrl}`)
}
