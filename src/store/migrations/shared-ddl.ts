import { PostgresAdapter, type ColumnDefinitionBuilder, type CreateTableBuilder, type Kysely } from 'kysely'

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
