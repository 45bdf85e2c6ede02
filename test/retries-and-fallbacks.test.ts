import OpenAI from 'openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { fakeProvider, readSse, type RunningHeimdall, startHeimdall } from './helpers/heimdall.js'

/**
 * Provider failures retry with backoff and fall back, as configured, before the first byte of a
 * response only; the caller sees one clean answer or one clean error.
 */
describe('retries and fallbacks', () => {
  let primary: FakeServer
  let backup: FakeServer
  let gw: RunningHeimdall
  let client: OpenAI

  beforeAll(async () => {
    primary = await startFakeOpenAI()
    backup = await startFakeOpenAI()
    gw = await startHeimdall({
      providers: {
        openai: fakeProvider(primary.url, {
          network_config: { max_retries: 2, default_request_timeout_in_seconds: 2 },
        }),
        // A second OpenAI-compatible provider, used as the fallback target.
        groq: fakeProvider(backup.url),
      },
    })
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-unused', maxRetries: 0 })
  })
  afterAll(async () => {
    await gw.close()
    await primary.close()
    await backup.close()
  })
  beforeEach(() => {
    primary.reset()
    backup.reset()
  })

  const ask = (extra: Record<string, unknown> = {}) =>
    client.chat.completions
      .create({
        model: 'openai/gpt-4o-mini',
        messages: [{ role: 'user', content: 'hi' }],
        ...extra,
      } as OpenAI.ChatCompletionCreateParamsNonStreaming)
      .withResponse()

  it('retries a 500 on the same provider and succeeds', async () => {
    primary.fail({ kind: 'status', status: 500 }, { kind: 'status', status: 503 })
    const { data } = await ask()
    expect(data.choices[0].message.content).toBe('Echo: hi')
    expect(primary.requests).toHaveLength(3)
  })

  it('honours Retry-After on a 429 before retrying', async () => {
    primary.fail({ kind: 'status', status: 429, retryAfter: '1' })
    const t0 = Date.now()
    const { data } = await ask()
    expect(data.choices[0].message.content).toBe('Echo: hi')
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950)
    expect(primary.requests).toHaveLength(2)
  })

  it('stops after max_retries and returns the provider error with its status', async () => {
    primary.fail(...Array.from({ length: 3 }, () => ({ kind: 'status' as const, status: 500 })))
    const err = await ask().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.InternalServerError)
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(500)
    expect(primary.requests).toHaveLength(3)
  })

  it('does not retry or fall back on a 400 from the provider', async () => {
    primary.fail({
      kind: 'status',
      status: 400,
      body: JSON.stringify({
        error: { message: 'bad temperature', type: 'invalid_request_error', param: 'temperature' },
      }),
    })
    const err = (await ask({ fallbacks: ['groq/llama-3.1-8b'] }).catch((e: unknown) => e)) as InstanceType<
      typeof OpenAI.APIError
    >
    expect(err.status).toBe(400)
    expect(JSON.stringify(err.error)).toContain('bad temperature')
    expect(primary.requests).toHaveLength(1)
    expect(backup.requests).toHaveLength(0)
  })

  it('falls back to the next provider/model when the primary keeps failing', async () => {
    primary.fail(...Array.from({ length: 3 }, () => ({ kind: 'status' as const, status: 503 })))
    const { data, response } = await ask({ fallbacks: ['groq/llama-3.1-8b'] })
    expect(data.choices[0].message.content).toBe('Echo: hi')
    expect(response.headers.get('x-bifrost-fallback-index')).toBe('1')
    expect(response.headers.get('x-bifrost-provider')).toBe('groq')
    expect(backup.requests[0].body.model).toBe('llama-3.1-8b')
  })

  it('treats an HTML error page from a proxy as a failure worth falling back from', async () => {
    primary.fail({ kind: 'html', status: 502 }, { kind: 'html', status: 502 }, { kind: 'html', status: 502 })
    const { data } = await ask({ fallbacks: ['groq/llama-3.1-8b'] })
    expect(data.choices[0].message.content).toBe('Echo: hi')
  })

  it("returns the primary's error when every target fails, without leaking HTML", async () => {
    primary.fail({ kind: 'html', status: 502 }, { kind: 'html', status: 502 }, { kind: 'html', status: 502 })
    backup.fail({ kind: 'status', status: 500 })
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'openai/gpt-4o-mini',
        messages: [{ role: 'user', content: 'hi' }],
        fallbacks: ['groq/x'],
      }),
    })
    expect(res.status).toBe(502)
    const body: any = await res.json()
    expect(body.is_bifrost_error).toBe(false)
    expect(body.error.message).toMatch(/HTML page/)
    expect(JSON.stringify(body)).not.toContain('<html>')
    expect(body.extra_fields).toMatchObject({
      provider: 'openai',
      model_requested: 'openai/gpt-4o-mini',
      request_type: 'chat_completion',
    })
  })

  it('times out a provider that never answers and falls back', async () => {
    primary.fail({ kind: 'hang' }, { kind: 'hang' }, { kind: 'hang' })
    const { data } = await ask({ fallbacks: ['groq/llama-3.1-8b'] })
    expect(data.choices[0].message.content).toBe('Echo: hi')
  }, 15_000)

  it('falls back when a stream breaks before its first event', async () => {
    primary.fail(...Array.from({ length: 3 }, () => ({ kind: 'drop' as const, afterEvents: 0 })))
    // `fallbacks` is Bifrost's field; the SDK passes it through untyped.
    const params = {
      model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: 'stream me' }],
      stream: true,
      fallbacks: ['groq/llama-3.1-8b'],
    }
    const stream = await client.chat.completions.create(params as OpenAI.ChatCompletionCreateParamsStreaming)
    let text = ''
    for await (const c of stream) text += c.choices[0]?.delta?.content ?? ''
    expect(text).toBe('Echo: stream me')
    expect(backup.requests).toHaveLength(1)
  })

  it('ends a stream cut after its first bytes with an error event and no [DONE]', async () => {
    primary.fail({ kind: 'drop', afterEvents: 3 })
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'openai/gpt-4o-mini',
        messages: [{ role: 'user', content: 'a b c d e f' }],
        stream: true,
        fallbacks: ['groq/x'],
      }),
    })
    expect(res.status).toBe(200)
    const frames = await readSse(res)
    expect(frames.map((f) => f.data)).not.toContain('[DONE]')
    const last = JSON.parse(frames[frames.length - 1].data)
    expect(last.error.code).toBe('upstream_stream_error')
    // Once bytes reached the client, no fallback is tried.
    expect(backup.requests).toHaveLength(0)
  })

  it('ends a stream with a malformed event with an error event', async () => {
    primary.fail({ kind: 'malformed', afterEvents: 2 })
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'openai/gpt-4o-mini',
        messages: [{ role: 'user', content: 'a b c d' }],
        stream: true,
      }),
    })
    const frames = await readSse(res)
    expect(frames.map((f) => f.data)).not.toContain('[DONE]')
    expect(JSON.parse(frames[frames.length - 1].data).error.message).toMatch(/malformed/)
  })

  it('cancels the upstream request when the client goes away', async () => {
    primary.fail({ kind: 'latency', ms: 2000 })
    const controller = new AbortController()
    const pending = fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'slow' }] }),
      signal: controller.signal,
    }).catch(() => undefined)
    await new Promise((r) => setTimeout(r, 200))
    expect(primary.requests).toHaveLength(1)
    const upstreamSocketClosed = new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (primary.openConnections === 0) {
          clearInterval(check)
          resolve()
        }
      }, 20)
    })
    controller.abort()
    await pending
    await upstreamSocketClosed
    expect(primary.requests).toHaveLength(1)
  })
})

describe('keys', () => {
  let fake: FakeServer
  let gw: RunningHeimdall

  beforeAll(async () => {
    fake = await startFakeOpenAI()
    gw = await startHeimdall(
      {
        providers: {
          openai: fakeProvider(fake.url, {}, [
            { name: 'heavy', value: 'sk-heavy', models: ['gpt-4.1', 'gpt-4o-mini', 'gpt-4o'], weight: 3 },
            { name: 'light', value: 'sk-light', models: ['gpt-4.1', 'gpt-4o-mini', 'gpt-4o'], weight: 1 },
            { name: 'mini-only', value: 'sk-mini', models: ['gpt-4o-mini'], weight: 1000 },
            { name: 'dead', value: 'sk-bad', models: ['gpt-4o'], weight: 1 },
            { name: 'from-env', value: 'env.HEIMDALL_TEST_KEY', models: ['gpt-env'], weight: 1 },
          ]),
        },
      },
      { env: { HEIMDALL_TEST_KEY: 'sk-from-env' } },
    )
  })
  afterAll(async () => {
    await gw.close()
    await fake.close()
  })
  beforeEach(() => fake.reset())

  const call = (model: string) =>
    fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'k' }] }),
    })

  it('spreads requests over the keys by weight, among those that allow the model', async () => {
    for (let i = 0; i < 200; i++) await (await call('openai/gpt-4.1')).text()
    const counts: Record<string, number> = {}
    for (const r of fake.requests)
      counts[String(r.headers.authorization)] = (counts[String(r.headers.authorization)] ?? 0) + 1
    expect(counts['Bearer sk-mini']).toBeUndefined()
    expect(counts['Bearer sk-heavy']).toBeGreaterThan(110)
    expect(counts['Bearer sk-light']).toBeGreaterThan(20)
  })

  it('uses only the keys that allow a model', async () => {
    await (await call('openai/gpt-4o-mini')).text()
    // weight 1000 of 1004: the model-specific key is all but certain; it must at least be eligible.
    expect(['Bearer sk-mini', 'Bearer sk-heavy', 'Bearer sk-light']).toContain(
      fake.requests[0].headers.authorization,
    )
  })

  it('resolves env.VAR key values when used', async () => {
    const res = await call('openai/gpt-env')
    expect(res.status).toBe(200)
    expect(fake.requests[0].headers.authorization).toBe('Bearer sk-from-env')
  })

  it('moves on to another key, without backoff, when the provider refuses one', async () => {
    for (let i = 0; i < 20; i++) {
      const res = await call('openai/gpt-4o')
      expect(res.status).toBe(200)
    }
    // The refused key was tried at most once per request and never reported as the error.
    const refused = fake.requests.filter((r) => r.headers.authorization === 'Bearer sk-bad').length
    expect(fake.requests.length - refused).toBe(20)
  })

  it('refuses a model no key allows, naming it', async () => {
    const res = await call('openai/o3-pro')
    expect(res.status).toBe(400)
    const body: any = await res.json()
    expect(body.error.code).toBe('no_key_for_model')
    expect(body.error.message).toContain('o3-pro')
  })
})

describe('a provider whose only key is refused', () => {
  it('answers 502 upstream_credentials_exhausted with the provider message', async () => {
    const fake = await startFakeOpenAI()
    const gw = await startHeimdall({
      providers: { openai: fakeProvider(fake.url, {}, [{ name: 'bad', value: 'sk-bad', models: ['*'] }]) },
    })
    try {
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'k' }] }),
      })
      expect(res.status).toBe(502)
      const body: any = await res.json()
      expect(body.error.code).toBe('upstream_credentials_exhausted')
      expect(body.error.message).toContain('Incorrect API key')
      expect(JSON.stringify(body)).not.toContain('sk-bad')
    } finally {
      await gw.close()
      await fake.close()
    }
  })
})
