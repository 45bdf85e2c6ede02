import type { Kysely, Migration } from 'kysely'
import { configRowStamps } from './shared-ddl.js'

/** Providers, their keys (one row each, in order) and a small key-value table for settings. */
export const providersMigration: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('providers')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('network_config', 'text', (c) => c.notNull())
      .addColumn('concurrency_and_buffer_size', 'text', (c) => c.notNull())
      .addColumn('proxy_config', 'text')
      .addColumn('custom_provider_config', 'text')
      .addColumn('send_back_raw_request', 'integer')
      .addColumn('send_back_raw_response', 'integer')
      .addColumn('store_raw_request_response', 'integer')
      .$call(configRowStamps)
      .execute()

    await db.schema
      .createTable('provider_keys')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('provider', 'text', (c) => c.notNull().references('providers.name').onDelete('cascade'))
      .addColumn('position', 'integer', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('value', 'text', (c) => c.notNull())
      .addColumn('models', 'text', (c) => c.notNull())
      .addColumn('blacklisted_models', 'text', (c) => c.notNull())
      .addColumn('weight', 'double precision', (c) => c.notNull())
      .addColumn('enabled', 'integer', (c) => c.notNull())
      .addColumn('use_for_batch_api', 'integer')
      .addColumn('aliases', 'text')
      .addColumn('key_configs', 'text')
      .addColumn('description', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute()
    await db.schema
      .createIndex('provider_keys_provider_idx')
      .on('provider_keys')
      .columns(['provider', 'position'])
      .execute()

    await db.schema
      .createTable('kv')
      .addColumn('key', 'text', (c) => c.primaryKey())
      .addColumn('value', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute()
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('kv').execute()
    await db.schema.dropTable('provider_keys').execute()
    await db.schema.dropTable('providers').execute()
  },
}
