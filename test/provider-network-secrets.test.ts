import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

/**
 * A provider's `network_config.extra_headers` often carry credentials, and a `base_url` may hold a
 * user and password: the headers are sealed in the store when an encryption key is set, both are
 * masked in API answers, and an update that sends the masked values back keeps the real ones.
 */

const HEADER_SECRET = `tenant-${randomBytes(12).toString('hex')}`
const URL_PASSWORD = `pw${randomBytes(8).toString('hex')}`
const masked = (value: string) => `${value.slice(0, 4)}${'*'.repeat(24)}${value.slice(-4)}`

let fake: FakeServer
let appDir: string
let gw: RunningHeimdall
let baseUrl: string

beforeAll(async () => {
  fake = await startFakeOpenAI()
  appDir = await mkdtemp(join(tmpdir(), 'heimdall-network-secrets-'))
  baseUrl = fake.url.replace('http://', `http://heimdall:${URL_PASSWORD}@`)
  gw = await startHeimdall({ encryption_key: 'test passphrase, not a real one' } as never, { appDir })
})
afterAll(async () => {
  await gw?.close()
  await fake?.close()
  if (appDir) await rm(appDir, { recursive: true, force: true })
})

async function call(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: any; text: string }> {
  const res = await fetch(gw.url + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  })
  const text = await res.text()
  return { status: res.status, json: text ? JSON.parse(text) : undefined, text }
}

/** The SQLite config store and its WAL, byte for byte. */
async function storeBytes(): Promise<string> {
  const files = (await readdir(appDir)).filter((f) => f.startsWith('config.db'))
  expect(files).toContain('config.db')
  return Buffer.concat(await Promise.all(files.map((f) => readFile(join(appDir, f))))).toString('latin1')
}

async function chatHeader(): Promise<string | undefined> {
  fake.reset()
  const r = await call('POST', '/v1/chat/completions', {
    model: 'groq/llama-3.1-8b',
    messages: [{ role: 'user', content: 'hi' }],
  })
  expect(r.status).toBe(200)
  return fake.requests[0]?.headers['x-tenant-token'] as string | undefined
}

describe('extra_headers and base_url credentials', () => {
  it('are masked in every answer of the providers API, and still sent upstream', async () => {
    const created = await call('POST', '/api/providers', {
      provider: 'groq',
      keys: [{ id: 'k1', name: 'main', value: 'sk-groq-test-key-1234', models: ['*'] }],
      network_config: {
        base_url: baseUrl,
        extra_headers: { 'x-tenant-token': HEADER_SECRET, 'x-plain-ref': 'env.HEIMDALL_TEST_UNSET' },
        max_retries: 0,
      },
    })
    expect(created.status).toBe(200)
    const list = await call('GET', '/api/providers')
    const one = await call('GET', '/api/providers/groq')
    for (const r of [created, list, one]) {
      expect(r.text).not.toContain(HEADER_SECRET)
      expect(r.text).not.toContain(URL_PASSWORD)
    }
    expect(one.json.network_config.extra_headers).toEqual({
      'x-tenant-token': masked(HEADER_SECRET),
      'x-plain-ref': 'env.HEIMDALL_TEST_UNSET',
    })
    expect(one.json.network_config.base_url).toBe(fake.url.replace('http://', 'http://***:***@'))
    expect(await chatHeader()).toBe(HEADER_SECRET)
  })

  it('the header value is not in the store file in clear text', async () => {
    const raw = await storeBytes()
    expect(raw).toContain('x-tenant-token') // the row is there: the check is not vacuous
    expect(raw).not.toContain(HEADER_SECRET)
  })

  it('an update sending the masked values back keeps the real ones', async () => {
    const shown = (await call('GET', '/api/providers/groq')).json
    const put = await call('PUT', '/api/providers/groq', {
      keys: shown.keys,
      network_config: shown.network_config,
    })
    expect(put.status).toBe(200)
    expect(await chatHeader()).toBe(HEADER_SECRET)
    expect(await storeBytes()).toContain(`heimdall:${URL_PASSWORD}@`)
  })

  it('an update with a new value replaces it', async () => {
    const shown = (await call('GET', '/api/providers/groq')).json
    const put = await call('PUT', '/api/providers/groq', {
      keys: shown.keys,
      network_config: { ...shown.network_config, extra_headers: { 'x-tenant-token': 'new-tenant-value-42' } },
    })
    expect(put.status).toBe(200)
    expect(await chatHeader()).toBe('new-tenant-value-42')
  })
})

describe('a store written before an encryption key was set', () => {
  it('has its header values sealed once a key is configured', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'heimdall-network-secrets-late-'))
    const value = `late-${randomBytes(12).toString('hex')}`
    try {
      let node = await startHeimdall({} as never, { appDir: dir })
      const created = await fetch(`${node.url}/api/providers`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          provider: 'mistral',
          keys: [{ name: 'main', value: 'sk-mistral-test-key-1234' }],
          network_config: { base_url: fake.url, extra_headers: { 'x-tenant-token': value } },
        }),
      })
      expect(created.status).toBe(200)
      await node.close()
      node = await startHeimdall({ encryption_key: 'test passphrase, not a real one' } as never, {
        appDir: dir,
      })
      await node.close()
      const files = (await readdir(dir)).filter((f) => f.startsWith('config.db'))
      const raw = Buffer.concat(await Promise.all(files.map((f) => readFile(join(dir, f))))).toString(
        'latin1',
      )
      expect(raw).toContain('x-tenant-token')
      expect(raw).not.toContain(value)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
