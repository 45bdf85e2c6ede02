import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import Fastify from 'fastify'
import { afterAll, describe, expect, it } from 'vitest'
import { createAdminAuth } from '../src/http/auth.js'
import { installErrorHandlers } from '../src/http/errors.js'
import { registerSessionRoutes } from '../src/http/routes/session.js'
import { upgradeStatus } from './helpers/upgrade.js'
import { startHeimdall } from './helpers/heimdall.js'

/**
 * Failed admin logins are counted once for every route that takes the admin's credentials (/api,
 * /metrics, /ws/logs), and make the address wait a growing, capped delay instead of locking it
 * out: the right password still logs in once the wait is over. Sessions are bound to the
 * credentials, so a changed password ends them.
 */

const PASSWORD = 'the right admin password'
const AUTH = { is_enabled: true, admin_username: 'admin', admin_password: 'env.HEIMDALL_TEST_PASSWORD' }
const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`

const dirs: string[] = []
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true })
})

describe('one throttle of failed admin logins', () => {
  it('ten wrong guesses spread over /api, /metrics and /ws/logs make the address wait; the right password works after the wait', async () => {
    const gw = await startHeimdall({ auth_config: AUTH }, { env: { HEIMDALL_TEST_PASSWORD: PASSWORD } })
    try {
      const login = (password: string) =>
        fetch(`${gw.url}/api/session/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: 'admin', password }),
        })
      for (let i = 0; i < 4; i++) expect((await login(`guess-${i}`)).status).toBe(401)
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${gw.url}/metrics`, { headers: { authorization: basic('admin', `m-${i}`) } })
        expect(res.status).toBe(401)
      }
      const ws = gw.url.replace(/^http/, 'ws') + '/ws/logs'
      for (let i = 0; i < 3; i++)
        expect(await upgradeStatus(ws, { authorization: basic('admin', `w-${i}`) })).toBe(401)

      // The tenth failure started a back-off on every route: even the right password waits.
      const waiting = await login(PASSWORD)
      expect(waiting.status).toBe(429)
      const retryAfter = Number(waiting.headers.get('retry-after'))
      expect(retryAfter).toBeGreaterThan(0)
      expect(retryAfter).toBeLessThanOrEqual(1)
      expect(await waiting.json()).toMatchObject({
        status_code: 429,
        error: { message: expect.stringMatching(/too many failed login attempts/) },
      })
      const metrics = await fetch(`${gw.url}/metrics`, {
        headers: { authorization: basic('admin', PASSWORD) },
      })
      expect(metrics.status).toBe(429)

      await sleep(retryAfter * 1000 + 100)
      const ok = await login(PASSWORD)
      expect(ok.status).toBe(200)
      expect(ok.headers.get('set-cookie')).toMatch(/HttpOnly/)
    } finally {
      await gw.close()
    }
  })

  it('grows the wait with each further failure, up to a minute, and never refuses the right password after it', async () => {
    let clock = Date.parse('2030-01-01T00:00:00Z')
    const app = Fastify()
    installErrorHandlers(app)
    const adminAuth = createAdminAuth({
      auth: AUTH,
      db: undefined,
      env: { HEIMDALL_TEST_PASSWORD: PASSWORD },
      now: () => clock,
    })
    registerSessionRoutes(app, { adminAuth, enforceAuthOnInference: false })
    const login = (password: string) =>
      app.inject({
        method: 'POST',
        url: '/api/session/login',
        payload: { username: 'admin', password },
        remoteAddress: '10.0.0.7',
      })
    for (let i = 0; i < 9; i++) expect((await login('wrong')).statusCode).toBe(401)
    const waits: number[] = []
    for (let i = 0; i < 9; i++) {
      expect((await login('wrong')).statusCode).toBe(401)
      const refused = await login(PASSWORD)
      expect(refused.statusCode).toBe(429)
      const wait = Number(refused.headers['retry-after'])
      waits.push(wait)
      clock += wait * 1000
    }
    expect(waits).toEqual([1, 2, 4, 8, 16, 32, 60, 60, 60])
    expect((await login(PASSWORD)).statusCode).toBe(200)
    // A success forgets the failures.
    expect((await login('wrong')).statusCode).toBe(401)
    expect((await login(PASSWORD)).statusCode).toBe(200)
    await app.close()
  })
})

describe('sessions bound to the admin credentials', () => {
  it('a changed password in config ends the sessions opened with the old one', async () => {
    const appDir = await mkdtemp(join(tmpdir(), 'heimdall-sessions-'))
    dirs.push(appDir)
    const start = (password: string) =>
      startHeimdall({ auth_config: AUTH }, { appDir, env: { HEIMDALL_TEST_PASSWORD: password } })
    const providers = (url: string, token: string) =>
      fetch(`${url}/api/providers`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status)

    let gw = await start(PASSWORD)
    const res = await fetch(`${gw.url}/api/session/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: PASSWORD }),
    })
    const { token } = (await res.json()) as { token: string }
    expect(await providers(gw.url, token)).toBe(200)
    await gw.close()

    gw = await start(PASSWORD)
    expect(await providers(gw.url, token), 'same password after a restart').toBe(200)
    await gw.close()

    gw = await start('a new admin password')
    try {
      expect(await providers(gw.url, token), 'after the password changed').toBe(401)
      const cookie = await fetch(`${gw.url}/api/session/is-auth-enabled`, {
        headers: { cookie: `heimdall_session=${token}` },
      })
      expect(await cookie.json()).toMatchObject({ is_auth_enabled: true, has_valid_token: false })
    } finally {
      await gw.close()
    }
  })
})
