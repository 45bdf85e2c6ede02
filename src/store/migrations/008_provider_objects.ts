import type { Kysely, Migration } from 'kysely'

/**
 * Who created each file and batch on a provider (Bifrost's `provider_objects`): objects are made
 * with the operator's provider key, which every virtual key allowed on the provider shares, and are
 * later addressed by their provider-side id alone; this row binds one to its creator.
 */
export const providerObjectsMigration: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('provider_objects')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('provider', 'text', (c) => c.notNull())
      .addColumn('object_id', 'text', (c) => c.notNull())
      .addColumn('virtual_key_id', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute()
    await db.schema
      .createIndex('provider_objects_virtual_key_id_idx')
      .on('provider_objects')
      .column('virtual_key_id')
      .execute()
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('provider_objects').execute()
  },
}
