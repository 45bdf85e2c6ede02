import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startFakeAnthropic } from './fakes/anthropic.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

/**
 * Provider names, model names and operations come from callers and are looked up in tables: a
 * name that is a property of every JavaScript object (`constructor`, `__proto__`, `toString`) is
 * an unknown name like any other, a clear 400, never a 500 and never accepted.
 */

const OBJECT_NAMES = ['constructor', '__proto__', 'toString', 'hasOwnProperty']

let openai: FakeServer
let anthropic: FakeServer
let gw: RunningHeimdall

beforeAll(async () => {
  ;[openai, anthropic] = await Promise.all([startFakeOpenAI(), startFakeAnthropic()])
  gw = await startHeimdall({
    providers: {
      openai: fakeProvider(openai.url, { network_config: { max_retries: 0 } }, [
        {
          name: 'main',
          value: 'sk-test',
          models: ['gpt-4o-mini', 'fast'],
          aliases: { fast: 'gpt-4o-mini' },
          weight: 1,
        },
      ]),
      anthropic: fakeProvider(anthropic.url, { network_config: { max_retries: 0 } }),
    },
  } as never)
})
afterAll(async () => {
  await gw?.close()
  await Promise.all([openai?.close(), anthropic?.close()])
})
beforeEach(() => {
  openai.reset()
  anthropic.reset()
})

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(gw.url + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  })
  const text = await res.text()
  return { status: res.status, json: text ? JSON.parse(text) : undefined }
}

const hi = [{ role: 'user', content: 'hi' }]

describe('a provider named like an Object property', () => {
  for (const name of OBJECT_NAMES) {
    it(`model "${name}/x" on /v1/chat/completions is a 400 unknown provider`, async () => {
      const r = await call('POST', '/v1/chat/completions', { model: `${name}/x`, messages: hi })
      expect(r.status).toBe(400)
      expect(r.json.error.code).toBe('unknown_provider')
      expect(r.json.error.message).toContain(name)
    })

    it(`POST /api/providers {provider: "${name}"} is a 400 unknown provider and adds nothing`, async () => {
      const r = await call('POST', '/api/providers', {
        provider: name,
        keys: [{ value: 'sk-object-name-1234' }],
      })
      expect(r.status).toBe(400)
      expect(r.json.error.code).toBe('unknown_provider')
      const list = await call('GET', '/api/providers')
      expect(list.json.providers.map((p: { name: string }) => p.name).sort()).toEqual(['anthropic', 'openai'])
    })

    it(`a custom provider named "${name}" is refused: the name is reserved`, async () => {
      const r = await call('POST', '/api/providers', {
        provider: name,
        keys: [{ value: 'sk-object-name-1234' }],
        custom_provider_config: { base_provider_type: 'openai' },
      })
      expect(r.status).toBe(400)
      expect(r.json.error.code).toBe('unknown_provider')
    })

    it(`a custom provider on base type "${name}" is a 400 unknown provider type`, async () => {
      const r = await call('POST', '/api/providers', {
        provider: `custom-${name.replace(/_/g, '')}`.toLowerCase(),
        keys: [{ value: 'sk-object-name-1234' }],
        network_config: { base_url: openai.url },
        custom_provider_config: { base_provider_type: name },
      })
      expect(r.status).toBe(400)
      expect(r.json.error.code).toBe('unknown_provider')
    })

    it(`GET and PUT /api/providers/${name} answer 404 and 400, never 500`, async () => {
      expect((await call('GET', `/api/providers/${name}`)).status).toBe(404)
      const put = await call('PUT', `/api/providers/${name}`, { keys: [{ value: 'sk-object-name-1234' }] })
      expect(put.status).toBe(400)
      expect(put.json.error.code).toBe('unknown_provider')
    })
  }
})

describe('a model or operation named like an Object property', () => {
  for (const name of OBJECT_NAMES) {
    it(`model "openai/${name}" is no alias of the key: 400, nothing sent`, async () => {
      const r = await call('POST', '/v1/chat/completions', { model: `openai/${name}`, messages: hi })
      expect(r.status).toBe(400)
      expect(openai.requests).toEqual([])
    })

    it(`the Azure deployment route's operation "${name}" is a 404`, async () => {
      const r = await call('POST', `/openai/deployments/gpt-4o-mini/${name}`, { messages: hi })
      expect(r.status).toBe(404)
      expect(openai.requests).toEqual([])
    })
  }

  it('an alias the key does map still serves', async () => {
    const r = await call('POST', '/v1/chat/completions', { model: 'openai/fast', messages: hi })
    expect(r.status).toBe(200)
    expect(openai.requests.map((q) => q.body.model)).toEqual(['gpt-4o-mini'])
  })
})
