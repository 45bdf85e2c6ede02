import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import SqliteDatabase from 'better-sqlite3'
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql, type Migration } from 'kysely'
import pg from 'pg'
import { GatewayError } from '../core/errors.js'
import { postgresPoolConfig, sqliteFilePath, type StoreKind, type StoreSpec } from './spec.js'

export interface ConnectOptions {
  appDir: string
  /** The SQLite file name used when the spec gives no path, e.g. `config.db` or `logs.db`. */
  defaultFile: string
  /** Errors of idle PostgreSQL connections, which would otherwise crash the process. */
  onPoolError?: (err: Error) => void
  /** SQLite: the page size of a database file made now (an existing file keeps its own). */
  pageSize?: number
}

export interface Connection<DB> {
  db: Kysely<DB>
  kind: StoreKind
  /** Where the database is, for messages: a file path or host:port/db, never a password. */
  location: string
  /** SQLite's own handle, for hot paths where a prepared statement beats building a query. */
  sqlite?: SqliteDatabase.Database
}

/** Opens a Kysely database for a store spec and checks that it answers. */
export async function connectDatabase<DB>(spec: StoreSpec, opts: ConnectOptions): Promise<Connection<DB>> {
  if (spec.type === 'sqlite')
    return connectSqlite<DB>(sqliteFilePath(spec.config, opts.appDir, opts.defaultFile), opts.pageSize)
  if (spec.type === 'postgres') return connectPostgres<DB>(spec, opts)
  throw new GatewayError(
    'invalid_request',
    `unknown store type "${String((spec as { type: unknown }).type)}"`,
  )
}

const SQLITE_BUSY_TIMEOUT_MS = 5000

function connectSqlite<DB>(path: string, pageSize?: number): Connection<DB> {
  let database: SqliteDatabase.Database
  try {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
    database = new SqliteDatabase(path)
    // Only takes effect on a new file, before WAL mode and the first table.
    if (pageSize !== undefined) database.pragma(`page_size = ${pageSize}`)
    // WAL lets readers run beside the one writer; busy_timeout waits for a lock instead of failing.
    database.pragma('journal_mode = WAL')
    database.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`)
    database.pragma('synchronous = NORMAL')
    database.pragma('foreign_keys = ON')
  } catch (err) {
    throw new GatewayError(
      'store_unavailable',
      `cannot open the SQLite store at ${path}: ${errorText(err)}`,
      { cause: err },
    )
  }
  return {
    db: new Kysely<DB>({ dialect: new SqliteDialect({ database }) }),
    kind: 'sqlite',
    location: path,
    sqlite: database,
  }
}

async function connectPostgres<DB>(
  spec: Extract<StoreSpec, { type: 'postgres' }>,
  opts: ConnectOptions,
): Promise<Connection<DB>> {
  const config = postgresPoolConfig(spec.config)
  const location = `${config.host ?? process.env.PGHOST ?? 'localhost'}:${config.port ?? 5432}/${config.database ?? config.user ?? ''}`
  const pool = new pg.Pool(config)
  pool.on('error', (err) => opts.onPoolError?.(err))
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) })
  try {
    await sql`select 1`.execute(db)
  } catch (err) {
    await db.destroy().catch(() => undefined)
    throw new GatewayError(
      'store_unavailable',
      `cannot connect to the PostgreSQL store at ${location}: ${errorText(err)}`,
      { cause: err },
    )
  }
  return { db, kind: 'postgres', location }
}

export interface MigrateOptions {
  kind: StoreKind
  /** The table that records applied migrations; one per set of migrations. */
  tableName: string
}

async function currentSchema<DB>(db: Kysely<DB>): Promise<string> {
  const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db)
  const schema = rows[0]?.schema
  if (schema === null || schema === undefined) {
    throw new GatewayError('store_unavailable', 'the PostgreSQL search_path names no existing schema')
  }
  return schema
}

/** Applies the migrations not yet applied, in name order; returns the names it applied. */
export async function migrateDatabase<DB>(
  db: Kysely<DB>,
  migrations: Readonly<Record<string, Migration>>,
  opts: MigrateOptions,
): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: () => Promise.resolve({ ...migrations }) },
    migrationTableName: opts.tableName,
    migrationLockTableName: `${opts.tableName}_lock`,
    // Kysely looks for its tables in every schema unless told one; name the schema that
    // unqualified tables go to, so a database shared by several schemas works.
    ...(opts.kind === 'postgres' && { migrationTableSchema: await currentSchema(db) }),
  })
  const { error, results = [] } = await migrator.migrateToLatest()
  if (error !== undefined) {
    const failed = results.find((r) => r.status === 'Error')?.migrationName
    const which = failed === undefined ? 'store migration' : `store migration ${failed}`
    throw new GatewayError('store_unavailable', `${which} failed: ${errorText(error)}`, { cause: error })
  }
  return results.filter((r) => r.status === 'Success').map((r) => r.migrationName)
}

export function errorText(err: unknown): string {
  // A refused connection to a name with several addresses is an AggregateError with no message.
  if (err instanceof AggregateError && err.message === '' && err.errors.length > 0)
    return errorText(err.errors[0])
  if (err instanceof Error) return err.message || ((err as NodeJS.ErrnoException).code ?? err.name)
  return String(err)
}
