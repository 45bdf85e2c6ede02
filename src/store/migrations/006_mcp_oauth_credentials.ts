import type { Kysely, Migration } from 'kysely'

/**
 * Heimdall as the per-user OAuth client of upstream MCP servers (see src/mcp/oauth-client/):
 * the client registrations it holds at each upstream authorization server, the tokens it holds per
 * (identity, MCP client), and the pending login flows. Tokens, client secrets and PKCE verifiers
 * are sealed; the `state` of a flow is stored as a sha256 hash only.
 */
export const mcpOAuthCredentialsMigration: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('mcp_oauth_configs')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('mcp_client_id', 'text', (c) => c.notNull())
      .addColumn('redirect_uri', 'text', (c) => c.notNull())
      .addColumn('authorization_server', 'text', (c) => c.notNull())
      .addColumn('metadata', 'text')
      .addColumn('resource', 'text')
      .addColumn('scope', 'text')
      .addColumn('client_information', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute()
    await db.schema
      .createTable('mcp_oauth_tokens')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('mcp_client_id', 'text', (c) => c.notNull())
      .addColumn('auth_mode', 'text', (c) => c.notNull())
      .addColumn('identity_id', 'text', (c) => c.notNull())
      .addColumn('access_token', 'text', (c) => c.notNull())
      .addColumn('refresh_token', 'text')
      .addColumn('token_type', 'text', (c) => c.notNull())
      .addColumn('scope', 'text')
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('oauth_config_id', 'text')
      .addColumn('expires_at', 'text')
      .addColumn('last_refreshed_at', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('mcp_oauth_tokens_binding', ['mcp_client_id', 'auth_mode', 'identity_id'])
      .execute()
    await db.schema
      .createTable('mcp_oauth_flows')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('mcp_client_id', 'text', (c) => c.notNull())
      .addColumn('auth_mode', 'text', (c) => c.notNull())
      .addColumn('identity_id', 'text', (c) => c.notNull())
      .addColumn('state_hash', 'text', (c) => c.unique())
      .addColumn('code_verifier', 'text')
      .addColumn('oauth_config_id', 'text')
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('error', 'text')
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute()
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('mcp_oauth_flows').execute()
    await db.schema.dropTable('mcp_oauth_tokens').execute()
    await db.schema.dropTable('mcp_oauth_configs').execute()
  },
}
