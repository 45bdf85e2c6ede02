import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { OAuthServerTables } from '../src/store/index.js'
import { type RunningHeimdall, startHeimdall } from './helpers/heimdall.js'
import { everythingClient, pkce, waitForTool } from './helpers/mcp.js'

const REDIRECT = 'http://127.0.0.1:54321/callback'

/**
 * Heimdall as the OAuth 2.1 authorization server of /mcp, driven over HTTP as a browser and an MCP
 * client would: registration, authorize, the consent pages, code, tokens, /mcp with the token.
 */
describe('MCP OAuth authorization server', () => {
  let gw: RunningHeimdall
  let twoTools: string
  let inactive: string
  let clientId: string

  const url = (path: string) => `${gw.url}${path}`
  const form = (path: string, fields: Record<string, string>, cookie?: string) =>
    fetch(url(path), {
      method: 'POST',
      redirect: 'manual',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...(cookie !== undefined && { cookie }),
      },
      body: new URLSearchParams(fields).toString(),
    })

  /** DCR'd client → authorize: the flow id and the browser's cookie. */
  async function startFlow(state = 'st-123', challenge = pkce().challenge) {
    const res = await fetch(
      url(
        `/api/oauth/per-user/authorize?${new URLSearchParams({
          response_type: 'code',
          client_id: clientId,
          redirect_uri: REDIRECT,
          code_challenge: challenge,
          code_challenge_method: 'S256',
          state,
          resource: `${gw.url}/mcp`,
        })}`,
      ),
      { redirect: 'manual' },
    )
    expect(res.status).toBe(302)
    const location = new URL(res.headers.get('location')!, gw.url)
    expect(location.pathname).toBe('/oauth/consent')
    const setCookie = res.headers.get('set-cookie')!
    expect(setCookie).toMatch(/^__bifrost_flow_secret=/)
    expect(setCookie).toContain('HttpOnly')
    expect(setCookie).toContain('SameSite=Lax')
    return { flowId: location.searchParams.get('flow_id')!, cookie: setCookie.split(';')[0] }
  }

  /** A flow taken through consent by virtual key and submitted: the code. */
  async function codeFor(vk: string, challenge: string) {
    const { flowId, cookie } = await startFlow('st', challenge)
    expect((await form('/api/oauth/per-user/consent/vk', { flow_id: flowId, vk }, cookie)).status).toBe(302)
    const submit = await form('/api/oauth/per-user/consent/submit', { flow_id: flowId }, cookie)
    return new URL(submit.headers.get('location')!).searchParams.get('code')!
  }

  const token = (fields: Record<string, string>) =>
    form('/api/oauth/per-user/token', fields).then(async (r) => ({
      status: r.status,
      body: (await r.json()) as any,
    }))

  const flows = () => gw.heimdall.store.db.withTables<OAuthServerTables>().updateTable('oauth_server_flows')

  beforeAll(async () => {
    gw = await startHeimdall({
      mcp: {
        client_configs: [everythingClient()],
      },
    })
    await waitForTool(gw, 'everything-echo')
    const createKey = async (body: unknown) =>
      (
        (await (
          await fetch(url('/api/governance/virtual-keys'), {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(body),
          })
        ).json()) as any
      ).virtual_key.value as string
    twoTools = await createKey({
      name: 'two-tools',
      mcp_configs: [{ mcp_client_name: 'everything', tools_to_execute: ['echo', 'get-sum'] }],
    })
    inactive = await createKey({ name: 'off', is_active: false })
    const reg = await fetch(url('/api/oauth/per-user/register'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_name: 'Test Client',
        redirect_uris: [REDIRECT],
        token_endpoint_auth_method: 'none',
      }),
    })
    expect(reg.status).toBe(201)
    clientId = ((await reg.json()) as any).client_id
  }, 30_000)

  afterAll(async () => {
    await gw?.close()
  })

  it('publishes discovery documents naming its endpoints, and /mcp points at them on a 401', async () => {
    const resource = (await (await fetch(url('/.well-known/oauth-protected-resource'))).json()) as any
    expect(resource).toMatchObject({ resource: `${gw.url}/mcp`, authorization_servers: [gw.url] })
    const as = (await (await fetch(url('/.well-known/oauth-authorization-server'))).json()) as any
    expect(as).toMatchObject({
      issuer: gw.url,
      authorization_endpoint: `${gw.url}/api/oauth/per-user/authorize`,
      token_endpoint: `${gw.url}/api/oauth/per-user/token`,
      registration_endpoint: `${gw.url}/api/oauth/per-user/register`,
      code_challenge_methods_supported: ['S256'],
    })
    const res = await fetch(url('/mcp'), {
      method: 'POST',
      headers: { authorization: 'Bearer hmd_at_forged', 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    })
    expect(res.status).toBe(401)
    expect(res.headers.get('www-authenticate')).toBe(
      `Bearer resource_metadata="${gw.url}/.well-known/oauth-protected-resource"`,
    )
  })

  it('takes a client from registration to /mcp tools with its token, and refreshes it', async () => {
    const { verifier, challenge } = pkce()
    const { flowId, cookie } = await startFlow('opaque state/with+chars', challenge)

    const page = await fetch(url(`/oauth/consent?flow_id=${flowId}`), { headers: { cookie } })
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toContain('text/html')
    const html = await page.text()
    expect(html).toContain('<form method="post" action="/api/oauth/per-user/consent/vk">')
    expect(html).toContain('Test Client')

    const vk = await form('/api/oauth/per-user/consent/vk', { flow_id: flowId, vk: twoTools }, cookie)
    expect(vk.status).toBe(302)
    expect(vk.headers.get('location')).toBe(`/oauth/consent/mcps?flow_id=${flowId}`)

    const mcps = await fetch(url(`/oauth/consent/mcps?flow_id=${flowId}`), { headers: { cookie } })
    expect(mcps.status).toBe(200)
    const mcpsHtml = await mcps.text()
    expect(mcpsHtml).toContain('action="/api/oauth/per-user/consent/submit"')
    expect(mcpsHtml).toContain('two-tools')

    // A state in the form is not the client's: the one from the authorize request comes back.
    const submit = await form(
      '/api/oauth/per-user/consent/submit',
      { flow_id: flowId, state: 'forged' },
      cookie,
    )
    expect(submit.status).toBe(302)
    const callback = new URL(submit.headers.get('location')!)
    expect(`${callback.origin}${callback.pathname}`).toBe(REDIRECT)
    expect(callback.searchParams.get('state')).toBe('opaque state/with+chars')
    const code = callback.searchParams.get('code')!

    const issued = await token({
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      redirect_uri: REDIRECT,
      client_id: clientId,
      resource: `${gw.url}/mcp`,
    })
    expect(issued.status).toBe(200)
    expect(issued.body).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'mcp:read mcp:write' })

    const listWith = async (accessToken: string) => {
      const client = new Client({ name: 'test', version: '1.0.0' })
      await client.connect(
        new StreamableHTTPClientTransport(new URL(url('/mcp')), {
          requestInit: { headers: { authorization: `Bearer ${accessToken}` } },
        }),
      )
      try {
        const { tools } = await client.listTools()
        return tools.map((t) => t.name).sort()
      } finally {
        await client.close()
      }
    }
    expect(await listWith(issued.body.access_token)).toEqual(['everything-echo', 'everything-get-sum'])

    const refreshed = await token({ grant_type: 'refresh_token', refresh_token: issued.body.refresh_token })
    expect(refreshed.status).toBe(200)
    expect(refreshed.body.access_token).not.toBe(issued.body.access_token)
    expect(await listWith(refreshed.body.access_token)).toEqual(['everything-echo', 'everything-get-sum'])
    // Rotated: the old refresh token is spent.
    const again = await token({ grant_type: 'refresh_token', refresh_token: issued.body.refresh_token })
    expect(again).toMatchObject({ status: 400, body: { error: 'invalid_grant' } })
  }, 30_000)

  it('gives a token naming a user, not a key, only the tools open to callers without a key', async () => {
    const { verifier, challenge } = pkce()
    const { flowId, cookie } = await startFlow('st', challenge)
    const chosen = await form(
      '/api/oauth/per-user/consent/user-id',
      { flow_id: flowId, user_id: 'ada' },
      cookie,
    )
    expect(chosen.status).toBe(302)
    const submit = await form('/api/oauth/per-user/consent/submit', { flow_id: flowId }, cookie)
    const code = new URL(submit.headers.get('location')!).searchParams.get('code')!
    const issued = await token({
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      redirect_uri: REDIRECT,
      client_id: clientId,
    })
    expect(issued.status).toBe(200)
    const mcp = () =>
      fetch(url('/mcp'), {
        method: 'POST',
        headers: {
          authorization: `Bearer ${issued.body.access_token}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      })
    // Nothing is open by default: refused (403, not a 401 that would send the client to log in again).
    const closed = await mcp()
    expect(closed.status).toBe(403)
    expect(((await closed.json()) as any).error.message).toMatch(/names no virtual key.*mcp\.anonymous_tools/)

    const everything = gw.heimdall.mcp.list().find((c) => c.config.name === 'everything')!.config.client_id
    const setOpen = (allow: boolean) =>
      fetch(url(`/api/mcp/client/${everything}`), {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ allow_anonymous: allow }),
      })
    expect((await setOpen(true)).status).toBe(200)
    try {
      await waitForTool(gw, 'everything-echo')
      const open = await mcp()
      expect(open.status).toBe(200)
      const names = ((await open.json()) as any).result.tools.map((t: { name: string }) => t.name)
      expect(names).toContain('everything-echo')
      expect(names).toContain('everything-get-sum')
    } finally {
      expect((await setOpen(false)).status).toBe(200)
      await waitForTool(gw, 'everything-echo')
    }
  }, 30_000)

  it('refuses plain PKCE, a missing challenge and an unregistered redirect_uri', async () => {
    const authorize = (params: Record<string, string>) =>
      fetch(
        url(
          `/api/oauth/per-user/authorize?${new URLSearchParams({
            response_type: 'code',
            client_id: clientId,
            redirect_uri: REDIRECT,
            code_challenge: pkce().challenge,
            code_challenge_method: 'S256',
            ...params,
          })}`,
        ),
        { redirect: 'manual' },
      ).then(async (r) => ({ status: r.status, body: (await r.json()) as any }))
    const plain = await authorize({ code_challenge_method: 'plain' })
    expect(plain.status).toBe(400)
    expect(plain.body.error).toBe('invalid_request')
    expect(plain.body.error_description).toContain('S256')
    expect((await authorize({ code_challenge: '' })).body.error).toBe('invalid_request')
    expect((await authorize({ redirect_uri: 'http://127.0.0.1:54321/other' })).status).toBe(400)
    expect((await authorize({ client_id: 'nobody' })).status).toBe(400)
  })

  it('sends a wrong, missing or inactive virtual key back to the identity page with an error', async () => {
    const { flowId, cookie } = await startFlow()
    for (const [vk, error] of [
      ['sk-bf-nope', 'vk_invalid'],
      [inactive, 'vk_inactive'],
      ['', 'vk_required'],
    ]) {
      const res = await form('/api/oauth/per-user/consent/vk', { flow_id: flowId, vk }, cookie)
      expect(res.status).toBe(302)
      expect(res.headers.get('location')).toBe(`/oauth/consent?flow_id=${flowId}&error=${error}`)
    }
    const page = await fetch(url(`/oauth/consent?flow_id=${flowId}&error=vk_invalid`), {
      headers: { cookie },
    })
    const html = await page.text()
    expect(html).toContain('That virtual key is not valid.')
    expect(html).not.toContain('sk-bf-nope')
    // Without an identity there is nothing to submit yet.
    const early = await form('/api/oauth/per-user/consent/submit', { flow_id: flowId }, cookie)
    expect(early.headers.get('location')).toBe(`/oauth/consent?flow_id=${flowId}&error=identity_required`)
  })

  it('refuses consent from a browser without the flow cookie', async () => {
    const { flowId } = await startFlow()
    const other = 'x=1; __bifrost_flow_secret=not-the-secret'
    expect((await form('/api/oauth/per-user/consent/vk', { flow_id: flowId, vk: twoTools })).status).toBe(403)
    expect(
      (await form('/api/oauth/per-user/consent/vk', { flow_id: flowId, vk: twoTools }, other)).status,
    ).toBe(403)
    expect((await form('/api/oauth/per-user/consent/submit', { flow_id: flowId })).status).toBe(403)
    expect((await fetch(url(`/oauth/consent?flow_id=${flowId}`))).status).toBe(403)
  })

  it('answers an unknown flow with 400 and an expired one with 410, as HTML for a browser', async () => {
    const { cookie } = await startFlow()
    const unknown = await fetch(url('/oauth/consent?flow_id=nope'), {
      headers: { cookie, accept: 'text/html' },
    })
    expect(unknown.status).toBe(400)
    expect(await unknown.text()).toContain('unknown')
    const missing = await fetch(url('/oauth/consent'), { headers: { cookie } })
    expect(missing.status).toBe(400)
    const viaForm = await form('/api/oauth/per-user/consent/vk', { flow_id: 'nope', vk: twoTools }, cookie)
    expect(viaForm.headers.get('location')).toBe('/oauth/consent?flow_id=nope&error=unknown_flow')

    const expired = await startFlow()
    await form('/api/oauth/per-user/consent/vk', { flow_id: expired.flowId, vk: twoTools }, expired.cookie)
    await flows()
      .set({ expires_at: new Date(Date.now() - 1000).toISOString() })
      .where('id', '=', expired.flowId)
      .execute()
    const page = await fetch(url(`/oauth/consent?flow_id=${expired.flowId}`), {
      headers: { cookie: expired.cookie, accept: 'text/html' },
    })
    expect(page.status).toBe(410)
    const submit = await form(
      '/api/oauth/per-user/consent/submit',
      { flow_id: expired.flowId },
      expired.cookie,
    )
    expect(submit.status).toBe(410)
    expect(((await submit.json()) as any).error.message).toContain('expired')
  })

  it('answers a second submit with 409', async () => {
    const { flowId, cookie } = await startFlow()
    await form('/api/oauth/per-user/consent/vk', { flow_id: flowId, vk: twoTools }, cookie)
    const submits = await Promise.all([
      form('/api/oauth/per-user/consent/submit', { flow_id: flowId }, cookie),
      form('/api/oauth/per-user/consent/submit', { flow_id: flowId }, cookie),
    ])
    expect(submits.map((r) => r.status).sort()).toEqual([302, 409])
    expect((await form('/api/oauth/per-user/consent/submit', { flow_id: flowId }, cookie)).status).toBe(409)
  })

  it('refuses a wrong code_verifier, a wrong redirect_uri and a reused code', async () => {
    const { verifier, challenge } = pkce()
    const code = await codeFor(twoTools, challenge)
    const wrongVerifier = await token({
      grant_type: 'authorization_code',
      code,
      code_verifier: pkce().verifier,
    })
    expect(wrongVerifier).toMatchObject({ status: 400, body: { error: 'invalid_grant' } })
    const wrongRedirect = await token({
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      redirect_uri: 'http://127.0.0.1:54321/other',
    })
    expect(wrongRedirect).toMatchObject({ status: 400, body: { error: 'invalid_grant' } })

    const first = await token({ grant_type: 'authorization_code', code, code_verifier: verifier })
    expect(first.status).toBe(200)
    const reused = await token({ grant_type: 'authorization_code', code, code_verifier: verifier })
    expect(reused).toMatchObject({ status: 400, body: { error: 'invalid_grant' } })
    // The tokens of a replayed code are revoked.
    const res = await fetch(url('/mcp'), {
      method: 'POST',
      headers: {
        authorization: `Bearer ${first.body.access_token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    })
    expect(res.status).toBe(401)
    expect((await token({ grant_type: 'password' })).body.error).toBe('unsupported_grant_type')
  })
})
