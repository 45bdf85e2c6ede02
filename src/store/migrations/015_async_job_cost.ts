import type { Kysely, Migration } from 'kysely'

/** What an async job cost (the synchronous route's x-bifrost-cost-usd when it ran), for the jobs list. */
export const asyncJobCostMigration: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('async_jobs').addColumn('cost', 'double precision').execute()
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('async_jobs').dropColumn('cost').execute()
  },
}
