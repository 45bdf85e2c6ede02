import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHeimdall } from '../src/http/app.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { fakeProvider, startHeimdall } from './helpers/heimdall.js'

/**
 * Running a command (a stdio MCP client) and naming an environment variable (`env.X`) are the
 * admin's acts: `mcp.allow_stdio: false` forbids stdio clients everywhere (API, config.json,
 * clients stored earlier), and nothing a caller sends on the inference path is resolved as `env.X`.
 */

const dirs: string[] = []
let fake: FakeServer

beforeAll(async () => {
  fake = await startFakeOpenAI()
})
afterAll(async () => {
  await fake.close()
  for (const dir of dirs) await rm(dir, { recursive: true, force: true })
})

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'heimdall-stdio-'))
  dirs.push(dir)
  return dir
}

async function waitFor(check: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) if (check()) return true
  return check()
}

describe('mcp.allow_stdio: false', () => {
  it('refuses to start with a stdio client in config.json', async () => {
    const appDir = await tempDir()
    const start = createHeimdall({
      appDir,
      config: {
        mcp: {
          allow_stdio: false,
          client_configs: [{ name: 'sh', connection_type: 'stdio', stdio_config: { command: '/bin/sh' } }],
        },
      },
      port: 0,
      logger: pino({ level: 'silent' }),
    })
    await expect(start).rejects.toThrow(
      /config\.json: mcp\.client_configs\[0\] is a stdio client, which mcp\.allow_stdio: false forbids/,
    )
  })

  it('never starts a stdio client stored while they were allowed, nor lets it be changed; new ones are refused', async () => {
    const appDir = await tempDir()
    const marker = join(appDir, 'ran')
    const client = {
      client_id: 'marker',
      name: 'marker',
      connection_type: 'stdio',
      stdio_config: { command: '/bin/sh', args: ['-c', `echo ran >> ${marker}`] },
    }
    const allowed = await startHeimdall({}, { appDir })
    try {
      const res = await fetch(`${allowed.url}/api/mcp/client`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(client),
      })
      expect(res.status).toBe(200)
      expect(await waitFor(() => existsSync(marker), 5000)).toBe(true)
    } finally {
      await allowed.close()
    }
    await rm(marker, { force: true })

    const forbidden = await startHeimdall({ mcp: { allow_stdio: false } }, { appDir })
    try {
      const list = (await (await fetch(`${forbidden.url}/api/mcp/clients`)).json()) as { clients: unknown[] }
      expect(list.clients).toEqual([])
      const put = await fetch(`${forbidden.url}/api/mcp/client/marker`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ disabled: false }),
      })
      expect(put.status).toBe(404)
      const add = await fetch(`${forbidden.url}/api/mcp/client`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...client, client_id: 'another', name: 'another' }),
      })
      expect(add.status).toBe(403)
      expect(await add.json()).toMatchObject({
        error: { message: expect.stringMatching(/mcp\.allow_stdio/) },
      })
      await sleep(500)
      expect(existsSync(marker)).toBe(false)
    } finally {
      await forbidden.close()
    }
  })
})

describe('env. references on the inference path', () => {
  it('a direct key `env.HOME` is sent upstream as written, never resolved', async () => {
    const gw = await startHeimdall({
      providers: { openai: fakeProvider(fake.url) },
      client: { allow_direct_keys: true },
    })
    try {
      fake.reset()
      const direct: Record<string, string>[] = [
        { authorization: 'Bearer env.HOME' },
        { 'x-api-key': 'env.HOME' },
      ]
      for (const headers of direct) {
        const res = await fetch(`${gw.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-bf-direct-key': 'true', ...headers },
          body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
        })
        expect(res.status, JSON.stringify(headers)).toBe(200)
      }
      expect(fake.requests.map((r) => r.headers.authorization)).toEqual([
        'Bearer env.HOME',
        'Bearer env.HOME',
      ])
      expect(JSON.stringify(fake.requests.map((r) => r.headers))).not.toContain(process.env.HOME ?? '/root')
    } finally {
      await gw.close()
    }
  })
})
