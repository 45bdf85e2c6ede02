import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { call, startFromFile } from './helpers/config-file.js'
import { fakeProvider } from './helpers/heimdall.js'

/** Store sections and deprecated settings in the forms Bifrost writes them start Heimdall and read as Bifrost reads them. */

let fake: FakeServer
beforeAll(async () => {
  fake = await startFakeOpenAI()
})
afterAll(async () => {
  await fake?.close()
})

describe('stores and deprecated settings as Bifrost writes them', () => {
  it('starts with "logs_store": {"enabled": false} and no type: request logs are off', async () => {
    const h = await startFromFile({ logs_store: { enabled: false }, config_store: { enabled: false } })
    try {
      const { body } = await call(h, 'GET', '/api/config')
      expect(body.is_logs_connected).toBe(false)
    } finally {
      await h.close()
    }
  })

  it('starts with null members in client and providers, read as not set', async () => {
    const h = await startFromFile({
      client: { allowed_origins: null, log_retention_days: null, enforce_auth_on_inference: null },
      providers: {
        openai: {
          keys: [
            { name: 'k', value: 'sk-1', models: ['*'], weight: 1, aliases: null, vertex_key_config: null },
          ],
          network_config: { base_url: fake.url },
          concurrency_and_buffer_size: null,
          proxy_config: null,
          custom_provider_config: null,
        },
      },
    })
    try {
      const config = (await call(h, 'GET', '/api/config')).body
      expect(config.client_config).not.toHaveProperty('allowed_origins')
      expect(config.client_config.enforce_auth_on_inference).toBe(false)
      const openai = (await call(h, 'GET', '/api/providers/openai')).body
      expect(openai).not.toHaveProperty('proxy_config')
      expect(openai.keys[0]).not.toHaveProperty('aliases')
    } finally {
      await h.close()
    }
  })

  it('a logs_store with no type is SQLite, as in Bifrost', async () => {
    const h = await startFromFile({ logs_store: { enabled: true, config: { path: 'logs.db' } } })
    try {
      expect((await call(h, 'GET', '/api/config')).body.is_logs_connected).toBe(true)
    } finally {
      await h.close()
    }
  })

  it('a ClickHouse logs_store starts with request logs off and a warning', async () => {
    const h = await startFromFile({
      logs_store: { enabled: true, type: 'clickhouse', config: { host: 'ch' } },
    })
    try {
      expect((await call(h, 'GET', '/api/config')).body.is_logs_connected).toBe(false)
      expect(h.warnings.map((w) => w.section)).toContain('logs_store')
    } finally {
      await h.close()
    }
  })

  it('reads the deprecated enforce_governance_header as enforce_auth_on_inference', async () => {
    const h = await startFromFile({ client: { enforce_governance_header: true } })
    try {
      expect((await call(h, 'GET', '/api/config')).body.client_config.enforce_auth_on_inference).toBe(true)
    } finally {
      await h.close()
    }
  })

  it("reads otel's multi-profile form as its first enabled profile", async () => {
    const paths: string[] = []
    const collector = createServer((req, res) => {
      paths.push(req.url ?? '')
      req.resume()
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'))
    })
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve))
    const collectorUrl = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`
    const profile = { trace_type: 'genai_extension', protocol: 'http' }
    const h = await startFromFile({
      providers: { openai: fakeProvider(fake.url) },
      plugins: [
        {
          name: 'otel',
          enabled: true,
          config: {
            profiles: [
              { ...profile, enabled: false, collector_url: 'http://127.0.0.1:9' },
              { ...profile, collector_url: collectorUrl, service_name: 'from-profile' },
            ],
          },
        },
      ],
    })
    try {
      const res = await fetch(`${h.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
      })
      expect(res.status).toBe(200)
    } finally {
      // Closing flushes the spans still queued.
      await h.close()
      collector.close()
    }
    expect(paths).toContain('/v1/traces')
  })
})
