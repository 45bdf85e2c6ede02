import { PostgresAdapter, sql, type Kysely, type Migration } from 'kysely'
import { CONFIG_VERSION_TABLE } from './009_config_version.js'

/**
 * Bifrost's budget overrides (`PUT /api/governance/virtual-keys/{vk_id}/budgets/{budget_id}/override`):
 * an amount added to a budget's max_limit for a number of reset windows (`cycles`) or until removed
 * (`forever`). Nodes hold budgets in memory, so a change to these columns bumps the config version
 * as a max_limit change does (009_config_version). Row type: src/store/tables.ts.
 */
const COLUMNS = [
  'override_amount',
  'override_mode',
  'override_cycles_total',
  'override_anchor_reset',
  'override_expires_at',
] as const

const TRIGGER = 'heimdall_bump_config_version_budget_override'

export const budgetOverridesMigration: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .alterTable('gov_budgets')
      .addColumn('override_amount', 'double precision', (c) => c.notNull().defaultTo(0))
      .execute()
    await db.schema.alterTable('gov_budgets').addColumn('override_mode', 'text').execute()
    await db.schema
      .alterTable('gov_budgets')
      .addColumn('override_cycles_total', 'integer', (c) => c.notNull().defaultTo(0))
      .execute()
    // The start of the window the grant was made in, and the end of its last granted window.
    await db.schema.alterTable('gov_budgets').addColumn('override_anchor_reset', 'text').execute()
    await db.schema.alterTable('gov_budgets').addColumn('override_expires_at', 'text').execute()

    const columns = COLUMNS.join(', ')
    if (db.getExecutor().adapter instanceof PostgresAdapter) {
      await sql
        .raw(
          `create constraint trigger ${TRIGGER} after update of ${columns} on gov_budgets
            deferrable initially deferred for each row execute procedure heimdall_bump_config_version()`,
        )
        .execute(db)
    } else {
      await sql
        .raw(
          `create trigger ${TRIGGER} after update of ${columns} on gov_budgets
            begin update ${CONFIG_VERSION_TABLE} set version = version + 1 where id = 1; end`,
        )
        .execute(db)
    }
  },

  async down(db: Kysely<unknown>): Promise<void> {
    if (db.getExecutor().adapter instanceof PostgresAdapter)
      await sql.raw(`drop trigger if exists ${TRIGGER} on gov_budgets`).execute(db)
    else await sql.raw(`drop trigger if exists ${TRIGGER}`).execute(db)
    for (const column of COLUMNS) await db.schema.alterTable('gov_budgets').dropColumn(column).execute()
  },
}
