import type { Kysely, Migration } from 'kysely'

/** A virtual key may switch off content logging for its own requests (`disable_content_logging`). */
export const vkContentLoggingMigration: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .alterTable('gov_virtual_keys')
      .addColumn('disable_content_logging', 'integer', (c) => c.notNull().defaultTo(0))
      .execute()
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('gov_virtual_keys').dropColumn('disable_content_logging').execute()
  },
}
