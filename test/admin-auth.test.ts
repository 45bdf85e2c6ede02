import { request as httpRequest } from 'node:http'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, describe, expect, it } from 'vitest'
import { ProviderRegistry } from '../src/core/router/registry.js'
import { governanceKeyStore } from '../src/governance/access-profile-shapes.js'
import { AccessProfileService } from '../src/governance/access-profiles.js'
import { GovernanceService } from '../src/governance/service.js'
import { UserService } from '../src/governance/users.js'
import { installAdminAuth, SESSION_TTL_MS, type AdminAuthDeps } from '../src/http/auth.js'
import { installErrorHandlers } from '../src/http/errors.js'
import { registerAccessProfileRoutes } from '../src/http/routes/access-profiles.js'
import { registerGovernanceRoutes } from '../src/http/routes/governance.js'
import { registerHealthRoutes } from '../src/http/routes/health.js'
import { registerProviderRoutes } from '../src/http/routes/providers.js'
import { registerSessionRoutes } from '../src/http/routes/session.js'
import { registerUserRoutes } from '../src/http/routes/users.js'
import { createAdapter, isBuiltinProvider, type ProviderAdapter } from '../src/providers/index.js'
import { openConfigStore, type ConfigStore } from '../src/store/index.js'
import { backends, tempDir } from './helpers/databases.js'

const PASSWORD = 'correct horse battery staple'
const ENV = { ...process.env, HEIMDALL_TEST_ADMIN_PASSWORD: PASSWORD }
const AUTH = { is_enabled: true, admin_username: 'admin', admin_password: 'env.HEIMDALL_TEST_ADMIN_PASSWORD' }
const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`

// ---- the app under test ----

interface TestApp {
  app: FastifyInstance
  /** Every route registered, as Fastify saw it. */
  routes: { method: string; url: string }[]
  close(): Promise<void>
}

const OPERATOR_WHITELIST = ['/api/public-status', '/api/open/*']

/** `deps` overrides the admin auth's; `auth: undefined` there means no auth_config at all. */
async function buildApp(store: ConfigStore, deps: Partial<AdminAuthDeps> = {}): Promise<TestApp> {
  const app = Fastify()
  installErrorHandlers(app)
  const routes: TestApp['routes'] = []
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) routes.push({ method, url: r.url })
  })
  const adminAuth = installAdminAuth(app, {
    auth: AUTH,
    db: store.db,
    whitelist: OPERATOR_WHITELIST,
    env: ENV,
    ...deps,
  })
  registerSessionRoutes(app, { adminAuth, enforceAuthOnInference: () => true })
  registerHealthRoutes(app, {
    storeProbes: () => [{ name: 'config_store', required: true, ping: () => store.ping() }],
  })
  const registry = new ProviderRegistry<ProviderAdapter>({
    create: createAdapter,
    isKnown: isBuiltinProvider,
  })
  registerProviderRoutes(app, { registry, store })
  const service = new GovernanceService({ db: store.db, onChange: async () => undefined })
  registerGovernanceRoutes(app, { service })
  const users = new UserService(store.db)
  const accessProfiles = new AccessProfileService(store.db, governanceKeyStore(service))
  registerUserRoutes(app, { store, users, accessProfiles })
  registerAccessProfileRoutes(app, { users, accessProfiles })
  // Stand-ins for routes other modules own, to show which side of the line they fall on.
  const ok = async () => ({ ok: true })
  if (!app.hasRoute({ method: 'GET', url: '/api/governance/virtual-keys/quota' })) {
    app.get('/api/governance/virtual-keys/quota', ok)
  }
  app.get('/api/oauth/callback', ok)
  app.get('/.well-known/oauth-authorization-server', ok)
  app.post('/v1/chat/completions', ok)
  app.get('/api/public-status', ok)
  app.get('/api/open/:thing', ok)
  app.get('/api/closed/:thing', ok)
  await app.ready()
  return { app, routes, close: () => app.close() }
}

const PUBLIC = new Set([
  '/api/session/login',
  '/api/session/setup',
  '/api/session/is-auth-enabled',
  '/api/governance/virtual-keys/quota',
  '/api/oauth/callback',
  '/api/public-status',
  '/api/open/:thing',
])

/** A concrete path for a route pattern. */
const concrete = (url: string) => url.replace(/:[A-Za-z_]+/g, '1').replace(/\*$/, 'x')

async function login(app: FastifyInstance, password = PASSWORD, remoteAddress = '127.0.0.1') {
  return app.inject({
    method: 'POST',
    url: '/api/session/login',
    payload: { username: 'admin', password },
    remoteAddress,
  })
}

function expectUnauthorized(res: { statusCode: number; json(): unknown }, what: string): void {
  expect(res.statusCode, what).toBe(401)
  expect(res.json(), what).toMatchObject({
    is_bifrost_error: false,
    status_code: 401,
    error: { message: expect.any(String) },
  })
}

/** Sends the path exactly as written, which inject would normalise. */
async function rawGet(base: string, path: string, headers: Record<string, string> = {}): Promise<number> {
  const url = new URL(base)
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, path, method: 'GET', headers }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', reject)
    req.end()
  })
}

describe.each(backends('auth'))('admin auth on $kind', (backend) => {
  const appDir = tempDir('auth')
  const open = async () => openConfigStore(await backend.fresh(), { appDir })
  afterAll(() => backend.teardown())

  it('refuses every non-public /api route without credentials, and leaves public and inference routes open', async () => {
    const store = await open()
    const { app, routes, close } = await buildApp(store)
    try {
      const api = routes.filter((r) => r.url.startsWith('/api/') && r.method !== 'HEAD')
      expect(api.length).toBeGreaterThan(60)
      for (const route of api) {
        const url = concrete(route.url)
        const res = await app.inject({
          method: route.method as 'GET',
          url,
          payload: route.method === 'GET' ? undefined : {},
        })
        if (PUBLIC.has(route.url)) {
          expect(res.statusCode, `${route.method} ${route.url}`).not.toBe(401)
        } else {
          expectUnauthorized(res, `${route.method} ${route.url}`)
          expect(res.headers['www-authenticate']).toBe('Basic realm="Heimdall"')
        }
      }
      // A browser gets no Basic challenge (it would pop up its own dialog).
      const browser = await app.inject({ url: '/api/users', headers: { 'sec-fetch-mode': 'cors' } })
      expectUnauthorized(browser, 'browser')
      expect(browser.headers['www-authenticate']).toBeUndefined()

      for (const url of ['/health', '/.well-known/oauth-authorization-server']) {
        expect((await app.inject({ url })).statusCode, url).toBe(200)
      }
      expect(
        (await app.inject({ method: 'POST', url: '/v1/chat/completions', payload: {} })).statusCode,
      ).toBe(200)
      expect((await app.inject({ url: '/nowhere' })).statusCode).toBe(404)
      // A whitelist prefix opens only what it names.
      expectUnauthorized(await app.inject({ url: '/api/closed/x' }), 'closed')
    } finally {
      await close()
      await store.close()
    }
  })

  it('lets in a session token as bearer or cookie, and the admin credentials as Basic', async () => {
    const store = await open()
    const { app, close } = await buildApp(store)
    try {
      const res = await login(app)
      expect(res.statusCode).toBe(200)
      const { message, token } = res.json()
      expect(message).toBe('Login successful')
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/)
      const cookie = String(res.headers['set-cookie'])
      expect(cookie).toContain(`heimdall_session=${token}`)
      expect(cookie).toMatch(/HttpOnly/)
      expect(cookie).toMatch(/SameSite=Lax/)
      expect(cookie).toMatch(/Path=\//)
      expect(cookie).toMatch(/Max-Age=86400/)
      expect(cookie).not.toMatch(/Secure/)
      const secure = await app.inject({
        method: 'POST',
        url: '/api/session/login',
        payload: { username: 'admin', password: PASSWORD },
        headers: { 'x-forwarded-proto': 'https' },
      })
      expect(String(secure.headers['set-cookie'])).toMatch(/; Secure/)

      const bearer = await app.inject({ url: '/api/users', headers: { authorization: `Bearer ${token}` } })
      expect(bearer.statusCode).toBe(200)
      expect(bearer.json()).toMatchObject({ users: [], total: 0 })
      const viaCookie = await app.inject({
        url: '/api/users',
        headers: { cookie: `other=1; heimdall_session=${token}` },
      })
      expect(viaCookie.statusCode).toBe(200)
      expect(
        (await app.inject({ url: '/api/users', headers: { authorization: basic('admin', PASSWORD) } }))
          .statusCode,
      ).toBe(200)
      // Bifrost's older clients: base64("user:pass") as a bearer token.
      const legacy = Buffer.from(`admin:${PASSWORD}`).toString('base64')
      expect(
        (await app.inject({ url: '/api/users', headers: { authorization: `Bearer ${legacy}` } })).statusCode,
      ).toBe(200)

      for (const authorization of [
        basic('admin', 'wrong'),
        basic('root', PASSWORD),
        'Bearer not-a-session',
        `Bearer ${token}x`,
        'Basic !!!',
        'Digest abc',
        token,
      ]) {
        expectUnauthorized(await app.inject({ url: '/api/users', headers: { authorization } }), authorization)
      }
      expectUnauthorized(
        await app.inject({ url: '/api/users', headers: { cookie: 'heimdall_session=forged' } }),
        'forged cookie',
      )
      // Only the hash of the token is stored.
      const rows = await store.db
        .withTables<{ sessions: { token_hash: string } }>()
        .selectFrom('sessions')
        .selectAll()
        .execute()
      expect(rows).toHaveLength(2)
      expect(JSON.stringify(rows)).not.toContain(token)
    } finally {
      await close()
      await store.close()
    }
  })

  it('answers is-auth-enabled, and logout ends the session for bearer and cookie alike', async () => {
    const store = await open()
    const { app, close } = await buildApp(store)
    try {
      const anonymous = await app.inject({ url: '/api/session/is-auth-enabled' })
      expect(anonymous.json()).toEqual({
        is_auth_enabled: true,
        has_valid_token: false,
        auth_type: 'password',
        inference_auth_enforced: true,
        setup_required: false,
      })
      const { token } = (await login(app)).json()
      const withToken = await app.inject({
        url: '/api/session/is-auth-enabled',
        headers: { authorization: `Bearer ${token}` },
      })
      expect(withToken.json().has_valid_token).toBe(true)
      const withCookie = await app.inject({
        url: '/api/session/is-auth-enabled',
        headers: { cookie: `heimdall_session=${token}` },
      })
      expect(withCookie.json().has_valid_token).toBe(true)

      expectUnauthorized(
        await app.inject({ method: 'POST', url: '/api/session/logout' }),
        'logout without credentials',
      )
      const out = await app.inject({
        method: 'POST',
        url: '/api/session/logout',
        headers: { cookie: `heimdall_session=${token}` },
      })
      expect(out.statusCode).toBe(200)
      expect(out.json()).toEqual({ message: 'Logout successful' })
      expect(String(out.headers['set-cookie'])).toMatch(/^heimdall_session=; .*Max-Age=0/)
      expectUnauthorized(
        await app.inject({ url: '/api/users', headers: { authorization: `Bearer ${token}` } }),
        'after logout',
      )
      expectUnauthorized(
        await app.inject({ url: '/api/users', headers: { cookie: `heimdall_session=${token}` } }),
        'after logout',
      )
      const after = await app.inject({
        url: '/api/session/is-auth-enabled',
        headers: { authorization: `Bearer ${token}` },
      })
      expect(after.json().has_valid_token).toBe(false)

      const second = (await login(app)).json().token
      await app.inject({
        method: 'POST',
        url: '/api/session/logout',
        headers: { authorization: `Bearer ${second}` },
      })
      expectUnauthorized(
        await app.inject({ url: '/api/users', headers: { authorization: `Bearer ${second}` } }),
        'bearer logout',
      )
    } finally {
      await close()
      await store.close()
    }
  })

  it('refuses a wrong password, bad bodies, and makes an address wait after ten failures', async () => {
    const store = await open()
    let clock = Date.parse('2030-01-01T00:00:00Z')
    const { app, close } = await buildApp(store, { now: () => clock })
    try {
      const wrong = await login(app, 'nope', '10.0.0.1')
      expect(wrong.statusCode).toBe(401)
      expect(wrong.json()).toMatchObject({
        is_bifrost_error: false,
        status_code: 401,
        error: { message: 'Invalid username or password' },
      })
      expect(wrong.headers['set-cookie']).toBeUndefined()
      for (const payload of [{ username: 'admin' }, 'not json', [], { username: 1, password: 'x' }]) {
        const res = await app.inject({
          method: 'POST',
          url: '/api/session/login',
          payload: payload as object,
          headers: { 'content-type': 'application/json' },
        })
        expect(res.statusCode, JSON.stringify(payload)).toBe(400)
        expect(res.json()).toMatchObject({ is_bifrost_error: false, status_code: 400 })
      }

      for (let i = 0; i < 9; i++) expect((await login(app, `guess-${i}`, '10.0.0.1')).statusCode).toBe(401)
      const waiting = await login(app, PASSWORD, '10.0.0.1')
      expect(waiting.statusCode).toBe(429)
      expect(waiting.headers['retry-after']).toBe('1')
      // Basic credentials from the waiting address wait too; other addresses are not affected.
      const basicWaiting = await app.inject({
        url: '/api/users',
        headers: { authorization: basic('admin', PASSWORD) },
        remoteAddress: '10.0.0.1',
      })
      expect(basicWaiting.statusCode).toBe(429)
      expect((await login(app, PASSWORD, '10.0.0.2')).statusCode).toBe(200)

      // A back-off, not a lock-out: once the wait is over, the right password logs in.
      clock += 1000
      expect((await login(app, PASSWORD, '10.0.0.1')).statusCode).toBe(200)

      // Sessions last 24 hours.
      const { token } = (await login(app)).json()
      clock += SESSION_TTL_MS - 1000
      expect(
        (await app.inject({ url: '/api/users', headers: { authorization: `Bearer ${token}` } })).statusCode,
      ).toBe(200)
      clock += 2000
      expectUnauthorized(
        await app.inject({ url: '/api/users', headers: { authorization: `Bearer ${token}` } }),
        'expired',
      )
    } finally {
      await close()
      await store.close()
    }
  })

  it('is not fooled by dot segments, encodings, trailing slashes, case or query strings', async () => {
    const store = await open()
    const { app, close } = await buildApp(store)
    const base = await app.listen({ port: 0, host: '127.0.0.1' })
    try {
      const tricks = [
        '/api/session/login/../providers',
        '/api/session/login/%2e%2e/providers',
        '/api/session/login/..%2fproviders',
        '/api/session/is-auth-enabled/../../api/users',
        '/api/oauth/../users',
        '/api/oauth/%2e%2e/users',
        '/api/public-status/../users',
        '/api/open/../users',
        '/API/users',
        '/Api/Users',
        '/api/users/',
        '/api//users',
        '//api/users',
        '/api/users?/api/session/login',
        '/api/users#/api/session/login',
        '/%61pi/users',
        '/api/%75sers',
        '/api/users/..;/session/login',
        '/api\\users',
        '/.well-known/../api/users',
        '/health/../api/users',
        '/v1/../api/users',
      ]
      for (const path of tricks) {
        const status = await rawGet(base, path)
        expect(status, path).toBe(401)
      }
      // The same paths with credentials reach the router's own answer (a page or a 404), not a 401.
      expect(await rawGet(base, '/API/users', { authorization: basic('admin', PASSWORD) })).toBe(404)
      expect(
        await rawGet(base, '/api/users?/api/session/login', { authorization: basic('admin', PASSWORD) }),
      ).toBe(200)
      expect(await rawGet(base, '/api/session/is-auth-enabled?x=1')).toBe(200)
      expect(await rawGet(base, '/api/oauth/callback')).toBe(200)
    } finally {
      await close()
      await store.close()
    }
  })

  it('accepts a session opened on another node that shares the database, and a logout there ends it here', async () => {
    const spec = await backend.fresh()
    const storeA = await openConfigStore(spec, { appDir })
    const storeB = await openConfigStore(spec, { appDir })
    const a = await buildApp(storeA)
    const b = await buildApp(storeB)
    try {
      const { token } = (await login(a.app)).json()
      expect(
        (await b.app.inject({ url: '/api/users', headers: { authorization: `Bearer ${token}` } })).statusCode,
      ).toBe(200)
      expect(
        (await b.app.inject({ url: '/api/users', headers: { cookie: `heimdall_session=${token}` } }))
          .statusCode,
      ).toBe(200)
      await b.app.inject({
        method: 'POST',
        url: '/api/session/logout',
        headers: { authorization: `Bearer ${token}` },
      })
      expectUnauthorized(
        await a.app.inject({ url: '/api/users', headers: { authorization: `Bearer ${token}` } }),
        'node A after logout on B',
      )
    } finally {
      await a.close()
      await b.close()
      await storeA.close()
      await storeB.close()
    }
  })

  it('answers 503, not 401, to a session token while the database is down; Basic still works', async () => {
    const store = await open()
    const { app, close } = await buildApp(store)
    try {
      const { token } = (await login(app)).json()
      await store.close()
      const res = await app.inject({ url: '/api/closed/x', headers: { authorization: `Bearer ${token}` } })
      expect(res.statusCode).toBe(503)
      expect(res.json()).toMatchObject({ is_bifrost_error: false, status_code: 503 })
      const viaBasic = await app.inject({
        url: '/api/closed/x',
        headers: { authorization: basic('admin', PASSWORD) },
      })
      expect(viaBasic.statusCode).toBe(200)
    } finally {
      await close()
    }
  })

  it('leaves the API open when auth is disabled, and refuses login then', async () => {
    const store = await open()
    for (const auth of [undefined, { ...AUTH, is_enabled: false }]) {
      const { app, close } = await buildApp(store, { auth })
      try {
        expect((await app.inject({ url: '/api/users' })).statusCode).toBe(200)
        expect((await app.inject({ url: '/api/session/is-auth-enabled' })).json()).toEqual({
          is_auth_enabled: false,
          has_valid_token: false,
          auth_type: 'none',
          inference_auth_enforced: true,
          setup_required: false,
        })
        const res = await login(app)
        expect(res.statusCode).toBe(403)
        expect(res.json()).toMatchObject({
          is_bifrost_error: false,
          status_code: 403,
          error: { message: 'Authentication is not enabled' },
        })
        expect((await app.inject({ method: 'POST', url: '/api/session/logout' })).statusCode).toBe(403)
      } finally {
        await close()
      }
    }
    await store.close()
  })
})

describe('admin auth configuration', () => {
  it('refuses to start with auth enabled but no usable credentials', () => {
    const app = Fastify()
    const install = (auth: AdminAuthDeps['auth'], env: NodeJS.ProcessEnv = ENV) =>
      installAdminAuth(app, { auth, db: undefined, env })
    expect(() => install({ is_enabled: true, admin_username: 'admin' })).toThrow(/admin_password is required/)
    expect(() =>
      install({ is_enabled: true, admin_username: 'admin', admin_password: 'env.NOPE_NOT_SET' }, {}),
    ).toThrow(/admin_password: environment variable NOPE_NOT_SET is not set/)
    expect(() => install({ is_enabled: 'yes' })).toThrow(/is_enabled/)
    expect(install({ ...AUTH, admin_username: 'env.HEIMDALL_TEST_ADMIN_PASSWORD' }).enabled).toBe(true)
  })

  it('keeps sessions in memory without a database', async () => {
    const app = Fastify()
    installErrorHandlers(app)
    const adminAuth = installAdminAuth(app, { auth: AUTH, db: undefined, env: ENV })
    registerSessionRoutes(app, { adminAuth, enforceAuthOnInference: false })
    app.get('/api/thing', async () => ({ ok: true }))
    const { token } = (await login(app)).json()
    expect(
      (await app.inject({ url: '/api/thing', headers: { authorization: `Bearer ${token}` } })).statusCode,
    ).toBe(200)
    await app.inject({
      method: 'POST',
      url: '/api/session/logout',
      headers: { authorization: `Bearer ${token}` },
    })
    expectUnauthorized(
      await app.inject({ url: '/api/thing', headers: { authorization: `Bearer ${token}` } }),
      'after logout',
    )
    await app.close()
  })
})
