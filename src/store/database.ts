import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import SqliteDatabase from 'better-sqlite3'
import {
  Kysely,
  Migrator,
  PostgresDialect,
  SqliteDialect,
  sql,
  type Migration,
  type PostgresPool,
  type PostgresPoolClient,
} from 'kysely'
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
  /** PostgreSQL: the statement timeout when the spec sets none (query_timeout_ms); default 5000. */
  defaultQueryTimeoutMs?: number
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
  const config = postgresPoolConfig(spec.config, opts.defaultQueryTimeoutMs)
  const location = `${config.host ?? process.env.PGHOST ?? 'localhost'}:${config.port ?? 5432}/${config.database ?? config.user ?? ''}`
  const pool = new pg.Pool(config)
  pool.on('error', (err) => opts.onPoolError?.(err))
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool: reportingUnreachable(pool, location) }) })
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

// SQLSTATEs that mean the server, not the statement, is at fault: connection exceptions (08),
// too many connections, a statement cancelled by statement_timeout, and shutdowns.
const UNREACHABLE_STATES = /^(08|53300|57014|57P0[1-3])/

/** Whether a pg error says the store cannot be reached (or did not answer in time). */
function isUnreachable(err: unknown): boolean {
  const code = (err as { code?: unknown }).code
  // A pg DatabaseError carries a SQLSTATE; a connection's own failures (timeouts, resets) carry none or an errno.
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return UNREACHABLE_STATES.test(code)
  // A value pg cannot serialise is the caller's mistake, not the connection's.
  return !(err instanceof TypeError || err instanceof RangeError)
}

/**
 * The pool as Kysely sees it, with failures to reach PostgreSQL turned into `store_unavailable`
 * (a 503 naming the store), and a connection that failed that way destroyed rather than reused:
 * after a client-side query timeout it still waits for an answer that may never come.
 */
function reportingUnreachable(pool: pg.Pool, location: string): PostgresPool {
  const unavailable = (err: unknown) =>
    new GatewayError(
      'store_unavailable',
      `the PostgreSQL store at ${location} is unavailable: ${errorText(err)}`,
      { cause: err },
    )
  return {
    async connect(): Promise<PostgresPoolClient> {
      let client: pg.PoolClient
      try {
        client = await pool.connect()
      } catch (err) {
        throw unavailable(err)
      }
      let broken: Error | undefined
      // The pool listens for errors of idle connections only; one lost while checked out between
      // two statements would otherwise be an unhandled 'error' event, which ends the process.
      const onError = (err: Error) => (broken ??= err)
      client.on('error', onError)
      const run = client.query.bind(client) as (...a: unknown[]) => unknown
      const query = (...args: unknown[]) => {
        // A cursor (Kysely's streamed queries) is handed back as it is, not as a promise.
        if (typeof (args[0] as { submit?: unknown }).submit === 'function') return run(...args)
        return failingUnavailable(run(...args) as Promise<unknown>)
      }
      const failingUnavailable = async (pending: Promise<unknown>) => {
        try {
          return await pending
        } catch (err) {
          if (!isUnreachable(err)) throw err
          if ((err as { code?: unknown }).code !== '57014') broken ??= err as Error
          throw unavailable(err)
        }
      }
      return {
        query: query as PostgresPoolClient['query'],
        release: (destroy?: boolean) => {
          client.removeListener('error', onError)
          client.release(broken ?? destroy === true)
        },
      }
    },
    end: () => pool.end(),
  }
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
