import { type Kysely, type Migration } from 'kysely'
import { configRowStamps, serialIds } from './shared-ddl.js'

/**
 * Governance: customers, teams, virtual keys with their provider configs, and the budgets and rate
 * limits those own. A budget or rate limit belongs to exactly one owner, named by one of its owner
 * columns; deleting the owner deletes it. Row types: src/store/tables.ts.
 */
export const governanceMigration: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    const { serialType, serial } = serialIds(db)

    await db.schema
      .createTable('gov_customers')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('calendar_aligned', 'integer', (c) => c.notNull())
      .$call(configRowStamps)
      .execute()

    await db.schema
      .createTable('gov_teams')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('customer_id', 'text', (c) => c.references('gov_customers.id').onDelete('set null'))
      .addColumn('calendar_aligned', 'integer', (c) => c.notNull())
      .$call(configRowStamps)
      .execute()
    await db.schema.createIndex('gov_teams_customer_idx').on('gov_teams').column('customer_id').execute()

    await db.schema
      .createTable('gov_virtual_keys')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .addColumn('value_hash', 'text', (c) => c.notNull().unique())
      .addColumn('value_hint', 'text', (c) => c.notNull())
      .addColumn('description', 'text', (c) => c.notNull())
      .addColumn('is_active', 'integer', (c) => c.notNull())
      .addColumn('team_id', 'text', (c) => c.references('gov_teams.id').onDelete('set null'))
      .addColumn('customer_id', 'text', (c) => c.references('gov_customers.id').onDelete('set null'))
      .addColumn('calendar_aligned', 'integer', (c) => c.notNull())
      .addColumn('expires_at', 'text')
      .addColumn('user_id', 'text')
      .addColumn('access_profile_id', 'integer')
      .addColumn('created_by_user_id', 'text')
      .addColumn('mcp_configs', 'text', (c) => c.notNull())
      .$call(configRowStamps)
      .execute()
    for (const column of ['team_id', 'customer_id', 'user_id', 'access_profile_id']) {
      await db.schema
        .createIndex(`gov_virtual_keys_${column}_idx`)
        .on('gov_virtual_keys')
        .column(column)
        .execute()
    }

    await db.schema
      .createTable('gov_vk_provider_configs')
      .addColumn('id', serialType, serial)
      .addColumn('virtual_key_id', 'text', (c) =>
        c.notNull().references('gov_virtual_keys.id').onDelete('cascade'),
      )
      .addColumn('provider', 'text', (c) => c.notNull())
      .addColumn('weight', 'double precision')
      .addColumn('allowed_models', 'text', (c) => c.notNull())
      .addColumn('blacklisted_models', 'text', (c) => c.notNull())
      .addColumn('allow_all_keys', 'integer', (c) => c.notNull())
      .addColumn('key_ids', 'text', (c) => c.notNull())
      .addColumn('rate_limit_id', 'text')
      .addUniqueConstraint('gov_vk_provider_configs_provider_unique', ['virtual_key_id', 'provider'])
      .execute()

    // Owner columns shared by budgets and rate limits; exactly one is set per row.
    const owners = (table: 'gov_budgets' | 'gov_rate_limits') =>
      db.schema
        .createTable(table)
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('virtual_key_id', 'text', (c) => c.references('gov_virtual_keys.id').onDelete('cascade'))
        .addColumn('provider_config_id', 'integer', (c) =>
          c.references('gov_vk_provider_configs.id').onDelete('cascade'),
        )
        .addColumn('team_id', 'text', (c) => c.references('gov_teams.id').onDelete('cascade'))
        .addColumn('customer_id', 'text', (c) => c.references('gov_customers.id').onDelete('cascade'))

    await owners('gov_budgets')
      .addColumn('max_limit', 'double precision', (c) => c.notNull())
      .addColumn('reset_duration', 'text', (c) => c.notNull())
      .addColumn('calendar_aligned', 'integer', (c) => c.notNull())
      .addColumn('last_reset', 'text', (c) => c.notNull())
      .addColumn('current_usage', 'double precision', (c) => c.notNull())
      .$call(configRowStamps)
      .execute()

    // Counts are double precision too: exact up to 2^53, and a JS number on both dialects (bigint is not).
    await owners('gov_rate_limits')
      .addColumn('token_max_limit', 'double precision')
      .addColumn('token_reset_duration', 'text')
      .addColumn('token_current_usage', 'double precision', (c) => c.notNull())
      .addColumn('token_last_reset', 'text', (c) => c.notNull())
      .addColumn('request_max_limit', 'double precision')
      .addColumn('request_reset_duration', 'text')
      .addColumn('request_current_usage', 'double precision', (c) => c.notNull())
      .addColumn('request_last_reset', 'text', (c) => c.notNull())
      .$call(configRowStamps)
      .execute()

    for (const table of ['gov_budgets', 'gov_rate_limits']) {
      for (const column of ['virtual_key_id', 'provider_config_id', 'team_id', 'customer_id']) {
        await db.schema.createIndex(`${table}_${column}_idx`).on(table).column(column).execute()
      }
    }
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('gov_rate_limits').execute()
    await db.schema.dropTable('gov_budgets').execute()
    await db.schema.dropTable('gov_vk_provider_configs').execute()
    await db.schema.dropTable('gov_virtual_keys').execute()
    await db.schema.dropTable('gov_teams').execute()
    await db.schema.dropTable('gov_customers').execute()
  },
}
