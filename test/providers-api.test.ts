import { randomBytes } from 'node:crypto'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pino } from 'pino'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { ConfigFile, StoreSpec } from '../src/core/schemas/index.js'
import { createHeimdall } from '../src/http/app.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { postgresBackend, tempDir, withPgClient } from './helpers/databases.js'

/**
 * The provider management API as a user drives it, against the real server on both config stores:
 * changes apply at once, secrets never come back in clear, and what was saved survives a restart.
 */

const secret = (label: string) => `sk-${label}-${randomBytes(12).toString('hex')}`
const API_SECRET = secret('api')
const OTHER_SECRET = secret('other')
const ENV_SECRET = secret('env')
const FILE_SECRET = secret('file')
const FILE_SECRET_2 = secret('file2')
const SECRETS = [API_SECRET, OTHER_SECRET, ENV_SECRET, FILE_SECRET, FILE_SECRET_2]
const ENV = { HEIMDALL_E2E_PROVIDER_KEY: ENV_SECRET }

/** Bifrost's redaction: first 4 and last 4 characters around 24 asterisks. */
const redacted = (value: string) => `${value.slice(0, 4)}${'*'.repeat(24)}${value.slice(-4)}`

/** Where one test keeps its configuration: an app dir, and for PostgreSQL the config_store section. */
interface Place {
  appDir: string
  configStore?: StoreSpec
}

/**
 * A config store to run the suite against: the shared SQLite and PostgreSQL backends, seen as the
 * app dir and config_store section a user would write.
 */
interface Backend {
  kind: 'sqlite' | 'postgres'
  fresh(): Promise<Place>
  /** Everything the store holds, as text, to look for secrets in. */
  rawContents(place: Place): Promise<string>
  teardown(): Promise<void>
}

/** The default store: config.db in the app dir. */
function sqlitePlaces(): Backend {
  return {
    kind: 'sqlite',
    fresh: async () => ({ appDir: tempDir('providers-api') }),
    async rawContents(place) {
      // The database and its WAL / journal files, byte for byte.
      const files = (await readdir(place.appDir)).filter((f) => f.startsWith('config.db'))
      expect(files).toContain('config.db')
      const bytes = await Promise.all(files.map((f) => readFile(join(place.appDir, f))))
      return Buffer.concat(bytes).toString('latin1')
    },
    teardown: async () => undefined,
  }
}

/** A config_store section naming a schema of its own in the run's database. */
function postgresPlaces(): Backend {
  const db = postgresBackend('providers-api')
  const urlOf = (place: Place) => String(place.configStore?.config?.connection_string)
  return {
    kind: 'postgres',
    async fresh() {
      const connectionString = await db.freshUrl()
      return {
        appDir: tempDir('providers-api'),
        configStore: { enabled: true, type: 'postgres', config: { connection_string: connectionString } },
      }
    },
    rawContents: (place) =>
      withPgClient(urlOf(place), async (c) => {
        const rows: unknown[] = []
        for (const table of ['providers', 'provider_keys', 'kv'])
          rows.push((await c.query(`SELECT * FROM ${table}`)).rows)
        return JSON.stringify(rows)
      }),
    teardown: () => db.teardown(),
  }
}

interface Gw {
  url: string
  close(): Promise<void>
}

const running = new Set<Gw>()

/** Starts the real server the way a user does: config.json in the app dir, the store it names. */
async function start(place: Place, config: ConfigFile = {}): Promise<Gw> {
  const file: ConfigFile = { ...config, ...(place.configStore && { config_store: place.configStore }) }
  await writeFile(join(place.appDir, 'config.json'), JSON.stringify(file, null, 2))
  const heimdall = await createHeimdall({
    appDir: place.appDir,
    port: 0,
    host: '127.0.0.1',
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    env: { ...process.env, ...ENV },
  })
  const url = await heimdall.listen()
  const gw: Gw = {
    url,
    async close() {
      running.delete(gw)
      await heimdall.close()
    },
  }
  running.add(gw)
  return gw
}

interface Answer {
  status: number
  body: any
}

/** One HTTP call; every answer is checked for leaked secrets, whatever the test is about. */
async function call(gw: Gw, method: string, path: string, body?: unknown): Promise<Answer> {
  const res = await fetch(gw.url + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  })
  const text = await res.text()
  for (const s of SECRETS) expect(text, `${method} ${path} shows a secret in clear`).not.toContain(s)
  return { status: res.status, body: text ? JSON.parse(text) : undefined }
}

const chat = (gw: Gw, model: string) =>
  call(gw, 'POST', '/v1/chat/completions', { model, messages: [{ role: 'user', content: 'hi' }] })

/** The Authorization header of the fake's last request. */
const lastAuth = (fake: FakeServer) => fake.requests.at(-1)?.headers.authorization

function expectManagementError(answer: Answer, status: number): void {
  expect(answer.status).toBe(status)
  expect(answer.body).toMatchObject({
    is_bifrost_error: false,
    status_code: status,
    error: { type: expect.any(String), code: expect.any(String), message: expect.any(String) },
  })
}

let fakeA: FakeServer
let fakeB: FakeServer
beforeAll(async () => {
  fakeA = await startFakeOpenAI()
  fakeB = await startFakeOpenAI()
})
afterAll(async () => {
  await fakeA.close()
  await fakeB.close()
})
beforeEach(() => {
  fakeA.reset()
  fakeB.reset()
})
afterEach(async () => {
  for (const gw of [...running]) await gw.close()
})

describe.each([sqlitePlaces(), postgresPlaces()])('provider management API on $kind', (backend) => {
  afterAll(async () => {
    for (const gw of [...running]) await gw.close()
    await backend.teardown()
  })

  const openaiBody = (baseUrl: string, keys: unknown[]) => ({
    provider: 'openai',
    keys,
    network_config: { base_url: baseUrl },
  })

  it('adds a provider at run time and serves it at once; deleting it makes requests fail again', async () => {
    const gw = await start(await backend.fresh())
    expect((await call(gw, 'GET', '/api/providers')).body).toEqual({ providers: [], total: 0 })
    expect((await chat(gw, 'openai/gpt-4o-mini')).status).toBe(400)

    const added = await call(
      gw,
      'POST',
      '/api/providers',
      openaiBody(fakeA.url, [{ name: 'main', value: API_SECRET }]),
    )
    expect(added.status).toBe(200)
    expect(added.body).toMatchObject({ name: 'openai', network_config: { base_url: fakeA.url } })

    const served = await chat(gw, 'openai/gpt-4o-mini')
    expect(served.status).toBe(200)
    expect(served.body.choices[0].message.content).toBe('Echo: hi')
    expect(fakeA.requests).toHaveLength(1)
    expect(lastAuth(fakeA)).toBe(`Bearer ${API_SECRET}`)

    const list = await call(gw, 'GET', '/api/providers')
    expect(list.body.total).toBe(1)
    expect(list.body.providers.map((p: any) => p.name)).toEqual(['openai'])

    const deleted = await call(gw, 'DELETE', '/api/providers/openai')
    expect(deleted.status).toBe(200)
    const after = await chat(gw, 'openai/gpt-4o-mini')
    expect(after.status).toBe(400)
    expect(after.body).toMatchObject({
      is_bifrost_error: true,
      status_code: 400,
      error: { code: 'provider_not_configured' },
      extra_fields: { provider: 'openai', model_requested: 'openai/gpt-4o-mini' },
    })
    expect(fakeA.requests).toHaveLength(1)
    expectManagementError(await call(gw, 'GET', '/api/providers/openai'), 404)
    expect((await call(gw, 'GET', '/api/providers')).body.total).toBe(0)
  })

  it('never shows a literal secret in a response, and shows env.VAR references as written', async () => {
    const gw = await start(await backend.fresh())
    const added = await call(
      gw,
      'POST',
      '/api/providers',
      openaiBody(fakeA.url, [
        { id: 'k-literal', name: 'literal', value: API_SECRET, models: ['gpt-4o-mini'] },
        { id: 'k-env', name: 'from-env', value: 'env.HEIMDALL_E2E_PROVIDER_KEY', models: ['gpt-4o'] },
      ]),
    )
    expect(added.status).toBe(200)
    const expectShown = (keys: any[]) => {
      const byId = Object.fromEntries(keys.map((k) => [k.id, k.value]))
      expect(byId['k-literal']).toBe(redacted(API_SECRET))
      expect(byId['k-env']).toBe('env.HEIMDALL_E2E_PROVIDER_KEY')
    }
    expectShown(added.body.keys)
    expectShown((await call(gw, 'GET', '/api/providers')).body.providers[0].keys)
    expectShown((await call(gw, 'GET', '/api/providers/openai')).body.keys)
    expectShown((await call(gw, 'GET', '/api/providers/openai/keys')).body.keys)
    expect((await call(gw, 'GET', '/api/providers/openai/keys/k-literal')).body.value).toBe(
      redacted(API_SECRET),
    )
    expect((await call(gw, 'GET', '/api/providers/openai/keys/k-env')).body.value).toBe(
      'env.HEIMDALL_E2E_PROVIDER_KEY',
    )

    // The reference is resolved only when the key is used.
    expect((await chat(gw, 'openai/gpt-4o')).status).toBe(200)
    expect(lastAuth(fakeA)).toBe(`Bearer ${ENV_SECRET}`)
    expect((await chat(gw, 'openai/gpt-4o-mini')).status).toBe(200)
    expect(lastAuth(fakeA)).toBe(`Bearer ${API_SECRET}`)

    // Short secrets are all asterisks; the answer of every write is redacted too.
    const short = await call(gw, 'POST', '/api/providers/openai/keys', { name: 'short', value: 'abc12345' })
    expect(short.status).toBe(200)
    expect(short.body.value).toBe('********')
    const removed = await call(gw, 'DELETE', '/api/providers/openai/keys/k-literal')
    expect(removed.body.value).toBe(redacted(API_SECRET))
    expect((await call(gw, 'DELETE', '/api/providers/openai')).body.keys).toHaveLength(2)
  })

  it('PUT is a full replace: a redacted value sent back keeps the secret, a key left out is deleted', async () => {
    const place = await backend.fresh()
    let gw = await start(place)
    await call(
      gw,
      'POST',
      '/api/providers',
      openaiBody(fakeA.url, [
        { id: 'k-main', name: 'main', value: API_SECRET, models: ['gpt-4o-mini'] },
        { id: 'k-extra', name: 'extra', value: OTHER_SECRET, models: ['gpt-4o'] },
      ]),
    )
    const { body: current } = await call(gw, 'GET', '/api/providers/openai')
    expect(current.keys.map((k: any) => k.value)).toEqual([redacted(API_SECRET), redacted(OTHER_SECRET)])

    // What a UI does: take what GET showed, change a field, drop a key, send it all back.
    const { name: _name, ...rest } = current
    const put = await call(gw, 'PUT', '/api/providers/openai', {
      ...rest,
      keys: [{ ...current.keys[0], weight: 2 }],
      network_config: { ...current.network_config, max_retries: 1 },
    })
    expect(put.status).toBe(200)
    expect(put.body.keys).toHaveLength(1)
    expect(put.body.keys[0]).toMatchObject({ id: 'k-main', value: redacted(API_SECRET), weight: 2 })
    expect(put.body.network_config).toMatchObject({ base_url: fakeA.url, max_retries: 1 })

    expect((await chat(gw, 'openai/gpt-4o-mini')).status).toBe(200)
    expect(lastAuth(fakeA)).toBe(`Bearer ${API_SECRET}`)
    // The deleted key's model has no key left.
    const orphan = await chat(gw, 'openai/gpt-4o')
    expect(orphan.status).toBe(400)
    expect(orphan.body.error.code).toBe('no_key_for_model')
    expectManagementError(await call(gw, 'GET', '/api/providers/openai/keys/k-extra'), 404)

    // What was stored is the secret, not the mask.
    await gw.close()
    gw = await start(place)
    expect((await call(gw, 'GET', '/api/providers/openai')).body.keys.map((k: any) => k.id)).toEqual([
      'k-main',
    ])
    expect((await chat(gw, 'openai/gpt-4o-mini')).status).toBe(200)
    expect(lastAuth(fakeA)).toBe(`Bearer ${API_SECRET}`)
  })

  it('manages keys one by one under /api/providers/{provider}/keys', async () => {
    const gw = await start(await backend.fresh())
    await call(gw, 'POST', '/api/providers', openaiBody(fakeA.url, []))

    const created = await call(gw, 'POST', '/api/providers/openai/keys', { name: 'main', value: API_SECRET })
    expect(created.status).toBe(200)
    expect(created.body).toMatchObject({ name: 'main', value: redacted(API_SECRET), enabled: true })
    const id: string = created.body.id
    expect(id).toEqual(expect.any(String))
    expect(id.length).toBeGreaterThan(0)

    expect((await chat(gw, 'openai/gpt-4o-mini')).status).toBe(200)
    expect(lastAuth(fakeA)).toBe(`Bearer ${API_SECRET}`)

    const listed = await call(gw, 'GET', '/api/providers/openai/keys')
    expect(listed.body).toMatchObject({ total: 1, keys: [{ id, value: redacted(API_SECRET) }] })
    expect((await call(gw, 'GET', `/api/providers/openai/keys/${id}`)).body).toMatchObject({
      id,
      name: 'main',
    })

    // Sending the redacted value back keeps the secret; a new value replaces it.
    const kept = await call(gw, 'PUT', `/api/providers/openai/keys/${id}`, {
      ...created.body,
      models: ['gpt-4o-mini'],
    })
    expect(kept.status).toBe(200)
    expect(kept.body).toMatchObject({ id, models: ['gpt-4o-mini'], value: redacted(API_SECRET) })
    expect((await chat(gw, 'openai/gpt-4o-mini')).status).toBe(200)
    expect(lastAuth(fakeA)).toBe(`Bearer ${API_SECRET}`)
    const replaced = await call(gw, 'PUT', `/api/providers/openai/keys/${id}`, {
      ...kept.body,
      value: 'env.HEIMDALL_E2E_PROVIDER_KEY',
    })
    expect(replaced.body.value).toBe('env.HEIMDALL_E2E_PROVIDER_KEY')
    expect((await chat(gw, 'openai/gpt-4o-mini')).status).toBe(200)
    expect(lastAuth(fakeA)).toBe(`Bearer ${ENV_SECRET}`)

    expectManagementError(
      await call(gw, 'POST', '/api/providers/openai/keys', { id, name: 'again', value: API_SECRET }),
      409,
    )

    const deleted = await call(gw, 'DELETE', `/api/providers/openai/keys/${id}`)
    expect(deleted.status).toBe(200)
    expect(deleted.body.id).toBe(id)
    expectManagementError(await call(gw, 'GET', `/api/providers/openai/keys/${id}`), 404)
    expect((await call(gw, 'GET', '/api/providers/openai/keys')).body.total).toBe(0)
    expect((await chat(gw, 'openai/gpt-4o-mini')).status).toBe(400)
  })

  it('lists every key of every provider at /api/keys, as a bare array (Bifrost)', async () => {
    const gw = await start(await backend.fresh())
    await call(
      gw,
      'POST',
      '/api/providers',
      openaiBody(fakeA.url, [{ id: 'k-openai', name: 'main', value: API_SECRET }]),
    )
    await call(gw, 'POST', '/api/providers', {
      provider: 'groq',
      keys: [{ id: 'k-groq', name: 'groq', value: 'env.HEIMDALL_E2E_PROVIDER_KEY' }],
      network_config: { base_url: fakeB.url },
    })
    const all = await call(gw, 'GET', '/api/keys')
    expect(all.status).toBe(200)
    // paths/management/providers.yaml#/keys: `type: array` of Key; Bifrost's handler sends the slice itself.
    expect(Array.isArray(all.body)).toBe(true)
    const byId = Object.fromEntries((all.body as any[]).map((k) => [k.id, k]))
    expect(Object.keys(byId).sort()).toEqual(['k-groq', 'k-openai'])
    expect(byId['k-openai']).toMatchObject({ provider: 'openai', value: redacted(API_SECRET) })
    expect(byId['k-groq']).toMatchObject({ provider: 'groq', value: 'env.HEIMDALL_E2E_PROVIDER_KEY' })
  })

  it('refuses to create a key without a value', async () => {
    const gw = await start(await backend.fresh())
    await call(gw, 'POST', '/api/providers', openaiBody(fakeA.url, []))
    // paths/management/providers.yaml#/provider-keys: "`value` is required and must not be empty".
    expectManagementError(await call(gw, 'POST', '/api/providers/openai/keys', { name: 'no-value' }), 400)
    expectManagementError(
      await call(gw, 'POST', '/api/providers/openai/keys', { name: 'empty', value: '' }),
      400,
    )
    expect((await call(gw, 'GET', '/api/providers/openai/keys')).body.total).toBe(0)
  })

  it('answers 409, 404 and 400 for a duplicate, a missing and an unknown provider', async () => {
    const gw = await start(await backend.fresh(), {
      providers: { openai: { keys: [{ name: 'main', value: FILE_SECRET }] } },
    })
    // The provider came from config.json: adding it again is still a conflict.
    expectManagementError(
      await call(gw, 'POST', '/api/providers', openaiBody(fakeA.url, [{ value: API_SECRET }])),
      409,
    )
    expectManagementError(await call(gw, 'GET', '/api/providers/anthropic'), 404)
    expectManagementError(await call(gw, 'DELETE', '/api/providers/anthropic'), 404)
    expectManagementError(await call(gw, 'GET', '/api/providers/anthropic/keys'), 404)
    expectManagementError(
      await call(gw, 'POST', '/api/providers/anthropic/keys', { name: 'x', value: API_SECRET }),
      404,
    )
    expectManagementError(await call(gw, 'GET', '/api/providers/openai/keys/no-such-key'), 404)
    expectManagementError(
      await call(gw, 'PUT', '/api/providers/openai/keys/no-such-key', { name: 'x', value: API_SECRET }),
      404,
    )
    expectManagementError(await call(gw, 'DELETE', '/api/providers/openai/keys/no-such-key'), 404)

    const unknown = await call(gw, 'POST', '/api/providers', {
      provider: 'acme-ai',
      keys: [{ value: API_SECRET }],
      network_config: { base_url: fakeA.url },
    })
    expectManagementError(unknown, 400)
    expect(unknown.body.error.message).toContain('custom_provider_config')
    // A custom provider may not take a built-in's name.
    expectManagementError(
      await call(gw, 'POST', '/api/providers', {
        provider: 'mistral',
        keys: [{ value: API_SECRET }],
        custom_provider_config: { base_provider_type: 'openai' },
      }),
      400,
    )
    // Nothing of the refused requests was kept.
    const names = (await call(gw, 'GET', '/api/providers')).body.providers.map((p: any) => p.name)
    expect(names).toEqual(['openai'])
  })

  it('serves a custom provider built on the OpenAI wire format under its own name', async () => {
    const other = { keys: [{ value: FILE_SECRET }], network_config: { base_url: fakeB.url } }
    const gw = await start(await backend.fresh(), { providers: { groq: other, deepseek: other } })
    const added = await call(gw, 'POST', '/api/providers', {
      provider: 'my-openai',
      keys: [{ name: 'main', value: API_SECRET }],
      network_config: { base_url: fakeA.url },
      custom_provider_config: { base_provider_type: 'openai' },
    })
    expect(added.status).toBe(200)
    expect(added.body.custom_provider_config).toMatchObject({ base_provider_type: 'openai' })

    const served = await chat(gw, 'my-openai/gpt-4o-mini')
    expect(served.status).toBe(200)
    expect(served.body.choices[0].message.content).toBe('Echo: hi')
    expect(fakeA.requests).toHaveLength(1)
    expect(fakeA.requests[0].body.model).toBe('gpt-4o-mini')
    expect(lastAuth(fakeA)).toBe(`Bearer ${API_SECRET}`)
    expect(fakeB.requests).toHaveLength(0)

    await call(gw, 'DELETE', '/api/providers/my-openai')
    const gone = await chat(gw, 'my-openai/gpt-4o-mini')
    expect(gone.status).toBe(400)
    expect(gone.body).toMatchObject({
      is_bifrost_error: true,
      status_code: 400,
      error: { code: 'unknown_provider' },
      extra_fields: { model_requested: 'my-openai/gpt-4o-mini' },
    })
    expect(fakeA.requests).toHaveLength(1)
    expect(fakeB.requests).toHaveLength(0)
  })

  it('keeps a provider added through the API across a restart', async () => {
    const place = await backend.fresh()
    let gw = await start(place)
    await call(
      gw,
      'POST',
      '/api/providers',
      openaiBody(fakeA.url, [{ id: 'k-main', name: 'main', value: API_SECRET }]),
    )
    await gw.close()

    gw = await start(place)
    const { status, body } = await call(gw, 'GET', '/api/providers/openai')
    expect(status).toBe(200)
    expect(body).toMatchObject({
      name: 'openai',
      network_config: { base_url: fakeA.url },
      keys: [{ id: 'k-main', name: 'main', value: redacted(API_SECRET) }],
    })
    expect((await chat(gw, 'openai/gpt-4o-mini')).status).toBe(200)
    expect(lastAuth(fakeA)).toBe(`Bearer ${API_SECRET}`)
  })

  it('keeps API edits while the config.json entry is unchanged, and lets an edited entry win', async () => {
    const place = await backend.fresh()
    const fileV1: ConfigFile = {
      providers: {
        openai: { keys: [{ name: 'main', value: FILE_SECRET }], network_config: { base_url: fakeA.url } },
      },
    }
    let gw = await start(place, fileV1)
    const { body: imported } = await call(gw, 'GET', '/api/providers/openai')
    const keyId: string = imported.keys[0].id
    const { name: _name, ...rest } = imported
    const edited = await call(gw, 'PUT', '/api/providers/openai', {
      ...rest,
      network_config: { ...imported.network_config, base_url: fakeB.url },
    })
    expect(edited.status).toBe(200)
    // A provider that exists only in the store.
    await call(gw, 'POST', '/api/providers', {
      provider: 'groq',
      keys: [{ value: API_SECRET }],
      network_config: { base_url: fakeA.url },
    })
    await gw.close()

    // Same file: the API edit survives.
    gw = await start(place, fileV1)
    expect((await call(gw, 'GET', '/api/providers/openai')).body.network_config.base_url).toBe(fakeB.url)
    expect((await chat(gw, 'openai/gpt-4o-mini')).status).toBe(200)
    expect(fakeB.requests).toHaveLength(1)
    expect(lastAuth(fakeB)).toBe(`Bearer ${FILE_SECRET}`)
    expect(fakeA.requests).toHaveLength(0)
    await gw.close()

    // Edited file entry: the file wins at the next start, and the key keeps its id.
    const fileV2: ConfigFile = {
      providers: {
        openai: { keys: [{ name: 'main', value: FILE_SECRET_2 }], network_config: { base_url: fakeA.url } },
      },
    }
    gw = await start(place, fileV2)
    const { body: reimported } = await call(gw, 'GET', '/api/providers/openai')
    expect(reimported.network_config.base_url).toBe(fakeA.url)
    expect(reimported.keys).toMatchObject([{ id: keyId, value: redacted(FILE_SECRET_2) }])
    expect((await chat(gw, 'openai/gpt-4o-mini')).status).toBe(200)
    expect(fakeA.requests).toHaveLength(1)
    expect(lastAuth(fakeA)).toBe(`Bearer ${FILE_SECRET_2}`)
    // Providers found only in the store are kept.
    const names = (await call(gw, 'GET', '/api/providers')).body.providers.map((p: any) => p.name)
    expect(names.sort()).toEqual(['groq', 'openai'])
  })

  it('with an encryption_key, stores no secret in clear and still serves after a restart', async () => {
    const place = await backend.fresh()
    const config: ConfigFile = {
      encryption_key: 'e2e test passphrase, not a real one',
      providers: {
        openai: { keys: [{ name: 'main', value: FILE_SECRET }], network_config: { base_url: fakeA.url } },
      },
    }
    let gw = await start(place, config)
    await call(gw, 'POST', '/api/providers', {
      provider: 'groq',
      keys: [{ id: 'k-groq', name: 'groq-main', value: API_SECRET }],
      network_config: { base_url: fakeB.url },
    })
    const expectSealed = async () => {
      const raw = await backend.rawContents(place)
      // The rows are there (the check is not vacuous), their secrets are not.
      expect(raw).toContain('groq-main')
      expect(raw).not.toContain(FILE_SECRET)
      expect(raw).not.toContain(API_SECRET)
    }
    await expectSealed()
    await gw.close()
    await expectSealed()

    gw = await start(place, config)
    expect((await chat(gw, 'groq/llama-3.1-8b')).status).toBe(200)
    expect(lastAuth(fakeB)).toBe(`Bearer ${API_SECRET}`)
    expect((await chat(gw, 'openai/gpt-4o-mini')).status).toBe(200)
    expect(lastAuth(fakeA)).toBe(`Bearer ${FILE_SECRET}`)
    await gw.close()

    // Another key cannot open the store: a clear refusal at start, not garbage secrets.
    await expect(start(place, { ...config, encryption_key: 'another passphrase' })).rejects.toThrow(
      /encryption key/,
    )
  })
})
