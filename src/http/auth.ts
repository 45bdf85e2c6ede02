import { createHash, randomBytes } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Kysely } from 'kysely'
import { GatewayError, toErrorBody } from '../core/errors.js'
import type { ConfigStore, ConfigStoreTables } from '../store/index.js'
import {
  hashLogin,
  readConfiguredLogin,
  safeEqual,
  storedCredentials,
  STORED_LOGIN_KEY,
  type AdminCredentials,
  type AuthConfig,
  type StoredAdminLogin,
} from './admin-credentials.js'
import { LoginThrottle } from './login-throttle.js'
import { MemorySessionStore, SqlSessionStore, type SessionStore } from './sessions.js'

export { AuthConfigSchema, type AuthConfig } from './admin-credentials.js'

export const SESSION_COOKIE = 'heimdall_session'
export const SESSION_TTL_MS = 24 * 60 * 60 * 1000

/** Routes under /api that answer without credentials, by route pattern. */
const PUBLIC_ROUTES = new Set([
  '/api/session/login',
  '/api/session/is-auth-enabled',
  '/api/session/setup',
  // The virtual key sent with the request is the credential.
  '/api/governance/virtual-keys/quota',
  // Bifrost's name of the MCP OAuth callback: the OAuth state authorizes it, as under /api/oauth/.
  '/api/mcp/oauth/callback',
  '/health',
])
/** MCP OAuth: the browser and MCP clients reach these without a dashboard session. */
const PUBLIC_PREFIXES = ['/api/oauth/', '/.well-known/']
/** How often a node without an admin login looks whether another node's setup stored one. */
const STORED_LOGIN_RECHECK_MS = 2000

export interface AdminAuthDeps {
  /** config.json's `auth_config` (or `governance.auth_config`); undefined or `is_enabled: false` leaves the API open on loopback. */
  auth: AuthConfig | Record<string, unknown> | undefined
  /** The name of that block in errors: `auth_config` (default) or `governance.auth_config`. */
  authField?: string
  /** The config store's database, where sessions live so that every node accepts them; without one, sessions stay in this process. */
  db: Kysely<ConfigStoreTables> | undefined
  /** Where a login set through POST /api/session/setup is kept; without it, in this process. */
  values?: Pick<ConfigStore, 'getValue' | 'setValue'>
  /**
   * The first-run setup: the token that POST /api/session/setup requires (none: no setup through the
   * API), and whether /api, /ws and /metrics stay locked until an admin login exists (listening beyond loopback).
   */
  setup?: { token: string | undefined; lockUntilDone: boolean }
  /** `client.whitelisted_routes`: more public routes, exact or ending in `*` for a prefix. */
  whitelist?: string[]
  env?: NodeJS.ProcessEnv
  /** The clock, for tests. */
  now?: () => number
}

/** How a request was let in: a session token, Basic credentials, or no check at all (auth disabled). */
export type Credential = 'session' | 'basic' | 'open'

/**
 * The management API's admin login: sessions, HTTP Basic, the first-run setup, and one throttle of
 * failed attempts for every route that takes the admin's credentials (/api, /metrics, /ws/logs):
 * create one and pass it to each.
 */
export interface AdminAuth {
  /** Whether an admin login exists (from config.json, the environment or the setup). */
  readonly enabled: boolean
  /** No admin login yet while listening beyond loopback: the management API is locked until set up. */
  readonly setupRequired: boolean
  /** `auth_config.disable_auth_on_inference`. */
  readonly disableAuthOnInference: boolean
  /** Reads the login stored by an earlier setup. */
  load(): Promise<void>
  /**
   * How the request proved it is the admin (`open` when there is no login and no lock), or
   * undefined; throws a 429 while its address has to wait after failed attempts.
   */
  authenticate(request: FastifyRequest): Promise<Credential | undefined>
  /** Whether the request carries a session token (bearer or cookie) that is still valid. */
  hasValidSession(request: FastifyRequest): Promise<boolean>
  /** Checks the credentials and opens a session; answers its token. */
  login(request: FastifyRequest, username: string, password: string): Promise<string>
  /** Sets the first admin login with the setup token, and opens a session; answers its token. */
  setup(request: FastifyRequest, setupToken: string, username: string, password: string): Promise<string>
  /** Ends the sessions whose tokens the request carries. */
  logout(request: FastifyRequest): Promise<void>
  /** The Set-Cookie value that stores a session token in the browser, or clears it (`undefined`). */
  sessionCookie(request: FastifyRequest, token: string | undefined): string
}

/**
 * Protects every /api route when an admin login exists, or while setup is required: a request
 * passes with a session token (`Authorization: Bearer`, or the `heimdall_session` cookie) or with
 * the admin credentials as HTTP Basic. Public routes are decided on the route pattern Fastify
 * matched, never on the raw URL; a request that matches no route is refused when its path looks like /api.
 */
export function installAdminAuth(app: FastifyInstance, deps: AdminAuthDeps): AdminAuth {
  const auth = createAdminAuth(deps)
  const whitelist = (deps.whitelist ?? []).filter((r) => r !== '')
  // Without a login, or the means to set one, there is nothing to check: no hook on every request.
  if (!auth.enabled && deps.setup?.token === undefined && deps.values === undefined) return auth
  app.addHook('onRequest', async (request, reply) => {
    if (!auth.enabled && !auth.setupRequired) return
    // A CORS preflight carries no credentials by design; it reaches no handler's logic.
    const preflight =
      request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined
    if (preflight) return
    const route = request.routeOptions.url
    const path = request.url.split('?', 1)[0]
    if (route === undefined) {
      if (!looksLikeApi(path)) return
    } else {
      if (!route.startsWith('/api/') && route !== '/api') return
      if (isPublic(route, path, whitelist)) return
    }
    if ((await auth.authenticate(request)) !== undefined) return
    return refuseAdmin(request, reply, auth)
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

/**
 * The answer to a request without the admin's credentials, in Bifrost's error shape: 401 with a
 * Basic challenge, or 403 with how to set the gateway up while it has no admin login. For every
 * route that takes them (/api, /metrics, /ws/logs).
 */
export function refuseAdmin(
  request: FastifyRequest,
  reply: FastifyReply,
  auth: AdminAuth,
  /** Challenge browsers too (/metrics: scrapers and fetch-based clients send sec-fetch-mode). */
  alwaysChallenge = false,
): FastifyReply {
  const err = auth.setupRequired
    ? new GatewayError(
        'forbidden',
        'this gateway listens beyond loopback and has no admin login yet, so its management API is locked: set one with POST /api/session/setup {setup_token, admin_username, admin_password} (the setup token is printed at start), or with auth_config in config.json, or HEIMDALL_ADMIN_USERNAME and HEIMDALL_ADMIN_PASSWORD',
      )
    : new GatewayError(
        'unauthorized',
        'authentication required: send a session token (Authorization: Bearer, from POST /api/session/login), the session cookie, or the admin credentials as HTTP Basic',
      )
  const body = toErrorBody(err)
  body.is_bifrost_error = false
  // Browsers would show their own login dialog on a Basic challenge; the dashboard has its own.
  const browser =
    request.headers['sec-fetch-mode'] !== undefined || request.headers['x-requested-with'] !== undefined
  if ((alwaysChallenge || !browser) && !auth.setupRequired)
    reply.header('www-authenticate', 'Basic realm="Heimdall"')
  return reply.code(err.status).type('application/json; charset=utf-8').send(JSON.stringify(body))
}

export function createAdminAuth(deps: AdminAuthDeps): AdminAuth {
  const now = deps.now ?? Date.now
  const configured = readConfiguredLogin(deps.auth, deps.env ?? process.env, deps.authField)
  const sessions: SessionStore = deps.db ? new SqlSessionStore(deps.db) : new MemorySessionStore()
  const throttle = new LoginThrottle(now)
  let memoryLogin: StoredAdminLogin | undefined
  let credentials: AdminCredentials | undefined = configured.credentials
  let checkedStoredAt = Number.NEGATIVE_INFINITY

  /** A login stored by the setup (here or on another node that shares the config store). */
  async function loadStored(force = false): Promise<void> {
    if (credentials !== undefined) return
    if (!force && now() - checkedStoredAt < STORED_LOGIN_RECHECK_MS) return
    checkedStoredAt = now()
    const login = deps.values ? await deps.values.getValue<StoredAdminLogin>(STORED_LOGIN_KEY) : memoryLogin
    if (login && typeof login.username === 'string' && typeof login.hash === 'string')
      credentials = storedCredentials(login)
  }

  // A token is stored bound to the credentials: a changed username or password makes it unknown.
  const sessionKey = (token: string) =>
    createHash('sha256')
      .update(`${credentials?.fingerprint ?? ''}:${token}`)
      .digest('hex')

  /** Basic credentials, counted against the address's failed attempts. */
  async function basic(request: FastifyRequest, encoded: string): Promise<Credential | undefined> {
    const decoded = decodeBasic(encoded)
    if (decoded === undefined || !credentials) return undefined
    const colon = decoded.indexOf(':')
    throttle.check(request.ip)
    if (await credentials.verify(decoded.slice(0, colon), decoded.slice(colon + 1))) {
      throttle.succeeded(request.ip)
      return 'basic'
    }
    throttle.failed(request.ip)
    return undefined
  }

  async function validToken(token: string | undefined): Promise<boolean> {
    if (token === undefined || token === '' || !credentials) return false
    return sessions.isValid(sessionKey(token), new Date(now()).toISOString())
  }

  async function openSession(): Promise<string> {
    const token = randomBytes(32).toString('base64url')
    const at = now()
    await sessions.purgeExpired(new Date(at).toISOString())
    await sessions.create({
      token_hash: sessionKey(token),
      created_at: new Date(at).toISOString(),
      expires_at: new Date(at + SESSION_TTL_MS).toISOString(),
    })
    return token
  }

  const auth: AdminAuth = {
    get enabled() {
      return credentials !== undefined
    },
    get setupRequired() {
      return credentials === undefined && deps.setup?.lockUntilDone === true
    },
    disableAuthOnInference: configured.disableAuthOnInference,

    load: () => loadStored(true),

    async authenticate(request) {
      if (!credentials) await loadStored()
      if (!credentials) return deps.setup?.lockUntilDone === true ? undefined : 'open'
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
      if (!credentials) await loadStored()
      if (!credentials) throw new GatewayError('forbidden', 'Authentication is not enabled')
      throttle.check(request.ip)
      if (!(await credentials.verify(username, password))) {
        throttle.failed(request.ip)
        throw new GatewayError('unauthorized', 'Invalid username or password')
      }
      throttle.succeeded(request.ip)
      return openSession()
    },

    async setup(request, setupToken, username, password) {
      await loadStored(true)
      if (credentials) throw new GatewayError('conflict', 'an admin login is already set; log in with it')
      const expected = deps.setup?.token
      if (expected === undefined)
        throw new GatewayError(
          'forbidden',
          'setup through the API is offered only to a gateway listening beyond loopback, or with HEIMDALL_SETUP_TOKEN set; set auth_config in config.json or HEIMDALL_ADMIN_USERNAME and HEIMDALL_ADMIN_PASSWORD instead',
        )
      throttle.check(request.ip)
      if (!safeEqual(setupToken, expected)) {
        throttle.failed(request.ip)
        throw new GatewayError('unauthorized', 'invalid setup token', { param: 'setup_token' })
      }
      throttle.succeeded(request.ip)
      const login = await hashLogin(username, password)
      // Another node may have been set up meanwhile: the first login stays.
      await loadStored(true)
      if (credentials) throw new GatewayError('conflict', 'an admin login is already set; log in with it')
      if (deps.values) await deps.values.setValue(STORED_LOGIN_KEY, login)
      else memoryLogin = login
      credentials = storedCredentials(login)
      return openSession()
    },

    async logout(request) {
      for (const token of [bearerToken(request), cookieValue(request, SESSION_COOKIE)]) {
        if (token) await sessions.delete(sessionKey(token))
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
  return auth
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
