import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type OAuthClientProvider, UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { completeLogin, type OAuthMcpServer, startOAuthMcpServer } from './fakes/oauth-mcp-server.js'
import { type HeadlessChromium, launchChromium, SCREENSHOTS } from './helpers/chromium.js'
import { callJson, type RunningHeimdall, startHeimdall } from './helpers/heimdall.js'
import { perUserOAuthClient } from './helpers/mcp.js'

/** The MCP SDK's OAuth client provider, as a desktop MCP client keeps it: in memory, the browser opened on demand. */
class BrowserOAuthProvider implements OAuthClientProvider {
  private info: OAuthClientInformationMixed | undefined
  private saved: OAuthTokens | undefined
  private verifier = ''
  /** The authorization URL the SDK asked the user's browser to open. */
  authorizationUrl: URL | undefined

  constructor(readonly redirectUrl: string) {}

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'Keyless SDK Client',
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    }
  }
  clientInformation() {
    return this.info
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.info = info
  }
  tokens() {
    return this.saved
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier
  }
  codeVerifier() {
    return this.verifier
  }
}

/** oidc-provider's development login and consent pages, as a person fills them in. */
async function upstreamLogin(page: Page, issuer: string, user: string): Promise<void> {
  await page.waitForURL((u) => u.origin === issuer && u.pathname.startsWith('/interaction/'))
  await page.fill('input[name=login]', user)
  await page.fill('input[name=password]', 'secret')
  await Promise.all([
    page.waitForURL((u) => u.pathname.startsWith('/interaction/')),
    page.click('button[type=submit]'),
  ])
  // The consent step (a fresh grant); the redirect goes back to Heimdall after it.
  await page.click('button[type=submit]')
}

/**
 * A keyless MCP client (the official SDK with its OAuth client provider) connects to Heimdall's
 * /mcp with the default config: it is asked to log in, its user goes through Heimdall's consent
 * page in a real Chromium, connects an upstream server protected by a real oidc-provider from
 * there, lands back on the consent page with that server connected, allows, and the client
 * finishes its token exchange and calls the upstream tool as that user.
 */
describe('a keyless MCP client through the consent page and an upstream login, in a real browser', () => {
  let upstream: OAuthMcpServer
  let gw: RunningHeimdall
  let appDir: string
  let browser: HeadlessChromium
  let redirectServer: Server
  let redirectUrl: string
  let keyValue: string

  beforeAll(async () => {
    upstream = await startOAuthMcpServer()
    appDir = await mkdtemp(join(tmpdir(), 'heimdall-keyless-browser-'))
    // The client's redirect_uri: a loopback page, as desktop MCP clients use.
    redirectServer = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', connection: 'close' })
      res.end('<!doctype html><title>Back at the client</title><p>You can return to your MCP client.</p>')
    })
    await new Promise<void>((resolve) => redirectServer.listen(0, '127.0.0.1', resolve))
    redirectUrl = `http://127.0.0.1:${(redirectServer.address() as AddressInfo).port}/oauth/callback`
    // Default config: nothing about anonymous MCP callers.
    gw = await startHeimdall(
      {
        mcp: {
          client_configs: [perUserOAuthClient('oidc', upstream.mcpUrl)],
        },
      },
      { appDir },
    )
    const api = async (method: string, path: string, body?: unknown) =>
      (await callJson(gw.url, method, path, body)).body
    // The admin verifies the upstream once, so that Heimdall knows its tools.
    const clientId = (await api('GET', '/api/mcp/clients')).clients[0].config.client_id
    const init = await api('POST', `/api/mcp/client/${clientId}/initiate-verification`)
    expect((await completeLogin(init.authorize_url, 'admin', `${gw.url}/api/oauth/callback`)).status).toBe(
      200,
    )
    keyValue = (
      await api('POST', '/api/governance/virtual-keys', {
        name: 'erin-key',
        mcp_configs: [{ mcp_client_name: 'oidc', tools_to_execute: ['whoami'] }],
      })
    ).virtual_key.value
    browser = await launchChromium()
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await gw?.close()
    await upstream?.close()
    if (redirectServer) {
      redirectServer.closeAllConnections()
      await new Promise<void>((resolve) => redirectServer.close(() => resolve()))
    }
    if (appDir) await rm(appDir, { recursive: true, force: true })
  }, 30_000)

  it('asks a keyless client to log in at /mcp, pointing at the protected-resource metadata', async () => {
    const res = await fetch(`${gw.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    })
    expect(res.status).toBe(401)
    expect(res.headers.get('www-authenticate')).toBe(
      `Bearer resource_metadata="${gw.url}/.well-known/oauth-protected-resource"`,
    )
    expect(JSON.stringify(await res.json())).not.toContain('oidc-whoami')
  })

  it('walks the SDK client through consent, the upstream login and back, then calls the tool as that user', async () => {
    const { page } = browser
    const provider = new BrowserOAuthProvider(redirectUrl)
    const mcpUrl = new URL(`${gw.url}/mcp`)

    // 1. The client connects without a key: the SDK discovers Heimdall's OAuth and opens the browser.
    const first = new Client({ name: 'keyless', version: '1.0.0' })
    const firstTransport = new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider })
    await expect(first.connect(firstTransport)).rejects.toBeInstanceOf(UnauthorizedError)
    const authorizationUrl = provider.authorizationUrl!
    expect(authorizationUrl.href.startsWith(`${gw.url}/api/oauth/per-user/authorize?`)).toBe(true)

    // 2. Heimdall's consent page: the user identifies with their virtual key.
    await page.goto(authorizationUrl.href)
    await page.waitForURL((u) => u.pathname === '/oauth/consent')
    expect(await page.textContent('body')).toContain('Keyless SDK Client')
    await page.fill('#vk', keyValue)
    await Promise.all([
      page.waitForURL((u) => u.pathname === '/oauth/consent/mcps'),
      page.click('button:has-text("Continue with virtual key")'),
    ])
    const consentUrl = page.url()
    expect(await page.textContent('body')).toContain('erin-key')
    await page.screenshot({ path: join(SCREENSHOTS, 'mcp-consent-upstream-connect.png'), fullPage: true })

    // 3. Connect: the upstream login (oidc-provider) as "erin", then back on the consent page.
    await page.click('a:has-text("Connect")')
    await upstreamLogin(page, upstream.issuer, 'erin')
    await page.waitForURL((u) => u.href === consentUrl)
    const body = await page.textContent('body')
    expect(body).toMatch(/oidc\s*—\s*connected/)
    expect(await page.locator('a:has-text("Connect")').count()).toBe(0)
    await page.screenshot({ path: join(SCREENSHOTS, 'mcp-consent-upstream-connected.png'), fullPage: true })

    // 4. Allow: the browser lands on the client's redirect_uri with the code.
    await Promise.all([
      page.waitForURL((u) => u.href.startsWith(redirectUrl)),
      page.click('button:has-text("Allow")'),
    ])
    const landed = new URL(page.url())
    const code = landed.searchParams.get('code')
    expect(code).toBeTruthy()

    // 5. The SDK client finishes its token exchange and uses the upstream tool as "erin".
    await firstTransport.finishAuth(code!)
    expect(provider.tokens()?.access_token).toBeTruthy()
    const client = new Client({ name: 'keyless', version: '1.0.0' })
    await client.connect(new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider }))
    try {
      const { tools } = await client.listTools()
      expect(tools.map((t) => t.name)).toEqual(['oidc-whoami'])
      const result = await client.callTool({ name: 'oidc-whoami', arguments: {} })
      expect(result.isError).toBeFalsy()
      expect(result.content).toEqual([{ type: 'text', text: 'erin' }])
    } finally {
      await client.close()
    }
    expect(upstream.calls).toContain('erin')
  }, 60_000)

  it('opens a login link from a tool error in the browser: it asks for its key and completes only with it', async () => {
    const { page, context } = browser
    // A new person at the same browser: no upstream session of erin's is reused.
    await context.clearCookies()
    const mcp_configs = [{ mcp_client_name: 'oidc', tools_to_execute: ['whoami'] }]
    const frank = (
      await callJson(gw.url, 'POST', '/api/governance/virtual-keys', { name: 'frank-key', mcp_configs })
    ).body.virtual_key.value
    const whoami = () =>
      callJson(
        gw.url,
        'POST',
        '/v1/mcp/tool/execute?format=chat',
        { id: 'call_1', type: 'function', function: { name: 'oidc-whoami', arguments: '{}' } },
        frank,
      )
    const asked = await whoami()
    expect(asked.status).toBe(401)
    const loginUrl: string = asked.body.extra_fields.mcp_auth_required.login_url
    expect(loginUrl.startsWith(`${gw.url}/api/oauth/upstream/`)).toBe(true)

    // Someone else's key (erin's) is refused on the page.
    await page.goto(loginUrl)
    expect(await page.textContent('body')).toContain('virtual key “frank-key”')
    await page.fill('#vk', keyValue)
    await page.click('button:has-text("Continue")')
    await expect(page.locator('[role=alert]').textContent()).resolves.toContain('not the virtual key')
    expect(await page.content()).not.toContain(keyValue)

    // Frank's own key: the upstream login as "frank", and the page names the key it connected.
    await page.fill('#vk', frank)
    await page.click('button:has-text("Continue")')
    await upstreamLogin(page, upstream.issuer, 'frank')
    await page.waitForURL((u) => u.pathname === '/api/oauth/callback')
    expect(await page.textContent('body')).toContain('You are logged in to oidc for virtual key “frank-key”')
    await page.screenshot({ path: join(SCREENSHOTS, 'mcp-upstream-login-done.png'), fullPage: true })
    const done = await whoami()
    expect(done.status).toBe(200)
    expect(done.body.content).toBe('frank')
  }, 60_000)
})
