import type { Kysely, Migration } from 'kysely'

/**
 * Heimdall as the OAuth 2.1 authorization server of its own /mcp endpoint (see src/mcp/oauth-server/):
 * registered clients, pending consent flows, authorization codes and issued tokens. Codes and
 * tokens are stored as sha256 hashes only.
 */
export const oauthServerMigration: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('oauth_server_clients')
      .addColumn('client_id', 'text', (c) => c.primaryKey())
      .addColumn('client_name', 'text')
      .addColumn('redirect_uris', 'text', (c) => c.notNull())
      .addColumn('grant_types', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute()
    await db.schema
      .createTable('oauth_server_flows')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('secret_hash', 'text', (c) => c.notNull())
      .addColumn('client_id', 'text', (c) => c.notNull())
      .addColumn('redirect_uri', 'text', (c) => c.notNull())
      .addColumn('code_challenge', 'text', (c) => c.notNull())
      .addColumn('state', 'text')
      .addColumn('resource', 'text')
      .addColumn('scope', 'text', (c) => c.notNull())
      .addColumn('identity_kind', 'text')
      .addColumn('virtual_key_id', 'text')
      .addColumn('user_id', 'text')
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute()
    await db.schema
      .createTable('oauth_server_codes')
      .addColumn('code_hash', 'text', (c) => c.primaryKey())
      .addColumn('grant_id', 'text', (c) => c.notNull())
      .addColumn('client_id', 'text', (c) => c.notNull())
      .addColumn('redirect_uri', 'text', (c) => c.notNull())
      .addColumn('code_challenge', 'text', (c) => c.notNull())
      .addColumn('resource', 'text')
      .addColumn('scope', 'text', (c) => c.notNull())
      .addColumn('identity_kind', 'text', (c) => c.notNull())
      .addColumn('virtual_key_id', 'text')
      .addColumn('user_id', 'text')
      .addColumn('used_at', 'text')
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute()
    await db.schema
      .createTable('oauth_server_tokens')
      .addColumn('token_hash', 'text', (c) => c.primaryKey())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('grant_id', 'text', (c) => c.notNull())
      .addColumn('client_id', 'text', (c) => c.notNull())
      .addColumn('resource', 'text')
      .addColumn('scope', 'text', (c) => c.notNull())
      .addColumn('identity_kind', 'text', (c) => c.notNull())
      .addColumn('virtual_key_id', 'text')
      .addColumn('user_id', 'text')
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute()
    await db.schema
      .createIndex('oauth_server_tokens_grant')
      .on('oauth_server_tokens')
      .column('grant_id')
      .execute()
  },

  async down(db: Kysely<unknown>): Promise<void> {
    for (const table of [
      'oauth_server_tokens',
      'oauth_server_codes',
      'oauth_server_flows',
      'oauth_server_clients',
    ])
      await db.schema.dropTable(table).execute()
  },
}
