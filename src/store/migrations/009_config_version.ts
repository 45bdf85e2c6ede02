import { PostgresAdapter, sql, type Kysely, type Migration } from 'kysely'

/**
 * A change counter for the configuration that nodes hold in memory: one row of
 * `heimdall_config_version`, bumped by triggers in the transaction of every change to those
 * tables, so that a node which missed a change event finds out by reading one number
 * (src/store/config-reloads.ts). Usage columns that the write-back updates all the time
 * (current_usage, last_reset ...) do not count as changes.
 *
 * A table or column added later that nodes hold in memory belongs in CONFIG_TABLES.
 */
export const CONFIG_VERSION_TABLE = 'heimdall_config_version'

/** Tables whose changes count, with the columns whose updates count (undefined: all of them). */
const CONFIG_TABLES: Readonly<Record<string, readonly string[] | undefined>> = {
  providers: undefined,
  provider_keys: undefined,
  kv: undefined,
  mcp_clients: undefined,
  gov_customers: undefined,
  gov_teams: undefined,
  gov_virtual_keys: undefined,
  gov_vk_provider_configs: undefined,
  gov_budgets: [
    'virtual_key_id',
    'provider_config_id',
    'team_id',
    'customer_id',
    'max_limit',
    'reset_duration',
    'calendar_aligned',
  ],
  gov_rate_limits: [
    'virtual_key_id',
    'provider_config_id',
    'team_id',
    'customer_id',
    'token_max_limit',
    'token_reset_duration',
    'request_max_limit',
    'request_reset_duration',
  ],
}

const BUMP_FUNCTION = 'heimdall_bump_config_version'

export const configVersionMigration: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    const postgres = db.getExecutor().adapter instanceof PostgresAdapter
    await db.schema
      .createTable(CONFIG_VERSION_TABLE)
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('version', 'bigint', (c) => c.notNull())
      // PostgreSQL: the transaction that bumped last, so that a transaction bumps once.
      .addColumn('txid', 'bigint')
      .execute()
    await sql`insert into ${sql.table(CONFIG_VERSION_TABLE)} (id, version) values (1, 0)`.execute(db)
    if (postgres) await postgresTriggers(db)
    else await sqliteTriggers(db)
  },

  async down(db: Kysely<unknown>): Promise<void> {
    const postgres = db.getExecutor().adapter instanceof PostgresAdapter
    for (const table of Object.keys(CONFIG_TABLES)) {
      if (postgres)
        await sql`drop trigger if exists ${sql.id(BUMP_FUNCTION)} on ${sql.table(table)}`.execute(db)
      else
        for (const op of ['insert', 'update', 'delete'])
          await sql`drop trigger if exists ${sql.id(`${BUMP_FUNCTION}_${table}_${op}`)}`.execute(db)
    }
    if (postgres) await sql`drop function if exists ${sql.id(BUMP_FUNCTION)}()`.execute(db)
    await db.schema.dropTable(CONFIG_VERSION_TABLE).execute()
  },
}

/**
 * Deferred constraint triggers: the bump runs at commit, after every statement of the
 * transaction, so holding the counter row's lock never waits on another lock (no deadlock
 * between two changes), and the new number becomes visible with the data it counts.
 */
async function postgresTriggers(db: Kysely<unknown>): Promise<void> {
  await sql
    .raw(
      `create or replace function ${BUMP_FUNCTION}() returns trigger language plpgsql as $$
begin
  update ${CONFIG_VERSION_TABLE} set version = version + 1, txid = txid_current()
    where id = 1 and txid is distinct from txid_current();
  return null;
end $$`,
    )
    .execute(db)
  for (const [table, columns] of Object.entries(CONFIG_TABLES)) {
    const update = columns === undefined ? 'update' : `update of ${columns.join(', ')}`
    await sql
      .raw(
        `create constraint trigger ${BUMP_FUNCTION} after insert or delete or ${update} on ${table}
          deferrable initially deferred for each row execute procedure ${BUMP_FUNCTION}()`,
      )
      .execute(db)
  }
}

async function sqliteTriggers(db: Kysely<unknown>): Promise<void> {
  const bump = `update ${CONFIG_VERSION_TABLE} set version = version + 1 where id = 1;`
  for (const [table, columns] of Object.entries(CONFIG_TABLES)) {
    const ops = {
      insert: 'insert',
      delete: 'delete',
      update: columns ? `update of ${columns.join(', ')}` : 'update',
    }
    for (const [name, event] of Object.entries(ops)) {
      await sql
        .raw(`create trigger ${BUMP_FUNCTION}_${table}_${name} after ${event} on ${table} begin ${bump} end`)
        .execute(db)
    }
  }
}
