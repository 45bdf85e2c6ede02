import {
  PostgresAdapter,
  sql,
  type ColumnDefinitionBuilder,
  type CreateTableBuilder,
  type Kysely,
} from 'kysely'
import { CONFIG_VERSION_TABLE } from './009_config_version.js'

// DDL that several migrations write. Shipped migrations run it: a change here changes their SQL, so
// never edit a helper; add another.

/** Integer ids that the database hands out: `serial` on PostgreSQL, rowid aliases on SQLite. */
export function serialIds(db: Kysely<unknown>) {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter
  return {
    serialType: postgres ? ('serial' as const) : ('integer' as const),
    serial: (c: ColumnDefinitionBuilder) => (postgres ? c.primaryKey() : c.primaryKey().autoIncrement()),
  }
}

/** The last columns of a configuration row: its config.json hash, when it was made and last changed. */
export function configRowStamps<TB extends string, C extends string>(t: CreateTableBuilder<TB, C>) {
  return t
    .addColumn('config_hash', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
}

/**
 * Triggers that bump the config version (009_config_version) on every change to `table`: on
 * PostgreSQL the deferred constraint trigger that `postgres` creates (each migration's own text, as
 * it shipped), on SQLite one trigger per operation.
 */
export async function bumpConfigVersionOnChange(
  db: Kysely<unknown>,
  table: string,
  postgres: string,
): Promise<void> {
  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    await sql.raw(postgres).execute(db)
    return
  }
  const bump = `update ${CONFIG_VERSION_TABLE} set version = version + 1 where id = 1;`
  for (const op of ['insert', 'update', 'delete']) {
    await sql
      .raw(
        `create trigger heimdall_bump_config_version_${table}_${op} after ${op} on ${table} begin ${bump} end`,
      )
      .execute(db)
  }
}
