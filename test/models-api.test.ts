import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bifrostResponse, schemaErrors } from './helpers/bifrost-openapi.js'
import { callJson, fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

/**
 * Bifrost's model pickers of the UI: GET /api/models lists the configured providers' models
 * (filtered by name, provider, keys, limited), GET /api/models/base the catalog's base models.
 */

let h: RunningHeimdall
const api = (path: string) => callJson(h.url, 'GET', path)

function expectBifrostShape(entry: string, body: unknown): void {
  const validate = bifrostResponse('paths/management/providers.yaml', entry, 'get')
  const ok = validate(body)
  expect(schemaErrors(validate.errors), JSON.stringify(body)).toEqual([])
  expect(ok).toBe(true)
}

beforeAll(async () => {
  h = await startHeimdall({
    providers: {
      openai: fakeProvider('http://127.0.0.1:9', {}, [
        { name: 'everything', value: 'sk-a', models: ['*'], weight: 1 },
        { name: 'mini-only', value: 'sk-b', models: ['gpt-4o-mini'], weight: 1 },
      ]),
      anthropic: fakeProvider('http://127.0.0.1:9', {}, [
        { name: 'sonnet', value: 'sk-c', models: ['claude-sonnet-4'], weight: 1 },
      ]),
    },
  })
})
afterAll(() => h?.close())

describe('GET /api/models', () => {
  it('lists the models of the configured providers, five by default, with the total', async () => {
    const res = await api('/api/models?query=gpt-4o')
    expect(res.status).toBe(200)
    expectBifrostShape('models', res.body)
    expect(res.body.models.length).toBeLessThanOrEqual(5)
    expect(res.body.total).toBeGreaterThanOrEqual(res.body.models.length)
    expect(res.body.models.map((m: any) => m.name)).toContain('gpt-4o')
    for (const m of res.body.models) {
      expect(m.provider).toBe('openai')
      expect(m.name).toContain('gpt-4o')
    }
    // Dashes and underscores are ignored in the query.
    expect((await api('/api/models?query=gpt4omini')).body.models.map((m: any) => m.name)).toContain(
      'gpt-4o-mini',
    )
  })

  it('keeps to what the provider’s keys serve, unless unfiltered, and says which keys serve a model', async () => {
    const anthropic = await api('/api/models?provider=anthropic&limit=100')
    expect(anthropic.body).toEqual({ models: [{ name: 'claude-sonnet-4', provider: 'anthropic' }], total: 1 })
    const unfiltered = await api('/api/models?provider=anthropic&limit=100&unfiltered=true')
    expect(unfiltered.body.total).toBeGreaterThan(1)

    const provider = await callJson(h.url, 'GET', '/api/providers/openai')
    const miniKey = provider.body.keys.find((k: any) => k.name === 'mini-only').id
    const byKey = await api(`/api/models?provider=openai&keys=${miniKey}&limit=100`)
    expectBifrostShape('models', byKey.body)
    expect(byKey.body.models).toEqual([
      { name: 'gpt-4o-mini', provider: 'openai', accessible_by_keys: [miniKey] },
    ])

    expect((await api('/api/models?provider=nobody')).body).toEqual({ models: [], total: 0 })
    const bad = await api('/api/models?limit=lots')
    expect(bad.status).toBe(400)
    expect(bad.body.error.param).toBe('limit')
  })
})

describe('GET /api/models/base', () => {
  it('lists base model names of the catalog matching a query, twenty by default', async () => {
    const all = await api('/api/models/base')
    expect(all.status).toBe(200)
    expectBifrostShape('models-base', all.body)
    expect(all.body.models).toHaveLength(20)
    expect(all.body.total).toBeGreaterThan(20)
    const claude = await api('/api/models/base?query=claude&limit=100')
    expect(claude.body.models.length).toBeGreaterThan(0)
    for (const m of claude.body.models) expect(m).toContain('claude')
    expect(claude.body.total).toBe(claude.body.models.length)
  })
})
