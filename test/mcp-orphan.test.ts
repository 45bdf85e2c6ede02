import { afterAll, describe, expect, it } from 'vitest'
import type { McpOAuthCredentialsTables } from '../src/store/index.js'
import { type RunningHeimdall, startHeimdall } from './helpers/heimdall.js'

/**
 * Per-user MCP credentials bound to a virtual key are orphaned when the key loses access to
 * their client (after a governance change), and all of a client's when the client is removed.
 */
describe('orphaned per-user MCP credentials', () => {
  let gw: RunningHeimdall | undefined

  afterAll(async () => {
    await gw?.close()
  })

  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${gw?.url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    return { status: res.status, body: (await res.json()) as any }
  }

  it('orphans on a governance change and on removal', async () => {
    gw = await startHeimdall({})
    const db = gw.heimdall.store.db.withTables<McpOAuthCredentialsTables>()
    const added = await api('POST', '/api/mcp/client', {
      client_id: 'remote-1',
      name: 'remote',
      connection_type: 'http',
      connection_string: 'http://127.0.0.1:9/mcp',
      auth_type: 'per_user_oauth',
      tools_to_execute: ['*'],
    })
    expect(added.status).toBe(200)
    const withAccess = (
      await api('POST', '/api/governance/virtual-keys', {
        name: 'with-access',
        mcp_configs: [{ mcp_client_name: 'remote', tools_to_execute: ['*'] }],
      })
    ).body.virtual_key
    const without = (await api('POST', '/api/governance/virtual-keys', { name: 'without' })).body.virtual_key
    const now = new Date().toISOString()
    for (const vk of [withAccess, without]) {
      await db
        .insertInto('mcp_oauth_tokens')
        .values({
          id: `token-${vk.name}`,
          mcp_client_id: 'remote-1',
          auth_mode: 'vk',
          identity_id: vk.id,
          access_token: 'sealed',
          refresh_token: null,
          token_type: 'Bearer',
          scope: null,
          status: 'active',
          oauth_config_id: null,
          expires_at: null,
          last_refreshed_at: null,
          created_at: now,
          updated_at: now,
        })
        .execute()
    }
    const statuses = async () =>
      Object.fromEntries(
        (await db.selectFrom('mcp_oauth_tokens').select(['id', 'status']).orderBy('id').execute()).map(
          (r) => [r.id, r.status],
        ),
      )

    // Any governance change: the key without access to the client loses its credential.
    expect(
      (await api('PUT', `/api/governance/virtual-keys/${withAccess.id}`, { description: 'x' })).status,
    ).toBe(200)
    expect(await statuses()).toEqual({ 'token-with-access': 'active', 'token-without': 'orphaned' })

    // The client removed: every credential of it.
    expect((await api('DELETE', '/api/mcp/client/remote-1')).status).toBe(200)
    expect(await statuses()).toEqual({ 'token-with-access': 'orphaned', 'token-without': 'orphaned' })
  }, 30_000)
})
