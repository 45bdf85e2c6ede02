import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type HeadlessChromium, launchChromium, SCREENSHOTS } from './helpers/chromium.js'
import { type RunningHeimdall, startHeimdall } from './helpers/heimdall.js'
import { everythingClient, pkce, waitForTool } from './helpers/mcp.js'

/**
 * The consent pages in a real headless Chromium: authorize → virtual key form → MCPs page → Allow →
 * the client's redirect_uri with a code, then the code for tokens and /mcp tools with the token.
 */
describe('MCP OAuth consent in a real browser', () => {
  let gw: RunningHeimdall
  let twoTools: string
  let clientId: string
  let callbackServer: Server
  let redirectUri: string
  const callbacks: URLSearchParams[] = []
  let browser: HeadlessChromium | undefined
  let page: Page

  const url = (path: string) => `${gw.url}${path}`
  const authorizeUrl = (state: string, challenge: string) =>
    url(
      `/api/oauth/per-user/authorize?${new URLSearchParams({
        response_type: 'code',
        client_id: clientId,
        redirect_uri: redirectUri,
        code_challenge: challenge,
        code_challenge_method: 'S256',
        state,
        resource: `${gw.url}/mcp`,
      })}`,
    )

  beforeAll(async () => {
    // The client's redirect_uri: records every query it is sent.
    callbackServer = createServer((req, res) => {
      const u = new URL(req.url ?? '/', 'http://127.0.0.1')
      if (u.pathname === '/callback') callbacks.push(u.searchParams)
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', connection: 'close' })
      res.end('<!doctype html><title>Client callback</title><p>Back at the client.</p>')
    })
    await new Promise<void>((resolve) => callbackServer.listen(0, '127.0.0.1', resolve))
    redirectUri = `http://127.0.0.1:${(callbackServer.address() as AddressInfo).port}/callback`

    gw = await startHeimdall({
      mcp: {
        client_configs: [everythingClient()],
      },
    })
    await waitForTool(gw, 'everything-echo')
    const keyRes = await fetch(url('/api/governance/virtual-keys'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'two-tools',
        mcp_configs: [{ mcp_client_name: 'everything', tools_to_execute: ['echo', 'get-sum'] }],
      }),
    })
    expect(keyRes.status).toBeLessThan(300)
    twoTools = ((await keyRes.json()) as any).virtual_key.value

    const reg = await fetch(url('/api/oauth/per-user/register'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_name: 'Browser Test Client',
        redirect_uris: [redirectUri],
        token_endpoint_auth_method: 'none',
      }),
    })
    expect(reg.status).toBe(201)
    clientId = ((await reg.json()) as any).client_id

    browser = await launchChromium()
    page = browser.page
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await gw?.close()
    if (callbackServer) {
      callbackServer.closeAllConnections()
      await new Promise<void>((resolve) => callbackServer.close(() => resolve()))
    }
  }, 30_000)

  it('takes the browser through consent to the redirect_uri, and the code to /mcp tools', async () => {
    const { verifier, challenge } = pkce()
    const state = 'browser state/with+chars'
    await page.goto(authorizeUrl(state, challenge))
    await page.waitForURL((u) => u.pathname === '/oauth/consent')
    expect(await page.textContent('body')).toContain('Browser Test Client')
    await expect(page.locator('#vk').isVisible()).resolves.toBe(true)
    await page.screenshot({ path: join(SCREENSHOTS, 'mcp-consent-page.png'), fullPage: true })

    await page.fill('#vk', twoTools)
    await Promise.all([
      page.waitForURL((u) => u.pathname === '/oauth/consent/mcps'),
      page.click('button:has-text("Continue with virtual key")'),
    ])
    expect(await page.textContent('body')).toContain('two-tools')
    await page.screenshot({ path: join(SCREENSHOTS, 'mcp-consent-mcps-page.png'), fullPage: true })

    await Promise.all([
      page.waitForURL((u) => u.href.startsWith(redirectUri)),
      page.click('button:has-text("Allow")'),
    ])
    const landed = new URL(page.url())
    expect(`${landed.origin}${landed.pathname}`).toBe(redirectUri)
    expect(landed.searchParams.get('state')).toBe(state)
    const code = landed.searchParams.get('code')
    expect(code).toBeTruthy()
    // The client's server saw the same redirect.
    expect(callbacks.at(-1)?.get('code')).toBe(code)
    expect(callbacks.at(-1)?.get('state')).toBe(state)

    const tokenRes = await fetch(url('/api/oauth/per-user/token'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: code!,
        code_verifier: verifier,
        redirect_uri: redirectUri,
        client_id: clientId,
        resource: `${gw.url}/mcp`,
      }).toString(),
    })
    expect(tokenRes.status).toBe(200)
    const tokens = (await tokenRes.json()) as any
    expect(tokens.token_type).toBe('Bearer')

    const client = new Client({ name: 'browser-test', version: '1.0.0' })
    await client.connect(
      new StreamableHTTPClientTransport(new URL(url('/mcp')), {
        requestInit: { headers: { authorization: `Bearer ${tokens.access_token}` } },
      }),
    )
    try {
      const { tools } = await client.listTools()
      expect(tools.map((t) => t.name).sort()).toEqual(['everything-echo', 'everything-get-sum'])
    } finally {
      await client.close()
    }
  }, 45_000)

  it('shows the consent page again with a visible error, without echoing a wrong key', async () => {
    const wrongKey = 'sk-bf-wrong-browser-key-0123456789'
    await page.goto(authorizeUrl('st-wrong', pkce().challenge))
    await page.waitForURL((u) => u.pathname === '/oauth/consent')
    await page.fill('#vk', wrongKey)
    await Promise.all([
      page.waitForURL((u) => u.pathname === '/oauth/consent' && u.searchParams.has('error')),
      page.click('button:has-text("Continue with virtual key")'),
    ])
    const alert = page.locator('[role=alert]')
    expect(await alert.isVisible()).toBe(true)
    expect(await alert.textContent()).toContain('That virtual key is not valid.')
    expect(await page.textContent('body')).toContain('That virtual key is not valid.')
    expect(await page.content()).not.toContain(wrongKey)
    expect(await page.inputValue('#vk')).toBe('')
    expect(page.url()).not.toContain(wrongKey)
    await page.screenshot({ path: join(SCREENSHOTS, 'mcp-consent-error-page.png'), fullPage: true })
    expect(callbacks.every((q) => q.get('state') !== 'st-wrong')).toBe(true)
  }, 30_000)
})
