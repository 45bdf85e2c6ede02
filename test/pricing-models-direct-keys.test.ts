import OpenAI from 'openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { computeCost } from '../src/governance/pricing/index.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { callJson, fakeProvider, type RunningHeimdall, startHeimdall } from './helpers/heimdall.js'

/** Pricing overrides through the API, the model list a virtual key sees, and callers' own provider keys. */
describe('pricing overrides, model lists and direct keys', () => {
  let fake: FakeServer
  let gw: RunningHeimdall

  const api = (method: string, path: string, body?: unknown) => callJson(gw.url, method, path, body)

  const newKey = async (extra: Record<string, unknown> = {}) =>
    (
      await api('POST', '/api/governance/virtual-keys', {
        name: `k-${Math.random().toString(36).slice(2)}`,
        provider_configs: [{ provider: 'openai', allowed_models: ['*'], key_ids: ['*'] }],
        ...extra,
      })
    ).body.virtual_key

  beforeAll(async () => {
    fake = await startFakeOpenAI()
    gw = await startHeimdall({
      client: { allow_direct_keys: true },
      providers: { openai: fakeProvider(fake.url), groq: fakeProvider(fake.url) },
    })
  })
  afterAll(async () => {
    await gw.close()
    await fake.close()
  })
  beforeEach(() => fake.reset())

  it('prices requests with an override created through the API, and stops when it is deleted', async () => {
    const vk = await newKey({ budgets: [{ max_limit: 100, reset_duration: '1d' }] })
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: vk.value, maxRetries: 0 })
    const created = await api('POST', '/api/governance/pricing-overrides', {
      name: 'flat rate for this key',
      scope_kind: 'virtual_key',
      virtual_key_id: vk.id,
      match_type: 'wildcard',
      pattern: 'gpt-4o*',
      request_types: ['chat_completion'],
      pricing_patch: { input_cost_per_token: 0.001, output_cost_per_token: 0.002 },
    })
    expect(created.status).toBe(201)
    expect(created.body.pricing_override).toMatchObject({ scope_kind: 'virtual_key', pattern: 'gpt-4o*' })
    const listed = await api('GET', `/api/governance/pricing-overrides?virtual_key_id=${vk.id}`)
    expect(listed.body.count).toBe(1)

    const { data, response } = await client.chat.completions
      .create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'price me' }] })
      .withResponse()
    const expected = data.usage!.prompt_tokens * 0.001 + data.usage!.completion_tokens * 0.002
    expect(Number(response.headers.get('x-bifrost-cost-usd'))).toBeCloseTo(expected, 8)
    const read = await api('GET', `/api/governance/virtual-keys/${vk.id}`)
    expect(read.body.virtual_key.budgets[0].current_usage).toBeCloseTo(expected, 9)

    expect(
      (await api('DELETE', `/api/governance/pricing-overrides/${created.body.pricing_override.id}`)).status,
    ).toBe(200)
    const again = await client.chat.completions
      .create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'price me' }] })
      .withResponse()
    const listPrice = computeCost('openai', 'gpt-4o-mini', again.data.usage as any).cost
    expect(Number(again.response.headers.get('x-bifrost-cost-usd'))).toBeCloseTo(listPrice, 10)
  })

  it('refuses malformed overrides with a 400 naming the field', async () => {
    const bad = await api('POST', '/api/governance/pricing-overrides', {
      name: 'x',
      scope_kind: 'virtual_key',
      match_type: 'exact',
      pattern: 'gpt-4o',
    })
    expect(bad.status).toBe(400)
    expect(bad.body.error.message).toContain('virtual_key_id')
    expect((await api('PUT', '/api/governance/pricing-overrides/nope', { name: 'y' })).status).toBe(404)
  })

  it('lists to a virtual key only the models it may use', async () => {
    const vk = await newKey({
      provider_configs: [{ provider: 'openai', allowed_models: ['gpt-4o-mini'], key_ids: ['*'] }],
    })
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: vk.value, maxRetries: 0 })
    const ids = (await client.models.list()).data.map((m) => m.id)
    expect(ids).toEqual(['openai/gpt-4o-mini'])
    // Without a key (inference auth not enforced here) everything configured is listed.
    const open = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'none', maxRetries: 0 })
    const all = (await open.models.list()).data.map((m) => m.id)
    expect(all).toContain('groq/gpt-4o')
    expect(all).toContain('openai/text-embedding-3-small')
  })

  it("uses the caller's own provider key with x-bf-direct-key: true, and only then", async () => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: 'Bearer sk-callers-own',
        'x-bf-direct-key': 'true',
      },
      body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'mine' }] }),
    })
    expect(res.status).toBe(200)
    expect(fake.requests[0].headers.authorization).toBe('Bearer sk-callers-own')
    fake.reset()
    const without = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-callers-own' },
      body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'mine' }] }),
    })
    expect(without.status).toBe(200)
    expect(fake.requests[0].headers.authorization).toBe('Bearer sk-test')
  })

  it('ignores x-bf-direct-key when the client setting does not allow direct keys', async () => {
    const other = await startHeimdall({ providers: { openai: fakeProvider(fake.url) } })
    try {
      const res = await fetch(`${other.url}/v1/chat/completions`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: 'Bearer sk-callers-own',
          'x-bf-direct-key': 'true',
        },
        body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'mine' }] }),
      })
      expect(res.status).toBe(200)
      expect(fake.requests[0].headers.authorization).toBe('Bearer sk-test')
    } finally {
      await other.close()
    }
  })
})
