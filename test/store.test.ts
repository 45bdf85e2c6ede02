import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { sql } from 'kysely'
import { afterAll, describe, expect, it } from 'vitest'
import { normalizeProvider } from '../src/core/config.js'
import { GatewayError } from '../src/core/errors.js'
import type { ProviderConfig, ProviderConfigInput } from '../src/core/schemas/index.js'
import {
  CONFIG_MIGRATION_TABLE,
  configStoreMigrations,
  isRedactedSecret,
  mergeRedacted,
  mergeRedactedKey,
  migrateDatabase,
  openConfigStore,
  providerConfigHash,
  reconcileProviders,
  redactKey,
  redactProvider,
  redactSecret,
  stableJson,
  type ConfigStore,
  type StoreSpec,
} from '../src/store/index.js'
import { backends, DATABASE_URL, tempDir } from './helpers/databases.js'

const KEY = 'correct horse battery staple'

function sampleInput(): ProviderConfigInput {
  return {
    keys: [
      {
        id: 'k-1',
        name: 'primary',
        value: 'sk-primary-0123456789abcdef',
        models: ['gpt-4o', 'gpt-4o-mini'],
        blacklisted_models: ['o1'],
        weight: 0.7,
        aliases: { fast: 'gpt-4o-mini' },
        use_for_batch_api: true,
        description: 'main key',
      },
      {
        id: 'k-2',
        name: 'azure',
        value: 'azure-api-key-abcdefghijkl',
        weight: 0.3,
        enabled: false,
        azure_key_config: {
          endpoint: 'https://example.openai.azure.com',
          api_version: '2024-10-21',
          client_secret: 'azure-client-secret-xyz',
          deployments: { 'gpt-4o': 'prod-4o' },
        },
      },
      {
        id: 'k-3',
        name: 'bedrock',
        value: '',
        models: [],
        bedrock_key_config: {
          access_key: 'AKIAEXAMPLEACCESS',
          secret_key: 'bedrock-secret-key-123',
          session_token: 'env.AWS_SESSION_TOKEN',
          region: 'us-east-1',
        },
      },
    ],
    network_config: { base_url: 'http://127.0.0.1:9999', extra_headers: { 'x-a': '1' }, max_retries: 2 },
    concurrency_and_buffer_size: { concurrency: 10, buffer_size: 20 },
    proxy_config: { type: 'http', url: 'http://proxy:3128', username: 'u', password: 'proxy-password-1' },
    send_back_raw_response: true,
    custom_provider_config: { base_provider_type: 'openai', allowed_requests: { chat_completion: true } },
  }
}

const sample = (name = 'openai'): ProviderConfig => normalizeProvider(name, sampleInput())

async function rawKeyColumns(store: ConfigStore): Promise<string> {
  const rows = await store.db.selectFrom('provider_keys').select(['value', 'key_configs']).execute()
  const providers = await store.db.selectFrom('providers').select('proxy_config').execute()
  return JSON.stringify([rows, providers])
}

describe.each(backends('store'))('config store on $kind', (backend) => {
  const appDir = tempDir('store')
  const open = (spec: StoreSpec, encryptionKey?: string): Promise<ConfigStore> =>
    openConfigStore(spec, { appDir, ...(encryptionKey !== undefined && { encryptionKey }) })

  afterAll(() => backend.teardown())

  it('runs its migrations once and again not at all on reopen', async () => {
    const spec = await backend.fresh()
    const first = await open(spec)
    expect(first.kind).toBe(backend.kind)
    await first.putProvider(sample())
    await first.close()
    await first.close() // closing twice is harmless

    const second = await open(spec)
    expect((await second.getProvider('openai'))?.keys).toHaveLength(3)
    expect(
      await migrateDatabase(second.db, configStoreMigrations, {
        kind: backend.kind,
        tableName: CONFIG_MIGRATION_TABLE,
      }),
    ).toEqual([])
    const applied = await sql<{
      name: string
    }>`select name from ${sql.table(CONFIG_MIGRATION_TABLE)}`.execute(second.db)
    expect(applied.rows.map((r) => r.name)).toEqual(Object.keys(configStoreMigrations))
    await second.ping()
    await second.close()
    await expect(second.ping()).rejects.toMatchObject({ code: 'store_unavailable' })
  })

  it('stores a provider with its keys and reads back the same, keys in order', async () => {
    const store = await open(await backend.fresh())
    try {
      const openai = sample('openai')
      const other = normalizeProvider('anthropic', { keys: [{ id: 'a-1', value: 'env.ANTHROPIC_KEY' }] })
      await store.putProvider(other)
      await store.putProvider(openai)

      expect(await store.getProvider('openai')).toEqual(openai)
      expect(await store.getProvider('missing')).toBeUndefined()
      const list = await store.listProviders()
      expect(list.map((p) => p.name)).toEqual(['anthropic', 'openai'])
      expect(list[1]).toEqual(openai)
      expect(list[1].keys.map((k) => k.id)).toEqual(['k-1', 'k-2', 'k-3'])
      expect(list[1].keys[0].weight).toBe(0.7)
      expect(list[0].keys[0]).toEqual({
        id: 'a-1',
        name: 'key-1',
        value: 'env.ANTHROPIC_KEY',
        models: ['*'],
        blacklisted_models: [],
        weight: 1,
        enabled: true,
      })

      expect(await store.deleteProvider('openai')).toBe(true)
      expect(await store.deleteProvider('openai')).toBe(false)
      expect(await store.getProvider('openai')).toBeUndefined()
      const keys = await store.db.selectFrom('provider_keys').select('id').execute()
      expect(keys.map((k) => k.id)).toEqual(['a-1'])
    } finally {
      await store.close()
    }
  })

  it('replaces a provider fully: missing keys are deleted, order follows the new list', async () => {
    const store = await open(await backend.fresh())
    try {
      const cfg = sample()
      cfg.config_hash = 'from-file'
      await store.putProvider(cfg)
      const replaced: ProviderConfig = {
        ...cfg,
        config_hash: undefined,
        keys: [{ ...cfg.keys[2], weight: 5 }, cfg.keys[0]],
        proxy_config: undefined,
        send_back_raw_response: undefined,
      }
      delete replaced.config_hash
      delete replaced.proxy_config
      delete replaced.send_back_raw_response
      await store.putProvider(replaced)

      const got = await store.getProvider('openai')
      expect(got?.keys.map((k) => [k.id, k.weight])).toEqual([
        ['k-3', 5],
        ['k-1', 0.7],
      ])
      expect(got?.proxy_config).toBeUndefined()
      expect(got?.send_back_raw_response).toBeUndefined()
      // an update without a hash keeps the link to the config.json entry
      expect(got?.config_hash).toBe('from-file')
      const ids = await store.db.selectFrom('provider_keys').select('id').orderBy('id').execute()
      expect(ids.map((r) => r.id)).toEqual(['k-1', 'k-3'])

      await store.putProvider({ ...replaced, keys: [] })
      expect((await store.getProvider('openai'))?.keys).toEqual([])
    } finally {
      await store.close()
    }
  })

  it('refuses a key id that belongs to another provider, and a repeated one', async () => {
    const store = await open(await backend.fresh())
    try {
      await store.putProvider(sample('openai'))
      const thief = normalizeProvider('groq', { keys: [{ id: 'k-1', value: 'x' }] })
      await expect(store.putProvider(thief)).rejects.toMatchObject({ code: 'conflict' })
      expect(await store.getProvider('groq')).toBeUndefined()
      const twice = normalizeProvider('groq', {
        keys: [
          { id: 'g', value: 'x' },
          { id: 'g', value: 'y' },
        ],
      })
      await expect(store.putProvider(twice)).rejects.toMatchObject({ code: 'invalid_request' })
    } finally {
      await store.close()
    }
  })

  it('encrypts secrets at rest and reads them back only with the same key', async () => {
    const spec = await backend.fresh()
    const store = await open(spec, KEY)
    expect(store.encrypted).toBe(true)
    const cfg = sample()
    await store.putProvider(cfg)
    const raw = await rawKeyColumns(store)
    for (const secret of [
      'sk-primary-0123456789abcdef',
      'azure-api-key-abcdefghijkl',
      'azure-client-secret-xyz',
      'AKIAEXAMPLEACCESS',
      'bedrock-secret-key-123',
      'proxy-password-1',
    ]) {
      expect(raw).not.toContain(secret)
    }
    expect(raw).toContain('enc:v1:')
    // what is not secret stays readable
    expect(raw).toContain('2024-10-21')
    expect(raw).toContain('env.AWS_SESSION_TOKEN')
    expect(await store.getProvider('openai')).toEqual(cfg)
    await store.close()

    const again = await open(spec, KEY)
    expect(await again.getProvider('openai')).toEqual(cfg)
    await again.close()

    const wrong = open(spec, 'another key')
    await expect(wrong).rejects.toBeInstanceOf(GatewayError)
    await expect(wrong).rejects.toThrow(/encryption key does not match/)
    await expect(open(spec)).rejects.toThrow(/no encryption key is configured/)
  })

  it('keeps env references unresolved, encrypted store or not', async () => {
    process.env.HEIMDALL_STORE_TEST_KEY = 'resolved-value-must-not-be-stored'
    const store = await open(await backend.fresh(), KEY)
    try {
      const cfg = normalizeProvider('openai', {
        keys: [
          {
            id: 'e-1',
            value: 'env.HEIMDALL_STORE_TEST_KEY',
            vertex_key_config: { auth_credentials: 'env.GCP' },
          },
        ],
      })
      await store.putProvider(cfg)
      const row = await store.db.selectFrom('provider_keys').selectAll().executeTakeFirstOrThrow()
      expect(row.value).toBe('env.HEIMDALL_STORE_TEST_KEY')
      expect(row.key_configs).toContain('env.GCP')
      expect((await store.getProvider('openai'))?.keys[0].value).toBe('env.HEIMDALL_STORE_TEST_KEY')
      expect(await rawKeyColumns(store)).not.toContain('resolved-value')
    } finally {
      delete process.env.HEIMDALL_STORE_TEST_KEY
      await store.close()
    }
  })

  it('reads plain secrets written before a key was set, and encrypts them when one is', async () => {
    const spec = await backend.fresh()
    const plain = await open(spec)
    expect(plain.encrypted).toBe(false)
    await plain.putProvider(sample())
    expect(await rawKeyColumns(plain)).toContain('sk-primary-0123456789abcdef')
    await plain.close()

    const sealed = await open(spec, KEY)
    try {
      expect(await sealed.getProvider('openai')).toEqual(sample())
      const raw = await rawKeyColumns(sealed)
      expect(raw).not.toContain('sk-primary-0123456789abcdef')
      expect(raw).not.toContain('proxy-password-1')
      expect(raw).not.toContain('azure-client-secret-xyz')
    } finally {
      await sealed.close()
    }
  })

  it('reconciles config.json with the store by config_hash', async () => {
    const store = await open(await backend.fresh(), KEY)
    try {
      const file: Record<string, ProviderConfigInput> = {
        openai: {
          keys: [
            { name: 'main', value: 'env.OPENAI_API_KEY' },
            { name: 'backup', value: 'sk-backup-123456' },
          ],
        },
        anthropic: { keys: [{ value: 'sk-ant-0123456789' }] },
      }
      const first = await reconcileProviders(store, file)
      expect(first.map((p) => p.name)).toEqual(['anthropic', 'openai'])
      const openai = first.find((p) => p.name === 'openai')!
      expect(openai.config_hash).toBe(providerConfigHash(file.openai))
      const ids = openai.keys.map((k) => k.id)
      expect(ids[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      expect(new Set(ids).size).toBe(2)

      // an edit through the API (no config_hash given) survives a restart with the same file
      await store.putProvider({ ...openai, config_hash: undefined, keys: [{ ...openai.keys[0], weight: 9 }] })
      await store.putProvider(normalizeProvider('groq', { keys: [{ id: 'groq-1', value: 'gsk-1' }] }))
      const second = await reconcileProviders(store, file)
      expect(second.map((p) => p.name)).toEqual(['anthropic', 'groq', 'openai'])
      expect(second.find((p) => p.name === 'openai')!.keys.map((k) => [k.id, k.weight])).toEqual([
        [ids[0], 9],
      ])

      // the same file with its keys reordered inside objects hashes the same
      const reordered = {
        openai: {
          keys: [
            { value: 'env.OPENAI_API_KEY', name: 'main' },
            { value: 'sk-backup-123456', name: 'backup' },
          ],
        },
      }
      expect(providerConfigHash(reordered.openai)).toBe(providerConfigHash(file.openai))

      // an edited file wins at the next start; file-defined key ids do not churn
      const edited = { ...file, openai: { ...file.openai, network_config: { max_retries: 3 } } }
      const third = await reconcileProviders(store, edited)
      const reimported = third.find((p) => p.name === 'openai')!
      expect(reimported.keys.map((k) => [k.id, k.weight])).toEqual([
        [ids[0], 1],
        [ids[1], 1],
      ])
      expect(reimported.network_config).toEqual({ max_retries: 3 })
      expect(reimported.config_hash).toBe(providerConfigHash(edited.openai))
      expect(reimported.keys[1].value).toBe('sk-backup-123456')
      // the store-only provider is kept
      expect(third.map((p) => p.name)).toEqual(['anthropic', 'groq', 'openai'])
    } finally {
      await store.close()
    }
  })

  it('keeps JSON values in the key-value table', async () => {
    const store = await open(await backend.fresh())
    try {
      expect(await store.getValue('client_config')).toBeUndefined()
      const client = {
        drop_excess_requests: false,
        allowed_origins: ['*'],
        initial_pool_size: 300,
        nested: { a: null },
      }
      await store.setValue('client_config', client)
      expect(await store.getValue<typeof client>('client_config')).toEqual(client)
      await store.setValue('client_config', { enable_logging: true })
      expect(await store.getValue('client_config')).toEqual({ enable_logging: true })
      await store.setValue('counter', 3)
      expect(await store.getValue<number>('counter')).toBe(3)
      expect(await store.deleteValue('counter')).toBe(true)
      expect(await store.deleteValue('counter')).toBe(false)
      expect(await store.getValue('counter')).toBeUndefined()
      await expect(store.setValue('store:encryption_salt', 'x')).rejects.toMatchObject({
        code: 'invalid_request',
      })
    } finally {
      await store.close()
    }
  })

  it('keeps the stored secret when an update sends the redacted value back', async () => {
    const store = await open(await backend.fresh(), KEY)
    try {
      const cfg = sample()
      await store.putProvider(cfg)
      // what a client GETs, edits and PUTs back, with one key replaced
      const shown = redactProvider((await store.getProvider('openai'))!)
      const body: ProviderConfigInput = {
        ...shown,
        keys: [shown.keys[0], { ...shown.keys[1], value: 'a-brand-new-azure-key' }],
      }
      const merged = normalizeProvider('openai', mergeRedacted(body, await store.getProvider('openai')))
      await store.putProvider(merged)
      const got = (await store.getProvider('openai'))!
      expect(got.keys[0].value).toBe('sk-primary-0123456789abcdef')
      expect(got.keys[1].value).toBe('a-brand-new-azure-key')
      expect(got.keys[1].azure_key_config?.client_secret).toBe('azure-client-secret-xyz')
      expect(got.proxy_config?.password).toBe('proxy-password-1')
      expect(got.keys).toHaveLength(2)
    } finally {
      await store.close()
    }
  })

  if (backend.kind === 'postgres') {
    it('opens from separate host/port/user/db_name fields', async () => {
      await backend.ready()
      const url = new URL(DATABASE_URL)
      const spec: StoreSpec = {
        type: 'postgres',
        config: {
          host: url.hostname,
          port: url.port || '5432',
          user: decodeURIComponent(url.username) || 'postgres',
          ...(url.password !== '' && { password: decodeURIComponent(url.password) }),
          db_name: backend.database,
          ssl_mode: 'disable',
        },
      }
      const store = await open(spec)
      try {
        await store.ping()
        await store.setValue('x', 1)
        expect(await store.getValue('x')).toBe(1)
      } finally {
        await store.close()
      }
    })

    it('fails clearly when PostgreSQL cannot be reached', async () => {
      const spec: StoreSpec = {
        type: 'postgres',
        config: { host: '127.0.0.1', port: 1, user: 'nobody', db_name: 'none' },
      }
      await expect(open(spec)).rejects.toMatchObject({
        code: 'store_unavailable',
        message: expect.stringContaining('cannot connect to the PostgreSQL store at 127.0.0.1:1/none'),
      })
    })
  }

  if (backend.kind === 'sqlite') {
    it('defaults to <appDir>/config.db in WAL mode, creating the directory', async () => {
      const dir = join(tempDir('store'), 'nested', 'app')
      const store = await openConfigStore(undefined, { appDir: dir })
      try {
        expect(existsSync(join(dir, 'config.db'))).toBe(true)
        const mode = await sql<{ journal_mode: string }>`pragma journal_mode`.execute(store.db)
        expect(mode.rows[0].journal_mode).toBe('wal')
        const timeout = await sql<{ timeout: number }>`pragma busy_timeout`.execute(store.db)
        expect(timeout.rows[0].timeout).toBeGreaterThan(0)
      } finally {
        await store.close()
      }
    })
  }
})

describe('redaction', () => {
  it('shows a literal as Bifrost does and env references as written', () => {
    expect(redactSecret('sk-0123456789abcdef')).toBe(`sk-0${'*'.repeat(24)}cdef`)
    expect(redactSecret('short')).toBe('*****')
    expect(redactSecret('12345678')).toBe('********')
    expect(redactSecret('')).toBe('')
    expect(redactSecret('env.OPENAI_API_KEY')).toBe('env.OPENAI_API_KEY')
    expect(isRedactedSecret(redactSecret('sk-0123456789abcdef'))).toBe(true)
    expect(isRedactedSecret('*****')).toBe(true)
    expect(isRedactedSecret('<redacted>')).toBe(true)
    expect(isRedactedSecret('sk-0123456789abcdef')).toBe(false)
    expect(isRedactedSecret('env.X')).toBe(false)
  })

  it('redacts every secret field of a key and the proxy password, nothing else', () => {
    const cfg = sample()
    const shown = redactProvider(cfg)
    expect(shown.keys[0].value).toBe(`sk-p${'*'.repeat(24)}cdef`)
    expect(shown.keys[1].azure_key_config).toEqual({
      endpoint: 'https://example.openai.azure.com',
      api_version: '2024-10-21',
      client_secret: `azur${'*'.repeat(24)}-xyz`,
      deployments: { 'gpt-4o': 'prod-4o' },
    })
    expect(shown.keys[2].value).toBe('')
    expect(shown.keys[2].bedrock_key_config).toMatchObject({
      access_key: `AKIA${'*'.repeat(24)}CESS`,
      session_token: 'env.AWS_SESSION_TOKEN',
      region: 'us-east-1',
    })
    expect(shown.proxy_config).toEqual({
      type: 'http',
      url: 'http://proxy:3128',
      username: 'u',
      password: `prox${'*'.repeat(24)}rd-1`,
    })
    expect(redactKey(cfg.keys[0]).models).toEqual(cfg.keys[0].models)
    // the input is not modified
    expect(cfg.keys[0].value).toBe('sk-primary-0123456789abcdef')
    expect(JSON.stringify(shown)).not.toMatch(/secret-xyz|0123456789abcdef|password-1/)
  })

  it('merges back stored secrets only where the redacted value was sent unchanged', () => {
    const stored = sample().keys[1]
    const shown = redactKey(stored)
    expect(mergeRedactedKey(shown, stored)).toEqual(stored)
    const changed = mergeRedactedKey({ ...shown, value: 'env.AZURE_KEY' }, stored)
    expect(changed.value).toBe('env.AZURE_KEY')
    expect(changed.azure_key_config?.client_secret).toBe('azure-client-secret-xyz')
    // a new key (no stored counterpart) is taken as sent
    expect(mergeRedactedKey({ value: shown.value }, undefined).value).toBe(shown.value)
    // keys are matched by id, not by position
    const provider = sample()
    const body = redactProvider(provider)
    const merged = mergeRedacted({ ...body, keys: [body.keys[1], body.keys[0]] }, provider)
    expect(merged.keys?.map((k) => k.value)).toEqual([provider.keys[1].value, provider.keys[0].value])
    expect(mergeRedacted(body, undefined)).toBe(body)
  })

  it('hashes JSON independently of member order', () => {
    expect(stableJson({ b: 1, a: [{ d: 2, c: undefined }] })).toBe('{"a":[{"d":2}],"b":1}')
  })
})
