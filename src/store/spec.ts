import { isAbsolute, resolve } from 'node:path'
import { Type, type Static } from '@sinclair/typebox'
import type { PoolConfig } from 'pg'
import { resolveSecret } from '../core/config.js'
import { GatewayError } from '../core/errors.js'

/**
 * A store as config.json describes it (`config_store`, `logs_store`), in Bifrost's format:
 * `{ enabled, type: "sqlite" | "postgres", config }`. String fields of the postgres config may be
 * `env.VAR` references; they are resolved when the store is opened.
 */
export const StoreSpecSchema = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean()),
    type: Type.Union([Type.Literal('sqlite'), Type.Literal('postgres')]),
    config: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: true },
)

export interface SqliteStoreConfig {
  /** The database file; relative paths are taken from the app directory. `:memory:` is allowed. */
  path?: string
}

export interface PostgresStoreConfig {
  /** A `postgres://user:password@host:port/db?sslmode=...` URL; the separate fields override its parts. */
  connection_string?: string
  host?: string
  port?: number | string
  user?: string
  password?: string
  db_name?: string
  /** disable | allow | prefer | require | verify-ca | verify-full */
  ssl_mode?: string
  /** Pool size (Bifrost's name for it); default 10. */
  max_open_conns?: number
  /** Heimdall's: how long opening a connection, or waiting for a free one, may take; default 5000. */
  connect_timeout_ms?: number
  /** Heimdall's: how long one statement may take (server- and client-side); default 5000 (log store: 30000). */
  query_timeout_ms?: number
  /** Heimdall's: how often a node checks the store's change counter for changes it missed; default 2000, 0 never. */
  reconcile_interval_ms?: number
}

export type StoreSpec =
  | { enabled?: boolean; type: 'sqlite'; config?: SqliteStoreConfig }
  | { enabled?: boolean; type: 'postgres'; config?: PostgresStoreConfig }

export type StoreKind = StoreSpec['type']

/** Bifrost's default: an SQLite file in the app directory. */
export const DEFAULT_STORE_SPEC: StoreSpec = { type: 'sqlite', config: {} }

/** A spec with no `enabled` field is enabled; `enabled: false` means the gateway runs file-only. */
export function isStoreEnabled(spec: StoreSpec | undefined): boolean {
  return spec?.enabled !== false
}

export function sqliteFilePath(
  config: SqliteStoreConfig | undefined,
  appDir: string,
  defaultFile: string,
): string {
  const path = config?.path?.trim() || defaultFile
  if (path === ':memory:' || isAbsolute(path)) return path
  return resolve(appDir, path)
}

const DEFAULT_POOL_SIZE = 10
export const DEFAULT_STORE_TIMEOUT_MS = 5000
export const DEFAULT_RECONCILE_INTERVAL_MS = 2000

/** A whole number of milliseconds from the store config (0 only where allowed), else the default. */
export function storeMillis(value: unknown, field: string, fallback: number, allowZero = false): number {
  if (value === undefined || value === null || value === '') return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0 || (n === 0 && !allowZero)) {
    throw new GatewayError(
      'invalid_request',
      `store config: ${field} must be a whole number of milliseconds`,
      {
        param: field,
      },
    )
  }
  return n
}

/** How often a node reads the change counter of a PostgreSQL store (0: never); SQLite has no other writer. */
export function reconcileIntervalMs(spec: StoreSpec): number {
  if (spec.type !== 'postgres') return 0
  const value = spec.config?.reconcile_interval_ms
  return storeMillis(value, 'reconcile_interval_ms', DEFAULT_RECONCILE_INTERVAL_MS, true)
}

export function postgresPoolConfig(
  config: PostgresStoreConfig | undefined,
  defaultQueryTimeoutMs = DEFAULT_STORE_TIMEOUT_MS,
): PoolConfig {
  const c = config ?? {}
  const text = (v: string | undefined): string | undefined =>
    v === undefined || v === '' ? undefined : resolveSecret(v)
  // The URL is parsed here rather than handed to pg, because pg lets the URL override the fields.
  const url = text(c.connection_string)
  const fromUrl = url === undefined ? {} : parsePostgresUrl(url)
  const connectTimeout = storeMillis(c.connect_timeout_ms, 'connect_timeout_ms', DEFAULT_STORE_TIMEOUT_MS)
  const queryTimeout = storeMillis(c.query_timeout_ms, 'query_timeout_ms', defaultQueryTimeoutMs)
  // A dropped network sends no reset: without these bounds a query, a connect or a wait for a
  // pooled connection would hang until the kernel gives up, minutes later.
  const pool: PoolConfig = {
    max: c.max_open_conns ?? DEFAULT_POOL_SIZE,
    connectionTimeoutMillis: connectTimeout,
    statement_timeout: queryTimeout,
    query_timeout: queryTimeout,
    keepAlive: true,
  }
  // Without a host pg falls back to PGHOST, then localhost.
  const host = text(c.host) ?? fromUrl.host
  if (host !== undefined) pool.host = host
  const port = (typeof c.port === 'string' ? text(c.port) : c.port) ?? fromUrl.port
  if (port !== undefined) {
    const n = Number(port)
    if (!Number.isInteger(n) || n <= 0) {
      throw new GatewayError('invalid_request', `store config: invalid postgres port "${String(port)}"`)
    }
    pool.port = n
  }
  const user = text(c.user) ?? fromUrl.user
  if (user !== undefined) pool.user = user
  const password = text(c.password) ?? fromUrl.password
  if (password !== undefined) pool.password = password
  const database = text(c.db_name) ?? fromUrl.database
  if (database !== undefined) pool.database = database
  if (fromUrl.options !== undefined) pool.options = fromUrl.options
  const sslMode = text(c.ssl_mode) ?? fromUrl.sslMode
  if (sslMode !== undefined) pool.ssl = sslOption(sslMode)
  return pool
}

interface PostgresUrlParts {
  host?: string
  port?: string
  user?: string
  password?: string
  database?: string
  sslMode?: string
  options?: string
}

function parsePostgresUrl(raw: string): PostgresUrlParts {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new GatewayError('invalid_request', 'store config: connection_string is not a valid URL')
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new GatewayError('invalid_request', 'store config: connection_string must start with postgres://')
  }
  const parts: PostgresUrlParts = {}
  const q = url.searchParams
  // `?host=/var/run/postgresql` selects a unix socket directory, as libpq allows.
  const host = q.get('host') ?? decodeURIComponent(url.hostname)
  if (host !== '') parts.host = host
  if (url.port !== '') parts.port = url.port
  if (url.username !== '') parts.user = decodeURIComponent(url.username)
  if (url.password !== '') parts.password = decodeURIComponent(url.password)
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''))
  if (database !== '') parts.database = database
  const sslMode = q.get('sslmode')
  if (sslMode !== null) parts.sslMode = sslMode
  const options = q.get('options')
  if (options !== null) parts.options = options
  return parts
}

function sslOption(mode: string): PoolConfig['ssl'] {
  switch (mode) {
    case 'disable':
    case 'allow':
    case 'prefer':
      // node-postgres cannot fall back from TLS to plain text, so "try TLS first" means plain text.
      return false
    case 'require':
      return { rejectUnauthorized: false }
    case 'verify-ca':
      return { rejectUnauthorized: true, checkServerIdentity: () => undefined }
    case 'verify-full':
      return { rejectUnauthorized: true }
    default:
      throw new GatewayError('invalid_request', `store config: unknown ssl_mode "${mode}"`, {
        param: 'ssl_mode',
      })
  }
}

export type StoreSpecInput = Static<typeof StoreSpecSchema>
