import type { Kysely, Migration } from 'kysely'

/**
 * Entries of the semantic_cache plugin's response cache: in the config store so that they survive a
 * restart (SQLite) and every node reads what another wrote (PostgreSQL). The vector index of each
 * node is rebuilt from `embedding` at start and kept in step by change events.
 */
export const semanticCacheMigration: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('semantic_cache_entries')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('namespace', 'text', (c) => c.notNull())
      .addColumn('cache_key', 'text', (c) => c.notNull())
      .addColumn('scope', 'text', (c) => c.notNull())
      .addColumn('partition', 'text', (c) => c.notNull())
      .addColumn('provider', 'text', (c) => c.notNull())
      .addColumn('model', 'text', (c) => c.notNull())
      /** JSON: the unified chat completion served. */
      .addColumn('response', 'text', (c) => c.notNull())
      /** JSON array of numbers, or null for an exact-only entry. */
      .addColumn('embedding', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .execute()
    await db.schema
      .createIndex('semantic_cache_entries_cache_key_idx')
      .on('semantic_cache_entries')
      .column('cache_key')
      .execute()
    await db.schema
      .createIndex('semantic_cache_entries_expires_at_idx')
      .on('semantic_cache_entries')
      .column('expires_at')
      .execute()
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('semantic_cache_entries').execute()
  },
}
