import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll } from 'vitest'
import type { StoreSpec } from '../../src/store/index.js'

/**
 * Config stores for tests to run against: SQLite files in a temp dir, and PostgreSQL (on
 * DATABASE_URL) as one database per run, created with `pg` and dropped at teardown, with one schema
 * per test inside it, selected through the URL's `options=-c search_path=...`.
 *
 * Nothing connects until a test asks for a store: set-up happens inside the tests, never in a
 * beforeAll hook (whose failure vitest reports as skipped tests), so that an unreachable PostgreSQL
 * FAILS every PostgreSQL test instead of skipping it.
 */

/** The PostgreSQL server the tests use; the database in its path is only used to create and drop others. */
export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

export interface SqliteBackend {
  kind: 'sqlite'
  /** A spec for a new, empty store: a file of its own in this backend's temp dir. */
  fresh(): Promise<StoreSpec>
  teardown(): Promise<void>
}

export interface PostgresBackend {
  kind: 'postgres'
  /** A spec for a new, empty store: a schema of its own in the run's database. */
  fresh(): Promise<StoreSpec>
  /** The connection string of a new, empty schema, for a whole `config_store` section. */
  freshUrl(): Promise<string>
  /** Creates the run's database, once; later calls wait for (or repeat the failure of) the first. */
  ready(): Promise<void>
  /** Drops the run's database, if it was created. */
  teardown(): Promise<void>
  /** The name of the run's database. */
  database: string
}

export type Backend = SqliteBackend | PostgresBackend

// ---- temp dirs, removed when the test file is done ----

const tempDirs: string[] = []
afterAll(() => {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

/** A new temp dir, `heimdall-<label>-XXXXXX`, removed after the test file's last test. */
export function tempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `heimdall-${label}-`))
  tempDirs.push(dir)
  return dir
}

// ---- backends ----

/** SQLite files `<label>-<n>.db` in a temp dir of this backend's own. */
export function sqliteBackend(label: string): SqliteBackend {
  const dir = tempDir(label)
  let n = 0
  return {
    kind: 'sqlite',
    fresh: async () => ({ type: 'sqlite', config: { path: join(dir, `${label}-${++n}.db`) } }),
    teardown: async () => undefined,
  }
}

/** Runs `f` on a new client connected to `url`, and closes it. */
export async function withPgClient<T>(url: string, f: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await f(client)
  } finally {
    await client.end()
  }
}

/** One database, `heimdall_<label>_<pid>_<random>`, for the run; one schema per `fresh()` inside it. */
export function postgresBackend(label: string): PostgresBackend {
  const database = `heimdall_${label.replace(/\W/g, '_')}_${process.pid}_${randomBytes(4).toString('hex')}`
  const runUrl = new URL(DATABASE_URL)
  runUrl.pathname = `/${database}`
  let n = 0
  let created: Promise<void> | undefined
  const ready = (): Promise<void> =>
    (created ??= withPgClient(DATABASE_URL, async (c) => {
      await c.query(`CREATE DATABASE "${database}"`)
    }))
  const freshUrl = async (): Promise<string> => {
    await ready()
    const schema = `t${++n}`
    await withPgClient(runUrl.toString(), (c) => c.query(`CREATE SCHEMA "${schema}"`))
    const url = new URL(runUrl)
    url.searchParams.set('options', `-c search_path=${schema}`)
    return url.toString()
  }
  return {
    kind: 'postgres',
    database,
    ready,
    freshUrl,
    fresh: async () => ({ type: 'postgres', config: { connection_string: await freshUrl() } }),
    teardown: async () => {
      const exists = await created?.then(
        () => true,
        () => false,
      )
      if (exists)
        await withPgClient(DATABASE_URL, (c) => c.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`))
    },
  }
}

/** Both stores, for `describe.each(backends('label'))('... on $kind', (backend) => ...)`. */
export function backends(label: string): [SqliteBackend, PostgresBackend] {
  return [sqliteBackend(label), postgresBackend(label)]
}
