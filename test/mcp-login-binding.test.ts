import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { completeLogin, type OAuthMcpServer, startOAuthMcpServer } from './fakes/oauth-mcp-server.js'
import { callJson, type RunningHeimdall, startHeimdall } from './helpers/heimdall.js'
import { perUserOAuthClient } from './helpers/mcp.js'

/**
 * A login link of a per_user_oauth MCP client completes only for the virtual key it was issued to
 * (against a real oidc-provider): someone else who opens it, or who finishes the upstream login
 * that its owner started, does not bind their upstream identity to that key. Links are absolute.
 */
describe('upstream login links bound to the identity they were issued to', () => {
  let upstream: OAuthMcpServer
  let gw: RunningHeimdall
  let appDir: string
  let keyC: { id: string; value: string }
  let keyD: { id: string; value: string }

  const api = (method: string, path: string, body?: unknown, vk?: string) =>
    callJson(gw.url, method, path, body, vk)
  const whoami = (vk: string) =>
    api(
      'POST',
      '/v1/mcp/tool/execute?format=chat',
      { id: 'call_1', type: 'function', function: { name: 'oidc-whoami', arguments: '{}' } },
      vk,
    )
  const callback = () => `${gw.url}/api/oauth/callback`
  /** C's tool call answers login required, with an absolute login link. */
  const loginLinkOf = async (vk: string): Promise<string> => {
    const first = await whoami(vk)
    expect(first.status).toBe(401)
    expect(first.body.error.type).toBe('mcp_auth_required')
    return first.body.extra_fields.mcp_auth_required.login_url
  }

  beforeAll(async () => {
    upstream = await startOAuthMcpServer()
    appDir = await mkdtemp(join(tmpdir(), 'heimdall-login-binding-'))
    gw = await startHeimdall(
      {
        mcp: {
          client_configs: [perUserOAuthClient('oidc', upstream.mcpUrl)],
        },
      },
      { appDir },
    )
    const clientId = (await api('GET', '/api/mcp/clients')).body.clients.find(
      (c: any) => c.config.name === 'oidc',
    ).config.client_id
    const init = await api('POST', `/api/mcp/client/${clientId}/initiate-verification`)
    expect(init.status).toBe(200)
    expect((await completeLogin(init.body.authorize_url, 'admin', callback())).status).toBe(200)
    const mcp_configs = [{ mcp_client_name: 'oidc', tools_to_execute: ['whoami'] }]
    keyC = (await api('POST', '/api/governance/virtual-keys', { name: 'key-c', mcp_configs })).body
      .virtual_key
    keyD = (await api('POST', '/api/governance/virtual-keys', { name: 'key-d', mcp_configs })).body
      .virtual_key
  }, 60_000)

  afterAll(async () => {
    await gw?.close()
    await upstream?.close()
    if (appDir) await rm(appDir, { recursive: true, force: true })
  })

  it('gives an absolute login link on the origin the caller used', async () => {
    const link = await loginLinkOf(keyC.value)
    expect(link).toMatch(new RegExp(`^${gw.url}/api/oauth/upstream/[^/]+/start$`))
    // The tool error's message carries the same absolute link.
    const again = await whoami(keyC.value)
    expect(again.body.error.message).toContain(link)
    // So does the tool result an MCP client gets from /mcp.
    const client = new Client({ name: 'login-binding', version: '1.0.0' })
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${keyC.value}` } },
      }),
    )
    try {
      const result = await client.callTool({ name: 'oidc-whoami', arguments: {} })
      expect(result.isError).toBe(true)
      expect(JSON.stringify(result.content)).toContain(`open ${link}`)
    } finally {
      await client.close()
    }
  })

  it('does not let another person who opens the link bind their upstream identity to the key', async () => {
    const link = await loginLinkOf(keyC.value)
    // D opens C's link in a browser: the page asks for the key it belongs to, never redirecting.
    const page = await fetch(link, { redirect: 'manual' })
    expect(page.status).toBe(200)
    const html = await page.text()
    expect(html).toContain('virtual key “key-c”')
    expect(html).toContain('name="vk"')
    expect(html).not.toContain(keyC.value)
    // D proves with D's own key: refused, nothing starts upstream.
    const grantsBefore = upstream.grants.length
    const withD = await fetch(link, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ vk: keyD.value }).toString(),
      redirect: 'manual',
    })
    expect(withD.status).toBe(403)
    expect(await withD.text()).toContain('not the virtual key this login belongs to')
    // A foreign page posting a key for the browser that visits it is refused (origin guard).
    const crossSite = await fetch(link, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      body: new URLSearchParams({ vk: keyC.value }).toString(),
      redirect: 'manual',
    })
    expect(crossSite.status).toBe(403)
    // D's key sent as a header to C's link: refused too.
    await expect(
      completeLogin(link, 'dave', callback(), { headers: { 'x-bf-vk': keyD.value } }),
    ).rejects.toThrow(/403/)
    expect(upstream.grants.length).toBe(grantsBefore)
    const still = await whoami(keyC.value)
    expect(still.status).toBe(401)
    expect(still.body.error.type).toBe('mcp_auth_required')
  }, 30_000)

  it('refuses the upstream redirect in a browser other than the one that proved the key', async () => {
    const link = await loginLinkOf(keyC.value)
    // C proves the key and is sent to the upstream; that authorize URL reaches D, who logs in as D.
    const started = await fetch(link, { headers: { 'x-bf-vk': keyC.value }, redirect: 'manual' })
    expect(started.status).toBe(303)
    const authorizeUrl = started.headers.get('location')!
    expect(new URL(authorizeUrl).origin).toBe(upstream.issuer)
    const asD = await completeLogin(authorizeUrl, 'dave', callback())
    expect(asD.status).toBe(403)
    const text = await asD.text()
    expect(text).toContain('started in another browser')
    expect(text).not.toContain('You are logged in')
    const still = await whoami(keyC.value)
    expect(still.status).toBe(401)
    expect(still.body.error.type).toBe('mcp_auth_required')
    expect(upstream.calls).not.toContain('dave')
  }, 30_000)

  it('refuses a consent-page login link opened without that consent’s browser cookie', async () => {
    const link = await loginLinkOf(keyC.value)
    const res = await fetch(`${link}?consent_flow=${crypto.randomUUID()}`, { redirect: 'manual' })
    expect(res.status).toBe(403)
    expect(await res.text()).toContain('started in another browser')
  })

  it('connects a consent page’s user from its Connect link, and comes back to the consent page', async () => {
    const redirectUri = 'http://127.0.0.1:9/callback'
    const reg = await api('POST', '/api/oauth/per-user/register', { redirect_uris: [redirectUri] })
    const authorized = await fetch(
      `${gw.url}/api/oauth/per-user/authorize?${new URLSearchParams({
        response_type: 'code',
        client_id: reg.body.client_id,
        redirect_uri: redirectUri,
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256',
      })}`,
      { redirect: 'manual' },
    )
    const consentCookie = authorized.headers.get('set-cookie')!.split(';')[0]
    const flowId = new URL(authorized.headers.get('location')!, gw.url).searchParams.get('flow_id')!
    const form = { 'content-type': 'application/x-www-form-urlencoded', cookie: consentCookie }
    const chosen = await fetch(`${gw.url}/api/oauth/per-user/consent/user-id`, {
      method: 'POST',
      headers: form,
      body: new URLSearchParams({ flow_id: flowId, user_id: 'uma' }).toString(),
      redirect: 'manual',
    })
    expect(chosen.status).toBe(302)
    const mcps = `${gw.url}/oauth/consent/mcps?flow_id=${flowId}`
    const before = await (await fetch(mcps, { headers: { cookie: consentCookie } })).text()
    const connect = /<a href="([^"]+)">Connect<\/a>/.exec(before)?.[1]?.replace(/&amp;/g, '&')
    expect(connect).toMatch(new RegExp(`^${gw.url}/api/oauth/upstream/[^/]+/start\\?consent_flow=${flowId}$`))
    // Only with the consent's own browser cookie.
    expect((await fetch(connect!, { redirect: 'manual' })).status).toBe(403)
    const started = await fetch(connect!, { headers: { cookie: consentCookie }, redirect: 'manual' })
    expect(started.status).toBe(303)
    const binding = started.headers.get('set-cookie')!.split(';')[0]
    // The upstream login as "uma"; the redirect back, in the browser holding the binding.
    const back = (await completeLogin(started.headers.get('location')!, 'uma', callback())).url
    const landed = await fetch(back, { headers: { cookie: binding }, redirect: 'manual' })
    expect(landed.status).toBe(303)
    expect(landed.headers.get('location')).toBe(`/oauth/consent/mcps?flow_id=${flowId}`)
    const after = await (await fetch(mcps, { headers: { cookie: consentCookie } })).text()
    expect(after).toMatch(/oidc — <strong>connected<\/strong>/)
    expect(after).not.toContain('>Connect<')
  }, 30_000)

  it('completes for the key it was issued to and says which key it connected', async () => {
    const link = await loginLinkOf(keyC.value)
    // C's own browser: the proof page, C's key typed in, then the upstream login as "carol".
    const done = await completeLogin(link, 'carol', callback(), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ vk: keyC.value }).toString(),
    })
    expect(done.status).toBe(200)
    const page = await done.text()
    expect(page).toContain('You are logged in to oidc for virtual key “key-c”')
    expect(page).not.toContain(keyC.value)
    const ok = await whoami(keyC.value)
    expect(ok.status).toBe(200)
    expect(ok.body.content).toBe('carol')
    // D's key is untouched.
    expect((await whoami(keyD.value)).status).toBe(401)
  }, 30_000)

  it('uses a state once: the same redirect back, replayed by the same browser, connects nothing', async () => {
    const link = await loginLinkOf(keyD.value)
    const started = await fetch(link, { headers: { 'x-bf-vk': keyD.value }, redirect: 'manual' })
    expect(started.status).toBe(303)
    const binding = started.headers.get('set-cookie')!.split(';')[0]
    // The upstream login as "dave" (this fetch has no Heimdall cookie: refused, nothing claimed).
    const withoutCookie = await completeLogin(started.headers.get('location')!, 'dave', callback())
    expect(withoutCookie.status).toBe(403)
    const back = withoutCookie.url
    expect(back.startsWith(`${callback()}?`)).toBe(true)
    const first = await fetch(back, { headers: { cookie: binding } })
    expect(first.status).toBe(200)
    expect(await first.text()).toContain('for virtual key “key-d”')
    const replay = await fetch(back, { headers: { cookie: binding } })
    expect(replay.status).toBe(400)
    expect(await replay.text()).toContain('unknown or has expired')
    expect((await whoami(keyD.value)).body.content).toBe('dave')
  }, 30_000)

  it('answers an unknown login link with a 404 page, and a forged state with 400', async () => {
    const unknown = await fetch(`${gw.url}/api/oauth/upstream/nope/start`, { redirect: 'manual' })
    expect(unknown.status).toBe(404)
    const forged = await fetch(`${gw.url}/api/oauth/callback?state=abc.def&code=x`)
    expect(forged.status).toBe(400)
    expect(await forged.text()).toContain('unknown or has expired')
  })
})
