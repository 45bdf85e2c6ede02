import type { Kysely, Migration } from 'kysely'
import { bumpConfigVersionOnChange, configRowStamps } from './shared-ddl.js'

/**
 * Budgets and rate limits per model (Bifrost's model configs: global, per virtual key, per user)
 * and per provider (provider governance), and the grace period of a rotated virtual key's old
 * value. Model configs and governed providers own budgets and rate limits through two more owner
 * columns of gov_budgets and gov_rate_limits (002_governance). Every node holds them in memory, so
 * a change bumps the config version (009_config_version). Row types: src/store/tables.ts.
 */
export const modelLimitsMigration: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('gov_model_configs')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('model_name', 'text', (c) => c.notNull())
      .addColumn('provider', 'text')
      .addColumn('scope', 'text', (c) => c.notNull())
      .addColumn('scope_id', 'text')
      .addColumn('calendar_aligned', 'integer', (c) => c.notNull())
      .$call(configRowStamps)
      .execute()
    await db.schema
      .createIndex('gov_model_configs_scope_idx')
      .on('gov_model_configs')
      .columns(['scope', 'scope_id'])
      .execute()

    await db.schema
      .createTable('gov_provider_governance')
      .addColumn('provider', 'text', (c) => c.primaryKey())
      .addColumn('calendar_aligned', 'integer', (c) => c.notNull())
      .$call(configRowStamps)
      .execute()

    for (const table of ['gov_budgets', 'gov_rate_limits']) {
      for (const column of ['model_config_id', 'provider_name']) {
        await db.schema.alterTable(table).addColumn(column, 'text').execute()
        await db.schema.createIndex(`${table}_${column}_idx`).on(table).column(column).execute()
      }
    }

    // A rotated key's old value keeps working until previous_value_expires_at (client.vk_rotation_cooldown).
    for (const column of ['previous_value_hash', 'previous_value_expires_at', 'rotated_at']) {
      await db.schema.alterTable('gov_virtual_keys').addColumn(column, 'text').execute()
    }
    await db.schema
      .createIndex('gov_virtual_keys_previous_value_hash_idx')
      .on('gov_virtual_keys')
      .column('previous_value_hash')
      .execute()

    for (const table of ['gov_model_configs', 'gov_provider_governance']) {
      await bumpConfigVersionOnChange(db, table, postgresTrigger(table))
    }
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropIndex('gov_virtual_keys_previous_value_hash_idx').execute()
    for (const column of ['previous_value_hash', 'previous_value_expires_at', 'rotated_at']) {
      await db.schema.alterTable('gov_virtual_keys').dropColumn(column).execute()
    }
    for (const table of ['gov_budgets', 'gov_rate_limits']) {
      for (const column of ['model_config_id', 'provider_name']) {
        await db.schema.dropIndex(`${table}_${column}_idx`).execute()
        await db.schema.alterTable(table).dropColumn(column).execute()
      }
    }
    await db.schema.dropTable('gov_provider_governance').execute()
    await db.schema.dropTable('gov_model_configs').execute()
  },
}

// The PostgreSQL trigger as this migration shipped it (its SQL must not change).
const postgresTrigger = (table: string) =>
  `create constraint trigger heimdall_bump_config_version after insert or delete or update on ${table}
              deferrable initially deferred for each row execute procedure heimdall_bump_config_version()`
