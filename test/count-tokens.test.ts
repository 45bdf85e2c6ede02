import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startFakeAnthropic } from './fakes/anthropic.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

/** `POST /v1/count_tokens`: the provider's own count where it has one, an estimate said so elsewhere. */
describe('POST /v1/count_tokens', () => {
  let anthropic: FakeServer
  let openai: FakeServer
  let gw: RunningHeimdall

  beforeAll(async () => {
    anthropic = await startFakeAnthropic()
    openai = await startFakeOpenAI()
    gw = await startHeimdall({
      providers: { anthropic: fakeProvider(anthropic.url), openai: fakeProvider(openai.url) },
    })
  })
  afterAll(async () => {
    await gw.close()
    await anthropic.close()
    await openai.close()
  })
  beforeEach(() => {
    anthropic.reset()
    openai.reset()
  })

  const count = (body: unknown, path = '/v1/count_tokens') =>
    fetch(`${gw.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })

  it('asks Anthropic for its count and answers in Bifrost’s count-tokens shape', async () => {
    const res = await count({
      model: 'anthropic/claude-sonnet-4-5-20250929',
      instructions: 'be brief',
      input: 'count these words please',
      tools: [{ type: 'function', name: 'lookup', parameters: { type: 'object', properties: {} } }],
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('x-heimdall-token-count')).toBe('provider')
    expect(res.headers.get('x-bifrost-provider')).toBe('anthropic')
    // The fake counts a token per 4 characters of "be brief\ncount these words please", and 10 per tool.
    expect(await res.json()).toEqual({
      object: 'response.input_tokens',
      model: 'claude-sonnet-4-5-20250929',
      input_tokens: 19,
      total_tokens: 19,
      tokens: [],
      extra_fields: {
        request_type: 'count_tokens',
        provider: 'anthropic',
        model_requested: 'anthropic/claude-sonnet-4-5-20250929',
        latency: expect.any(Number),
      },
    })
    const sent = anthropic.requests[0]
    expect(sent.path).toBe('/v1/messages/count_tokens')
    expect(sent.body).toMatchObject({
      model: 'claude-sonnet-4-5-20250929',
      system: 'be brief',
      messages: [{ role: 'user', content: 'count these words please' }],
    })
    expect(sent.headers['x-api-key']).toBe('sk-test')
  })

  it('takes the prompt as messages (Bifrost’s field) and on /v1/responses/input_tokens (OpenAI’s path)', async () => {
    const viaMessages = await count({
      model: 'anthropic/claude-sonnet-4-5-20250929',
      messages: [{ role: 'user', content: 'count these words please' }],
    })
    expect(((await viaMessages.json()) as { input_tokens: number }).input_tokens).toBe(6)
    const viaPath = await count(
      { model: 'anthropic/claude-sonnet-4-5-20250929', input: 'count these words please' },
      '/v1/responses/input_tokens',
    )
    expect(((await viaPath.json()) as { input_tokens: number }).input_tokens).toBe(6)
  })

  it('estimates for a provider without a counting endpoint, says so, and calls no provider', async () => {
    const res = await count({
      model: 'openai/gpt-4o-mini',
      input: 'count these words please, and a few more',
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('x-heimdall-token-count')).toBe('estimated')
    const body = (await res.json()) as { input_tokens: number; extra_fields: { provider: string } }
    expect(body.input_tokens).toBeGreaterThan(5)
    expect(body.extra_fields.provider).toBe('openai')
    expect(openai.requests).toHaveLength(0)
  })

  it('answers a bad request with a 4xx in Bifrost’s error shape', async () => {
    const noModel = await count({ input: 'hi' })
    expect(noModel.status).toBe(400)
    expect(await noModel.json()).toMatchObject({
      is_bifrost_error: true,
      status_code: 400,
      error: { code: 'model_required', param: 'model' },
    })
    const noInput = await count({ model: 'anthropic/claude-sonnet-4-5-20250929' })
    expect(noInput.status).toBe(400)
    expect(await noInput.json()).toMatchObject({ error: { code: 'invalid_request', param: 'input' } })
    const unknown = await count({ model: 'nope/some-model', input: 'hi' })
    expect(unknown.status).toBe(400)
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('unknown_provider')
    expect(anthropic.requests).toHaveLength(0)
  })
})
