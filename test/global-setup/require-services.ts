import { Redis } from 'ioredis'
import pg from 'pg'

/**
 * Vitest globalSetup: before any test runs, PostgreSQL (DATABASE_URL) and Redis (REDIS_URL) must
 * answer within 2 s; otherwise the run stops at once with one line per missing service saying how
 * to start it, instead of a wall of connection errors from every test that needs it.
 * HEIMDALL_SKIP_SERVICE_CHECK=1 skips the check (for running a few tests that need neither).
 */

const CHECK_TIMEOUT_MS = 2000

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

const START_POSTGRES =
  'start one — Docker: docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust -e POSTGRES_DB=test postgres:16' +
  ' | Debian/Ubuntu: sudo apt-get install -y postgresql && sudo service postgresql start' +
  ' | macOS: brew install postgresql@16 && brew services start postgresql@16 && createuser -s postgres' +
  ' — or point DATABASE_URL at another'
const START_REDIS =
  'start one — Docker: docker run -d -p 6379:6379 redis:7' +
  ' | Debian/Ubuntu: sudo apt-get install -y redis-server && sudo service redis-server start' +
  ' | macOS: brew install redis && brew services start redis' +
  ' — or point REDIS_URL at another'

/** The URL without its password, for messages. */
function shown(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return url
  }
}

function reason(err: unknown): string {
  const e = err as { message?: string; code?: string; errors?: { message?: string }[] }
  // Node's AggregateError (IPv4 and IPv6 both refused) has an empty message of its own.
  return e.message || e.errors?.[0]?.message || e.code || String(err)
}

/** Undefined when PostgreSQL answers; otherwise the one line that says what to do. */
async function checkPostgres(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: CHECK_TIMEOUT_MS })
  client.on('error', () => undefined)
  try {
    await client.connect()
    await client.query('select 1')
    return undefined
  } catch (err) {
    const code = (err as { code?: string }).code
    const where = `PostgreSQL at ${shown(DATABASE_URL)}`
    const database = new URL(DATABASE_URL).pathname.slice(1)
    if (code === '3D000') {
      return `${where} has no database "${database}": create it (createdb -h 127.0.0.1 -U postgres ${database}) or point DATABASE_URL at another`
    }
    if (code === '28P01' || code === '28000') {
      return `${where} refused the login (${reason(err)}): let it in (trust for 127.0.0.1 in pg_hba.conf) or put a password in DATABASE_URL`
    }
    return `${where} is not reachable (${reason(err)}): ${START_POSTGRES}`
  } finally {
    await client.end().catch(() => undefined)
  }
}

/** Undefined when Redis answers PING; otherwise the one line that says what to do. */
async function checkRedis(): Promise<string | undefined> {
  const redis = new Redis(REDIS_URL, {
    lazyConnect: true,
    connectTimeout: CHECK_TIMEOUT_MS,
    commandTimeout: CHECK_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  })
  // The connection's own error (ECONNREFUSED ...) says more than the rejected connect ("Connection is closed").
  let lastError: unknown
  redis.on('error', (err) => (lastError = err))
  try {
    await redis.connect()
    await redis.ping()
    return undefined
  } catch (err) {
    return `Redis at ${shown(REDIS_URL)} is not reachable (${reason(lastError ?? err)}): ${START_REDIS}`
  } finally {
    redis.disconnect()
  }
}

/** Whichever answers first: the check, or `lateLine` once it has taken too long. */
async function bounded(
  check: () => Promise<string | undefined>,
  lateLine: string,
): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(lateLine), CHECK_TIMEOUT_MS + 500)
  })
  try {
    return await Promise.race([check(), late])
  } finally {
    clearTimeout(timer)
  }
}

export default async function requireServices(): Promise<void> {
  if (process.env.HEIMDALL_SKIP_SERVICE_CHECK === '1') return
  const missing = (
    await Promise.all([
      bounded(
        checkPostgres,
        `PostgreSQL at ${shown(DATABASE_URL)} did not answer within ${CHECK_TIMEOUT_MS} ms: ${START_POSTGRES}`,
      ),
      bounded(
        checkRedis,
        `Redis at ${shown(REDIS_URL)} did not answer within ${CHECK_TIMEOUT_MS} ms: ${START_REDIS}`,
      ),
    ])
  ).filter((line): line is string => line !== undefined)
  if (missing.length === 0) return
  process.stderr.write(
    `\nThe tests need services that are not running:\n${missing.map((l) => `✗ ${l}\n`).join('')}\n`,
  )
  process.exit(1)
}
