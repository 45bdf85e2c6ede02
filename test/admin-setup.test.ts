import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import type { ConfigFile } from '../src/core/schemas/index.js'
import { createHeimdall, type Heimdall } from '../src/http/app.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { fakeProvider } from './helpers/heimdall.js'

/**
 * A gateway listening beyond loopback with no admin login locks its management API until it is
 * set up with the one-time token it prints at start; inference stays as configured. An admin login
 * may also come from config.json (`auth_config` or `governance.auth_config`) or the environment,
 * and a login block that cannot be read stops the start rather than leave the API open.
 */

const PASSWORD = 'a long admin password'
const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`

interface Started {
  heimdall: Heimdall
  logs: string[]
  stderr: string[]
}

const dirs: string[] = []
const running: Heimdall[] = []

async function appDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'heimdall-setup-'))
  dirs.push(dir)
  return dir
}

/** Heimdall bound to every interface, answering through inject (nothing listens). */
async function startWide(
  config: ConfigFile,
  opts: { dir?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Started> {
  const logs: string[] = []
  const stderr: string[] = []
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr.push(String(chunk))
    return true
  })
  try {
    const heimdall = await createHeimdall({
      appDir: opts.dir ?? (await appDir()),
      config,
      port: 0,
      host: '0.0.0.0',
      logger: pino(
        { level: 'warn' },
        new Writable({
          write(chunk, _enc, done) {
            logs.push(String(chunk))
            done()
          },
        }),
      ),
      env: { ...process.env, ...opts.env },
    })
    running.push(heimdall)
    return { heimdall, logs, stderr }
  } finally {
    spy.mockRestore()
  }
}

function setupTokenOf(started: Started): string {
  const line = started.logs.map((l) => JSON.parse(l)).find((l) => l.setup_token !== undefined)
  expect(line, started.logs.join('\n')).toBeDefined()
  expect(line.level).toBe(40)
  expect(started.stderr.join('')).toContain(line.setup_token)
  return line.setup_token
}

let fake: FakeServer
const CONFIG = (): ConfigFile => ({ providers: { openai: fakeProvider(fake.url) } })
const CHAT = { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }

beforeAll(async () => {
  fake = await startFakeOpenAI()
})
afterEach(async () => {
  for (const h of running.splice(0)) await h.close()
})
afterAll(async () => {
  await fake.close()
  for (const dir of dirs) await rm(dir, { recursive: true, force: true })
})

describe('a gateway beyond loopback without admin login', () => {
  it('locks /api, /ws and /metrics until set up, prints a one-time setup token, and keeps inference open', async () => {
    const started = await startWide(CONFIG())
    const { app } = started.heimdall
    const token = setupTokenOf(started)

    for (const url of ['/api/providers', '/api/mcp/clients', '/ws/logs', '/metrics']) {
      const res = await app.inject({ url })
      expect(res.statusCode, url).toBe(403)
      expect(res.json(), url).toMatchObject({
        is_bifrost_error: false,
        status_code: 403,
        error: { code: 'forbidden', message: expect.stringMatching(/POST \/api\/session\/setup/) },
      })
    }
    const stdio = await app.inject({
      method: 'POST',
      url: '/api/mcp/client',
      payload: { name: 'sh', connection_type: 'stdio', stdio_config: { command: '/bin/sh' } },
    })
    expect(stdio.statusCode).toBe(403)
    expect((await app.inject({ url: '/api/session/is-auth-enabled' })).json()).toMatchObject({
      is_auth_enabled: false,
      setup_required: true,
    })
    expect((await app.inject({ url: '/health' })).statusCode).toBe(200)
    const chat = await app.inject({ method: 'POST', url: '/v1/chat/completions', payload: CHAT })
    expect(chat.statusCode, chat.body).toBe(200)
    expect(token.length).toBeGreaterThanOrEqual(24)
  })

  it('sets the admin login with the setup token, then asks for it; the token works once', async () => {
    const started = await startWide(CONFIG())
    const { app } = started.heimdall
    const token = setupTokenOf(started)
    const setup = (payload: object) => app.inject({ method: 'POST', url: '/api/session/setup', payload })

    const wrong = await setup({ setup_token: 'guess', admin_username: 'admin', admin_password: PASSWORD })
    expect(wrong.statusCode).toBe(401)
    expect(wrong.json()).toMatchObject({ error: { message: 'invalid setup token', param: 'setup_token' } })
    const weak = await setup({ setup_token: token, admin_username: 'admin', admin_password: 'short' })
    expect(weak.statusCode).toBe(400)
    expect(weak.json()).toMatchObject({ error: { param: 'admin_password' } })
    expect((await setup({ setup_token: token })).statusCode).toBe(400)

    const done = await setup({ setup_token: token, admin_username: 'admin', admin_password: PASSWORD })
    expect(done.statusCode, done.body).toBe(200)
    const session = done.json().token as string
    expect(done.headers['set-cookie']).toMatch(/^heimdall_session=[^;]+; Path=\/; HttpOnly; SameSite=Lax/)
    expect(done.headers['set-cookie']).not.toMatch(/Secure/)
    // Behind a TLS proxy the cookie is Secure.
    const viaTls = await app.inject({
      method: 'POST',
      url: '/api/session/login',
      headers: { 'x-forwarded-proto': 'https' },
      payload: { username: 'admin', password: PASSWORD },
    })
    expect(viaTls.headers['set-cookie']).toMatch(/; HttpOnly; SameSite=Lax; .*; Secure$/)

    const open = await app.inject({ url: '/api/providers' })
    expect(open.statusCode).toBe(401)
    expect(
      (await app.inject({ url: '/api/providers', headers: { authorization: `Bearer ${session}` } }))
        .statusCode,
    ).toBe(200)
    expect(
      (await app.inject({ url: '/metrics', headers: { authorization: basic('admin', PASSWORD) } }))
        .statusCode,
    ).toBe(200)
    const again = await setup({ setup_token: token, admin_username: 'eve', admin_password: PASSWORD })
    expect(again.statusCode).toBe(409)
    expect((await app.inject({ url: '/api/session/is-auth-enabled' })).json()).toMatchObject({
      is_auth_enabled: true,
      setup_required: false,
    })
  })

  it('keeps the login set up across a restart, and prints no setup token then', async () => {
    const dir = await appDir()
    const first = await startWide(CONFIG(), { dir })
    const token = setupTokenOf(first)
    const done = await first.heimdall.app.inject({
      method: 'POST',
      url: '/api/session/setup',
      payload: { setup_token: token, admin_username: 'root', admin_password: PASSWORD },
    })
    expect(done.statusCode).toBe(200)
    await running.pop()?.close()

    const second = await startWide(CONFIG(), { dir })
    expect(second.logs.join('')).not.toContain('setup_token')
    expect(second.stderr.join('')).toBe('')
    const { app } = second.heimdall
    expect((await app.inject({ url: '/api/providers' })).statusCode).toBe(401)
    const login = await app.inject({
      method: 'POST',
      url: '/api/session/login',
      payload: { username: 'root', password: PASSWORD },
    })
    expect(login.statusCode).toBe(200)
  })

  it('takes the admin login from HEIMDALL_ADMIN_USERNAME and HEIMDALL_ADMIN_PASSWORD, with no setup', async () => {
    const started = await startWide(CONFIG(), {
      env: { HEIMDALL_ADMIN_USERNAME: 'ops', HEIMDALL_ADMIN_PASSWORD: PASSWORD },
    })
    expect(started.stderr.join('')).toBe('')
    const { app } = started.heimdall
    expect((await app.inject({ url: '/api/providers' })).statusCode).toBe(401)
    expect(
      (await app.inject({ url: '/api/providers', headers: { authorization: basic('ops', PASSWORD) } }))
        .statusCode,
    ).toBe(200)
    await expect(
      startWide(CONFIG(), { env: { HEIMDALL_ADMIN_USERNAME: 'ops', HEIMDALL_ADMIN_PASSWORD: '' } }),
    ).rejects.toThrow(/HEIMDALL_ADMIN_PASSWORD is required/)
  })
})

describe('the admin login in config.json', () => {
  it('is read under governance.auth_config too, as Bifrost does', async () => {
    const started = await startWide({
      ...CONFIG(),
      governance: { auth_config: { is_enabled: true, admin_username: 'gov', admin_password: PASSWORD } },
    })
    const { app } = started.heimdall
    expect(started.stderr.join('')).toBe('')
    const refused = await app.inject({ url: '/api/providers' })
    expect(refused.statusCode).toBe(401)
    const login = await app.inject({
      method: 'POST',
      url: '/api/session/login',
      payload: { username: 'gov', password: PASSWORD },
    })
    expect(login.statusCode, login.body).toBe(200)
    expect(
      (
        await app.inject({
          url: '/api/providers',
          headers: { authorization: `Bearer ${login.json().token}` },
        })
      ).statusCode,
    ).toBe(200)
  })

  it('that cannot be read stops the start, naming the file and the field', async () => {
    const dir = await appDir()
    const configPath = join(dir, 'config.json')
    const attempts: [object, RegExp][] = [
      [
        {
          governance: {
            auth_config: { is_enabled: true, admin_username: 'a', admin_password: 'env.NOT_SET_ANYWHERE' },
          },
        },
        /governance\.auth_config\.admin_password: environment variable NOT_SET_ANYWHERE is not set/,
      ],
      [
        { auth_config: { is_enabled: true, admin_password: PASSWORD } },
        /auth_config\.admin_username is required/,
      ],
      [{ governance: { auth_config: { is_enabled: 'yes' } } }, /governance\.auth_config: .*is_enabled/],
    ]
    for (const [config, message] of attempts) {
      await writeFile(configPath, JSON.stringify(config))
      const start = createHeimdall({ appDir: dir, configPath, port: 0, logger: pino({ level: 'silent' }) })
      await expect(start, JSON.stringify(config)).rejects.toThrow(message)
      await expect(start).rejects.toThrow(configPath)
    }
  })
})
