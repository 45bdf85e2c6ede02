import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { completeLogin, type OAuthMcpServer, startOAuthMcpServer } from './fakes/oauth-mcp-server.js'
import { bifrostResponse, schemaErrors } from './helpers/bifrost-openapi.js'
import { callJson, type RunningHeimdall, startHeimdall } from './helpers/heimdall.js'
import { perUserOAuthClient } from './helpers/mcp.js'

/**
 * Bifrost's names of the MCP OAuth routes: GET /api/mcp/oauth/{id} (the status of an MCP client's
 * OAuth config: pending, then authorized with its token's expiry and scopes), DELETE of the same
 * (revokes the token), and GET /api/mcp/oauth/callback (the authorization server's redirect).
 */

let upstream: OAuthMcpServer
let gw: RunningHeimdall
const api = (method: string, path: string) => callJson(gw.url, method, path)

function expectBifrostShape(method: string, body: unknown): void {
  const validate = bifrostResponse('paths/management/oauth.yaml', 'oauth-config-status', method)
  const ok = validate(body)
  expect(schemaErrors(validate.errors), JSON.stringify(body)).toEqual([])
  expect(ok).toBe(true)
}

beforeAll(async () => {
  upstream = await startOAuthMcpServer()
  gw = await startHeimdall({
    mcp: {
      client_configs: [perUserOAuthClient('oidc', upstream.mcpUrl)],
    },
  })
}, 60_000)
afterAll(async () => {
  await gw?.close()
  await upstream?.close()
})

describe('MCP OAuth routes under Bifrost’s names', () => {
  it('reports an OAuth config pending, then authorized, and revokes its token', async () => {
    const clients = await api('GET', '/api/mcp/clients')
    const clientId: string = clients.body.clients.find((c: any) => c.config.name === 'oidc').config.client_id
    const init = await api('POST', `/api/mcp/client/${clientId}/initiate-verification`)
    expect(init.status).toBe(200)
    const id: string = init.body.oauth_config_id

    const pending = await api('GET', `/api/mcp/oauth/${id}`)
    expect(pending.status).toBe(200)
    expectBifrostShape('get', pending.body)
    expect(pending.body).toMatchObject({ id, status: 'pending' })
    expect(Date.parse(pending.body.created_at)).not.toBeNaN()

    const done = await completeLogin(init.body.authorize_url, 'admin', `${gw.url}/api/oauth/callback`)
    expect(done.status).toBe(200)

    const authorized = await api('GET', `/api/mcp/oauth/${id}`)
    expectBifrostShape('get', authorized.body)
    expect(authorized.body).toMatchObject({ id, status: 'authorized' })
    expect(typeof authorized.body.token_id).toBe('string')
    expect(Date.parse(authorized.body.token_expires_at)).toBeGreaterThan(Date.now())
    expect(Array.isArray(authorized.body.token_scopes)).toBe(true)
    expect(JSON.stringify(authorized.body)).not.toMatch(/access_token|refresh_token/)

    const revoked = await api('DELETE', `/api/mcp/oauth/${id}`)
    expect(revoked.status).toBe(200)
    expectBifrostShape('delete', revoked.body)
    expect(revoked.body).toEqual({ status: 'success', message: 'OAuth token revoked successfully' })
    expect((await api('GET', `/api/mcp/oauth/${id}`)).body.status).toBe('pending')

    const unknown = await api('GET', '/api/mcp/oauth/no-such-config')
    expect(unknown.status).toBe(404)
    expect(unknown.body.error.message).toBe('OAuth config not found')
    expect((await api('DELETE', '/api/mcp/oauth/no-such-config')).status).toBe(404)
  })

  it('answers the authorization server’s redirect at /api/mcp/oauth/callback with an HTML page', async () => {
    const res = await fetch(`${gw.url}/api/mcp/oauth/callback?state=not-a-login&code=abc`)
    expect(res.status).toBe(400)
    expect(res.headers.get('content-type')).toMatch(/^text\/html/)
    expect(await res.text()).toContain('This login is unknown or has expired.')
  })
})
