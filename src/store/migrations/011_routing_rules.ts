import { PostgresAdapter, sql, type Kysely, type Migration } from 'kysely'
import { CONFIG_VERSION_TABLE } from './009_config_version.js'

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
    if (db.getExecutor().adapter instanceof PostgresAdapter) {
      await sql
        .raw(
          `create constraint trigger heimdall_bump_config_version after insert or delete or update on routing_rules
            deferrable initially deferred for each row execute procedure heimdall_bump_config_version()`,
        )
        .execute(db)
    } else {
      const bump = `update ${CONFIG_VERSION_TABLE} set version = version + 1 where id = 1;`
      for (const op of ['insert', 'update', 'delete']) {
        await sql
          .raw(
            `create trigger heimdall_bump_config_version_routing_rules_${op} after ${op} on routing_rules begin ${bump} end`,
          )
          .execute(db)
      }
    }
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('routing_rules').execute()
  },
}
