import type { Kysely, Migration } from 'kysely'
import { bumpConfigVersionOnChange } from './shared-ddl.js'

/**
 * Routing rules (CEL expressions choosing a provider, model and key). Every node holds them in
 * memory, so a change bumps the config version as the governance tables do (009_config_version).
 */
export const routingRulesMigration: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('routing_rules')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('scope', 'text', (c) => c.notNull())
      .addColumn('scope_id', 'text')
      .addColumn('priority', 'integer', (c) => c.notNull())
      .addColumn('enabled', 'integer', (c) => c.notNull())
      /** JSON: the whole rule as the API shows it. */
      .addColumn('rule', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute()
    await bumpConfigVersionOnChange(db, 'routing_rules', POSTGRES_TRIGGER)
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('routing_rules').execute()
  },
}

// The PostgreSQL trigger as this migration shipped it (its SQL must not change).
const POSTGRES_TRIGGER = `create constraint trigger heimdall_bump_config_version after insert or delete or update on routing_rules
            deferrable initially deferred for each row execute procedure heimdall_bump_config_version()`
