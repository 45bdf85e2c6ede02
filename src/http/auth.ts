import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { Type, type Static } from '@sinclair/typebox'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Kysely } from 'kysely'
import { resolveSecret } from '../core/config.js'
import { GatewayError, toErrorBody } from '../core/errors.js'
import type { ConfigStoreTables } from '../store/index.js'
import type { SessionsTable } from '../store/migrations/003_users_profiles.js'
import { compileValidator } from './validate.js'

/** config.json's `auth_config`: the dashboard / management API login. */
export const AuthConfigSchema = Type.Object(
  {
    /** A literal or `env.VAR`. */
    admin_username: Type.Optional(Type.String()),
    /** A literal or `env.VAR`. */
    admin_password: Type.Optional(Type.String()),
    is_enabled: Type.Optional(Type.Boolean()),
    disable_auth_on_inference: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: true },
)
export type AuthConfig = Static<typeof AuthConfigSchema>

export const SESSION_COOKIE = 'heimdall_session'
export const SESSION_TTL_MS = 24 * 60 * 60 * 1000

/** Routes under /api that answer without credentials, by route pattern. */
const PUBLIC_ROUTES = new Set([
  '/api/session/login',
  '/api/session/is-auth-enabled',
  // The virtual key sent with the request is the credential.
  '/api/governance/virtual-keys/quota',
  '/health',
])
/** MCP OAuth: the browser and MCP clients reach these without a dashboard session. */
const PUBLIC_PREFIXES = ['/api/oauth/', '/.well-known/']

export interface AdminAuthDeps {
  /** config.json's `auth_config`; undefined or `is_enabled: false` leaves the API open. */
  auth: AuthConfig | Record<string, unknown> | undefined
  /** The config store's database, where sessions live so that every node accepts them; without one, sessions stay in this process. */
  db: Kysely<ConfigStoreTables> | undefined
  /** `client.whitelisted_routes`: more public routes, exact or ending in `*` for a prefix. */
  whitelist?: string[]
  env?: NodeJS.ProcessEnv
  /** The clock, for tests. */
  now?: () => number
}

/** How a request was let in: a session token, Basic credentials, or no check at all (auth disabled). */
export type Credential = 'session' | 'basic' | 'open'

/** The management API's admin login: sessions, HTTP Basic, throttling of failed attempts. */
export interface AdminAuth {
  readonly enabled: boolean
  /** `auth_config.disable_auth_on_inference`. */
  readonly disableAuthOnInference: boolean
  /** How the request proved it is the admin, or undefined; throws a 429 while its address is locked out. */
  authenticate(request: FastifyRequest): Promise<Credential | undefined>
  /** Whether the request carries a session token (bearer or cookie) that is still valid. */
  hasValidSession(request: FastifyRequest): Promise<boolean>
  /** Checks the credentials and opens a session; answers its token. */
  login(request: FastifyRequest, username: string, password: string): Promise<string>
  /** Ends the sessions whose tokens the request carries. */
  logout(request: FastifyRequest): Promise<void>
  /** The Set-Cookie value that stores a session token in the browser, or clears it (`undefined`). */
  sessionCookie(request: FastifyRequest, token: string | undefined): string
}

const validateAuthConfig = compileValidator(AuthConfigSchema)

/**
 * Protects every /api route when `auth_config.is_enabled` is true: a request passes with a session
 * token (`Authorization: Bearer`, or the `heimdall_session` cookie) or with the admin credentials
 * as HTTP Basic. Public routes are decided on the route pattern Fastify matched, never on the raw
 * URL; a request that matches no route is refused when its path looks like /api.
 */
export function installAdminAuth(app: FastifyInstance, deps: AdminAuthDeps): AdminAuth {
  const auth = createAdminAuth(deps)
  const whitelist = (deps.whitelist ?? []).filter((r) => r !== '')
  // Without admin auth there is nothing to check: no hook on every request.
  if (!auth.enabled) return auth
  app.addHook('onRequest', async (request, reply) => {
    // A CORS preflight carries no credentials by design; it reaches no handler's logic.
    const preflight =
      request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined
    if (!auth.enabled || preflight) return
    const route = request.routeOptions.url
    const path = request.url.split('?', 1)[0]
    if (route === undefined) {
      if (!looksLikeApi(path)) return
    } else {
      if (!route.startsWith('/api/') && route !== '/api') return
      if (isPublic(route, path, whitelist)) return
    }
    if ((await auth.authenticate(request)) !== undefined) return
    return refuse(request, reply)
  })
  return auth
}

function isPublic(route: string, path: string, whitelist: string[]): boolean {
  if (PUBLIC_ROUTES.has(route) || PUBLIC_PREFIXES.some((p) => route.startsWith(p))) return true
  return whitelist.some((entry) =>
    entry.endsWith('*')
      ? route.startsWith(entry.slice(0, -1)) || path.startsWith(entry.slice(0, -1))
      : route === entry || path === entry,
  )
}

/** Whether an unrouted path would be an /api path after the normalisations a proxy or another router might apply. */
function looksLikeApi(path: string): boolean {
  let normal: string
  try {
    normal = decodeURIComponent(path)
  } catch {
    return true
  }
  normal = normal
    .replace(/\\/g, '/')
    .replace(/\/{2,}/g, '/')
    .toLowerCase()
  try {
    normal = new URL(normal, 'http://localhost').pathname
  } catch {
    return true
  }
  return normal === '/api' || normal.startsWith('/api/')
}

function refuse(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const err = new GatewayError(
    'unauthorized',
    'authentication required: send a session token (Authorization: Bearer, from POST /api/session/login), the session cookie, or the admin credentials as HTTP Basic',
  )
  const body = toErrorBody(err)
  body.is_bifrost_error = false
  // Browsers would show their own login dialog on a Basic challenge; the dashboard has its own.
  const browser =
    request.headers['sec-fetch-mode'] !== undefined || request.headers['x-requested-with'] !== undefined
  if (!browser) reply.header('www-authenticate', 'Basic realm="Heimdall"')
  return reply.code(401).type('application/json; charset=utf-8').send(JSON.stringify(body))
}

export function createAdminAuth(deps: AdminAuthDeps): AdminAuth {
  const now = deps.now ?? Date.now
  const config = deps.auth === undefined ? undefined : validateAuthConfig(deps.auth)
  const enabled = config?.is_enabled === true
  const credentials = enabled ? resolveCredentials(config, deps.env ?? process.env) : undefined
  const sessions: SessionStore = deps.db ? new SqlSessionStore(deps.db) : new MemorySessionStore()
  const throttle = new LoginThrottle(now)

  function checkCredentials(username: string, password: string): boolean {
    if (!credentials) return false
    // Both comparisons always run, so that timing says nothing about which one failed.
    const userOk = safeEqual(username, credentials.username)
    const passOk = safeEqual(password, credentials.password)
    return userOk && passOk
  }

  /** Basic credentials, counted against the address's failed attempts. */
  function basic(request: FastifyRequest, encoded: string): Credential | undefined {
    const decoded = decodeBasic(encoded)
    if (decoded === undefined) return undefined
    const colon = decoded.indexOf(':')
    throttle.check(request.ip)
    if (checkCredentials(decoded.slice(0, colon), decoded.slice(colon + 1))) {
      throttle.succeeded(request.ip)
      return 'basic'
    }
    throttle.failed(request.ip)
    return undefined
  }

  async function validToken(token: string | undefined): Promise<boolean> {
    if (token === undefined || token === '') return false
    return sessions.isValid(hashToken(token), new Date(now()).toISOString())
  }

  return {
    enabled,
    disableAuthOnInference: config?.disable_auth_on_inference === true,

    async authenticate(request) {
      if (!enabled) return 'open'
      const header = request.headers.authorization
      if (header !== undefined) {
        const [scheme = '', value = ''] = header.trim().split(/\s+/, 2)
        if (scheme.toLowerCase() === 'bearer') {
          if (await validToken(value)) return 'session'
          // Bifrost's older clients send base64("user:pass") as a bearer token.
          return basic(request, value)
        }
        if (scheme.toLowerCase() === 'basic') return basic(request, value)
      }
      return (await validToken(cookieValue(request, SESSION_COOKIE))) ? 'session' : undefined
    },

    async hasValidSession(request) {
      return (
        (await validToken(bearerToken(request))) || (await validToken(cookieValue(request, SESSION_COOKIE)))
      )
    },

    async login(request, username, password) {
      if (!enabled) throw new GatewayError('forbidden', 'Authentication is not enabled')
      throttle.check(request.ip)
      if (!checkCredentials(username, password)) {
        throttle.failed(request.ip)
        throw new GatewayError('unauthorized', 'Invalid username or password')
      }
      throttle.succeeded(request.ip)
      const token = randomBytes(32).toString('base64url')
      const at = now()
      await sessions.purgeExpired(new Date(at).toISOString())
      await sessions.create({
        token_hash: hashToken(token),
        created_at: new Date(at).toISOString(),
        expires_at: new Date(at + SESSION_TTL_MS).toISOString(),
      })
      return token
    },

    async logout(request) {
      for (const token of [bearerToken(request), cookieValue(request, SESSION_COOKIE)]) {
        if (token) await sessions.delete(hashToken(token))
      }
    },

    sessionCookie(request, token) {
      const secure = request.protocol === 'https' || request.headers['x-forwarded-proto'] === 'https'
      const parts = [
        `${SESSION_COOKIE}=${token ?? ''}`,
        'Path=/',
        'HttpOnly',
        'SameSite=Lax',
        `Max-Age=${token === undefined ? 0 : SESSION_TTL_MS / 1000}`,
      ]
      if (secure) parts.push('Secure')
      return parts.join('; ')
    },
  }
}

function resolveCredentials(
  config: AuthConfig,
  env: NodeJS.ProcessEnv,
): { username: string; password: string } {
  const resolve = (field: 'admin_username' | 'admin_password'): string => {
    const value = config[field]
    if (value === undefined || value === '') {
      throw new GatewayError(
        'invalid_request',
        `auth_config.${field} is required when auth_config.is_enabled is true`,
      )
    }
    let resolved: string
    try {
      resolved = resolveSecret(value, env)
    } catch (err) {
      throw new GatewayError('invalid_request', `auth_config.${field}: ${(err as Error).message}`, {
        cause: err,
      })
    }
    if (resolved === '')
      throw new GatewayError('invalid_request', `auth_config.${field} resolves to an empty value`)
    return resolved
  }
  return { username: resolve('admin_username'), password: resolve('admin_password') }
}

function safeEqual(a: string, b: string): boolean {
  // Digests have one length, so that timingSafeEqual applies and the length is not revealed either.
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest())
}

/** The `user:pass` text of Basic credentials, or undefined when the value is not such a thing. */
function decodeBasic(encoded: string): string | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) return undefined
  const bytes = Buffer.from(encoded, 'base64')
  const text = bytes.toString('utf8')
  // Not UTF-8 text (e.g. an expired random session token): not credentials, and not a failed attempt.
  if (!Buffer.from(text, 'utf8').equals(bytes) || !text.includes(':')) return undefined
  return text
}

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex')
}

function bearerToken(request: FastifyRequest): string | undefined {
  const [scheme = '', value] = (request.headers.authorization ?? '').trim().split(/\s+/, 2)
  return scheme.toLowerCase() === 'bearer' ? value : undefined
}

function cookieValue(request: FastifyRequest, name: string): string | undefined {
  const header = request.headers.cookie
  if (header === undefined) return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return undefined
}

// ---- sessions ----

interface SessionStore {
  create(row: SessionsTable): Promise<void>
  isValid(tokenHash: string, nowIso: string): Promise<boolean>
  delete(tokenHash: string): Promise<void>
  purgeExpired(nowIso: string): Promise<void>
}

/** Sessions in the config store: every node sharing the database accepts them. */
class SqlSessionStore implements SessionStore {
  private readonly db: Kysely<ConfigStoreTables & { sessions: SessionsTable }>

  constructor(db: Kysely<ConfigStoreTables>) {
    this.db = db.withTables<{ sessions: SessionsTable }>()
  }

  async create(row: SessionsTable): Promise<void> {
    await this.db.insertInto('sessions').values(row).execute()
  }

  async isValid(tokenHash: string, nowIso: string): Promise<boolean> {
    try {
      const row = await this.db
        .selectFrom('sessions')
        .select('token_hash')
        .where('token_hash', '=', tokenHash)
        .where('expires_at', '>', nowIso)
        .executeTakeFirst()
      return row !== undefined
    } catch (err) {
      // The database being down is a 503, not a 401: the token may well be valid.
      throw new GatewayError('store_unavailable', `cannot check the session: ${(err as Error).message}`, {
        cause: err,
      })
    }
  }

  async delete(tokenHash: string): Promise<void> {
    await this.db.deleteFrom('sessions').where('token_hash', '=', tokenHash).execute()
  }

  async purgeExpired(nowIso: string): Promise<void> {
    await this.db.deleteFrom('sessions').where('expires_at', '<=', nowIso).execute()
  }
}

class MemorySessionStore implements SessionStore {
  private readonly sessions = new Map<string, string>()

  async create(row: SessionsTable): Promise<void> {
    this.sessions.set(row.token_hash, row.expires_at)
  }

  async isValid(tokenHash: string, nowIso: string): Promise<boolean> {
    const expires = this.sessions.get(tokenHash)
    return expires !== undefined && expires > nowIso
  }

  async delete(tokenHash: string): Promise<void> {
    this.sessions.delete(tokenHash)
  }

  async purgeExpired(nowIso: string): Promise<void> {
    for (const [hash, expires] of this.sessions) if (expires <= nowIso) this.sessions.delete(hash)
  }
}

// ---- failed attempts ----

const MAX_FAILURES = 10
const FAILURE_WINDOW_MS = 2 * 60 * 1000
const LOCKOUT_MS = 2 * 60 * 1000
const MAX_TRACKED_ADDRESSES = 10_000

/**
 * Ten failed logins from one address within two minutes lock that address out for two minutes
 * (as Bifrost does). Kept per process: a node counts the attempts it sees.
 */
class LoginThrottle {
  private readonly entries = new Map<string, { count: number; first: number; lockedUntil: number }>()

  constructor(private readonly now: () => number) {}

  /** Throws a 429 while the address is locked out. */
  check(address: string): void {
    const entry = this.entries.get(address)
    const wait = entry ? entry.lockedUntil - this.now() : 0
    if (wait > 0) {
      throw new GatewayError(
        'rate_limited',
        `too many failed login attempts; retry in ${Math.ceil(wait / 1000)} s`,
        {
          retryAfterMs: wait,
          isBifrostError: false,
        },
      )
    }
  }

  failed(address: string): void {
    const at = this.now()
    let entry = this.entries.get(address)
    if (!entry || at - entry.first > FAILURE_WINDOW_MS) {
      if (!entry && this.entries.size >= MAX_TRACKED_ADDRESSES) this.prune(at)
      entry = { count: 0, first: at, lockedUntil: 0 }
      this.entries.set(address, entry)
    }
    entry.count += 1
    if (entry.count >= MAX_FAILURES) entry.lockedUntil = at + LOCKOUT_MS
  }

  succeeded(address: string): void {
    this.entries.delete(address)
  }

  private prune(at: number): void {
    for (const [address, entry] of this.entries) {
      if (entry.lockedUntil <= at && at - entry.first > FAILURE_WINDOW_MS) this.entries.delete(address)
    }
    // Still full: forget the oldest, rather than grow without bound.
    for (const address of this.entries.keys()) {
      if (this.entries.size < MAX_TRACKED_ADDRESSES) break
      this.entries.delete(address)
    }
  }
}
