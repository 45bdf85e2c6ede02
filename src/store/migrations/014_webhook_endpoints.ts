import type { Kysely, Migration } from 'kysely'

/**
 * Webhook endpoints registered through the API (/api/webhooks), after Bifrost's: a unique name,
 * a URL, the events it takes, its signing secret (sealed like provider keys), and its delivery
 * record. Deliveries get a claim (`claimed_until`), so that a retry persisted by one node is
 * attempted by exactly one node, after a restart too. Row types: src/webhooks/.
 */
export const webhookEndpointsMigration: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('webhook_endpoints')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .addColumn('url', 'text', (c) => c.notNull())
      /** JSON array of event names. */
      .addColumn('events', 'text', (c) => c.notNull())
      .addColumn('secret', 'text', (c) => c.notNull())
      .addColumn('allow_private_network', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('consecutive_failures', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('last_success_at', 'text')
      .addColumn('last_failure_at', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute()
    await db.schema.alterTable('webhook_deliveries').addColumn('claimed_until', 'text').execute()
    await db.schema
      .createIndex('webhook_deliveries_due')
      .on('webhook_deliveries')
      .columns(['status', 'next_attempt_at'])
      .execute()
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropIndex('webhook_deliveries_due').execute()
    await db.schema.alterTable('webhook_deliveries').dropColumn('claimed_until').execute()
    await db.schema.dropTable('webhook_endpoints').execute()
  },
}
