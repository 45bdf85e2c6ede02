import type { ConfigStore, McpOAuthCredentialsTables } from '../../store/index.js'
import { ADMIN_AUTH_MODE } from './service.js'

/** Bifrost's `OAuthConfigStatus` (`GET /api/mcp/oauth/{id}`). */
export interface OAuthConfigStatus {
  id: string
  status: 'pending' | 'authorized' | 'failed'
  created_at: string
  token_id?: string
  token_expires_at?: string
  token_scopes?: string[]
}

type Store = Pick<ConfigStore, 'db'>

const tables = (store: Store) => store.db.withTables<McpOAuthCredentialsTables>()

/**
 * An OAuth config is Bifrost's server-level login of an MCP client (`auth_type` oauth): here the
 * client's registration with its authorization server and the admin's verification token issued
 * through it. Authorized while that token is active; failed when the last login failed.
 */
export async function oauthConfigStatus(store: Store, id: string): Promise<OAuthConfigStatus | undefined> {
  const db = tables(store)
  const config = await db.selectFrom('mcp_oauth_configs').selectAll().where('id', '=', id).executeTakeFirst()
  if (!config) return undefined
  const base = { id, created_at: config.created_at }
  const token = await db
    .selectFrom('mcp_oauth_tokens')
    .selectAll()
    .where('oauth_config_id', '=', id)
    .where('auth_mode', '=', ADMIN_AUTH_MODE)
    .where('status', '=', 'active')
    .orderBy('created_at', 'desc')
    .executeTakeFirst()
  if (token)
    return {
      ...base,
      status: 'authorized',
      token_id: token.id,
      ...(token.expires_at !== null && { token_expires_at: token.expires_at }),
      token_scopes: token.scope ? token.scope.split(' ').filter((s) => s !== '') : [],
    }
  const flow = await db
    .selectFrom('mcp_oauth_flows')
    .select('status')
    .where('oauth_config_id', '=', id)
    .where('auth_mode', '=', ADMIN_AUTH_MODE)
    .orderBy('created_at', 'desc')
    .executeTakeFirst()
  return { ...base, status: flow?.status === 'failed' ? 'failed' : 'pending' }
}

/** Revokes the admin token issued through an OAuth config; false when the config is unknown. */
export async function revokeOAuthConfig(store: Store, id: string): Promise<boolean> {
  const db = tables(store)
  const config = await db.selectFrom('mcp_oauth_configs').select('id').where('id', '=', id).executeTakeFirst()
  if (!config) return false
  await db
    .deleteFrom('mcp_oauth_tokens')
    .where('oauth_config_id', '=', id)
    .where('auth_mode', '=', ADMIN_AUTH_MODE)
    .execute()
  return true
}
