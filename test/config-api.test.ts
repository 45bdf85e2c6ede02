import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

/** Client settings read and changed at run time through Bifrost's /api/config, kept across restarts. */
describe('/api/config', () => {
  let fake: FakeServer
  let appDir: string

  const call = async (gw: RunningHeimdall, method: string, path: string, body?: unknown) => {
    const res = await fetch(`${gw.url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    return { status: res.status, body: (await res.json()) as any }
  }
  const chat = (gw: RunningHeimdall) =>
    fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    })

  beforeAll(async () => {
    fake = await startFakeOpenAI()
    appDir = await mkdtemp(join(tmpdir(), 'heimdall-config-'))
  })
  afterAll(async () => {
    await fake.close()
    await rm(appDir, { recursive: true, force: true })
  })

  const config = (client: Record<string, unknown> = {}) => ({
    client,
    providers: { openai: fakeProvider(fake.url) },
  })

  it('shows the settings, applies a change at once, and keeps it across a restart', async () => {
    let gw = await startHeimdall(config(), { appDir })
    try {
      const read = await call(gw, 'GET', '/api/config')
      expect(read.status).toBe(200)
      expect(read.body.client_config).toMatchObject({
        enforce_auth_on_inference: false,
        drop_excess_requests: false,
      })
      expect(read.body.is_db_connected).toBe(true)
      expect((await chat(gw)).status).toBe(200)
      const put = await call(gw, 'PUT', '/api/config', { client_config: { enforce_auth_on_inference: true } })
      expect(put.status).toBe(200)
      expect(put.body.restart_required.required).toBe(false)
      const refused = await chat(gw)
      expect(refused.status).toBe(401)
      expect(((await refused.json()) as any).type).toBe('virtual_key_required')
    } finally {
      await gw.close()
    }
    gw = await startHeimdall(config(), { appDir })
    try {
      expect((await call(gw, 'GET', '/api/config')).body.client_config.enforce_auth_on_inference).toBe(true)
      expect((await chat(gw)).status).toBe(401)
    } finally {
      await gw.close()
    }
    // An edited client section in config.json wins at the next start.
    gw = await startHeimdall(config({ drop_excess_requests: true }), { appDir })
    try {
      const read = await call(gw, 'GET', '/api/config')
      expect(read.body.client_config.enforce_auth_on_inference).toBe(false)
      expect(read.body.client_config.drop_excess_requests).toBe(true)
    } finally {
      await gw.close()
    }
  })

  it('flags settings that need a restart, and refuses bad input', async () => {
    const gw = await startHeimdall(config())
    try {
      const put = await call(gw, 'PUT', '/api/config', { client_config: { max_request_body_size_mb: 5 } })
      expect(put.body.restart_required).toMatchObject({ required: true })
      expect(put.body.restart_required.reason).toContain('max_request_body_size_mb')
      const bad = await call(gw, 'PUT', '/api/config', { client_config: { max_total_attempts: 'many' } })
      expect(bad.status).toBe(400)
      expect(bad.body.is_bifrost_error).toBe(false)
      expect((await call(gw, 'PUT', '/api/config', [1])).status).toBe(400)
      const version = await fetch(`${gw.url}/api/version`)
      expect(version.status).toBe(200)
    } finally {
      await gw.close()
    }
  })
})
