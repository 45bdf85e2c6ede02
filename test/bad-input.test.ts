import { request as httpRequest } from 'node:http'
import { afterAll, beforeAll, beforeEach, describe, expect, it, test } from 'vitest'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { fakeProvider, type RunningHeimdall, startHeimdall } from './helpers/heimdall.js'

/**
 * Whatever a caller gets wrong, the answer is a clear 4xx in Bifrost's error shape, nothing reaches
 * the provider, and the server keeps serving: never a 500, never a hang.
 */

/** client.max_request_body_size_mb below, in bytes. */
const BODY_LIMIT = Math.round(0.01 * 1024 * 1024)

interface BadRequest {
  name: string
  method?: string
  path?: string
  /** Defaults to application/json; null sends none. */
  contentType?: string | null
  body?: string
  status: number
  code?: string
  param?: string
  /** What `extra_fields` must hold (inference routes, once the model is known). */
  extra?: Record<string, unknown>
}

const json = (value: unknown) => JSON.stringify(value)
const hi = [{ role: 'user', content: 'hi' }]
const chat = (fields: Record<string, unknown>) =>
  json({ model: 'openai/gpt-4o-mini', messages: hi, ...fields })
const provider = (fields: Record<string, unknown>) =>
  json({ provider: 'mistral', keys: [{ value: 'sk-mistral-test-key-1234' }], ...fields })
const chatExtra = (model: string, extra: Record<string, unknown> = {}) => ({
  model_requested: model,
  request_type: 'chat_completion',
  ...extra,
})

const inference: BadRequest[] = [
  {
    name: 'malformed JSON',
    body: '{"model": "openai/gpt-4o-mini", "messages": [',
    status: 400,
    code: 'invalid_json',
  },
  { name: 'an empty body', body: '', status: 400, code: 'invalid_json' },
  { name: 'a JSON array body', body: json([{ model: 'openai/gpt-4o-mini', messages: hi }]), status: 400 },
  { name: 'a JSON null body', body: 'null', status: 400 },
  { name: 'a JSON string body', body: '"hello"', status: 400 },
  {
    name: 'an XML content type',
    contentType: 'application/xml',
    body: '<chat/>',
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'a form content type',
    contentType: 'application/x-www-form-urlencoded',
    body: 'a=1',
    status: 415,
    code: 'unsupported_media_type',
  },
  { name: 'no content type', contentType: null, body: chat({}), status: 415, code: 'unsupported_media_type' },
  {
    name: 'a body over the limit',
    body: chat({ user: 'x'.repeat(BODY_LIMIT * 2) }),
    status: 413,
    code: 'body_too_large',
  },
  { name: 'no model', body: json({ messages: hi }), status: 400, code: 'model_required', param: 'model' },
  { name: 'an empty model', body: chat({ model: '' }), status: 400, code: 'model_required', param: 'model' },
  { name: 'a model that is a number', body: chat({ model: 42 }), status: 400, param: 'model' },
  {
    name: 'a provider/ prefix with no model',
    body: chat({ model: 'openai/' }),
    status: 400,
    code: 'model_required',
    extra: chatExtra('openai/'),
  },
  {
    name: 'an unknown provider prefix while several providers are configured',
    body: chat({ model: 'nope/gpt-4o' }),
    status: 400,
    code: 'unknown_provider',
    extra: chatExtra('nope/gpt-4o'),
  },
  {
    name: 'a bare model no key names, while several providers are configured',
    body: chat({ model: 'gpt-4o-mini' }),
    status: 400,
    param: 'model',
    extra: chatExtra('gpt-4o-mini'),
  },
  {
    name: 'a known provider that is not configured',
    body: chat({ model: 'anthropic/claude-3-5-haiku' }),
    status: 400,
    code: 'provider_not_configured',
    extra: chatExtra('anthropic/claude-3-5-haiku', { provider: 'anthropic' }),
  },
  {
    name: 'a stream request for an unknown provider (a JSON error, not a stream)',
    body: chat({ model: 'nope/gpt-4o', stream: true }),
    status: 400,
    code: 'unknown_provider',
    extra: { model_requested: 'nope/gpt-4o', request_type: 'chat_completion_stream' },
  },
  { name: 'no messages', body: json({ model: 'openai/gpt-4o-mini' }), status: 400, param: 'messages' },
  { name: 'empty messages', body: chat({ messages: [] }), status: 400, param: 'messages' },
  { name: 'messages that are a string', body: chat({ messages: 'hi' }), status: 400, param: 'messages' },
  { name: 'a message that is a string', body: chat({ messages: ['hi'] }), status: 400, param: 'messages.0' },
  {
    name: 'a message with an unknown role',
    body: chat({ messages: [{ role: 'robot', content: 'hi' }] }),
    status: 400,
    param: 'messages.0.role',
  },
  {
    name: 'a message with numeric content',
    body: chat({ messages: [{ role: 'user', content: 42 }] }),
    status: 400,
    param: 'messages.0.content',
  },
  { name: 'temperature "hot"', body: chat({ temperature: 'hot' }), status: 400, param: 'temperature' },
  { name: 'a negative max_tokens', body: chat({ max_tokens: -5 }), status: 400, param: 'max_tokens' },
  { name: 'stream "yes"', body: chat({ stream: 'yes' }), status: 400, param: 'stream' },
  { name: 'tools that are a string', body: chat({ tools: 'all' }), status: 400, param: 'tools' },
  {
    name: 'fallbacks that are not an array',
    body: chat({ fallbacks: 'groq/llama' }),
    status: 400,
    param: 'fallbacks',
  },
  { name: 'a numeric fallback', body: chat({ fallbacks: [42] }), status: 400, param: 'fallbacks.0' },
  {
    name: 'an empty fallback',
    body: chat({ fallbacks: [''] }),
    status: 400,
    extra: chatExtra('openai/gpt-4o-mini'),
  },
  {
    name: 'a fallback with an unknown provider',
    body: chat({ fallbacks: ['nope/x'] }),
    status: 400,
    code: 'unknown_provider',
    param: 'fallbacks[0]',
    extra: chatExtra('openai/gpt-4o-mini'),
  },
  {
    name: 'embeddings without input',
    path: '/v1/embeddings',
    body: json({ model: 'openai/text-embedding-3-small' }),
    status: 400,
    param: 'input',
  },
  {
    name: 'embeddings from a provider that is not configured',
    path: '/v1/embeddings',
    body: json({ model: 'mistral/mistral-embed', input: 'x' }),
    status: 400,
    code: 'provider_not_configured',
    extra: { model_requested: 'mistral/mistral-embed', request_type: 'embedding' },
  },
  {
    name: 'a text completion without prompt',
    path: '/v1/completions',
    body: json({ model: 'openai/gpt-3.5-turbo-instruct' }),
    status: 400,
    param: 'prompt',
  },
  {
    name: 'a Responses request without model',
    path: '/v1/responses',
    body: json({ input: 'x' }),
    status: 400,
    code: 'model_required',
  },
]

const routing: BadRequest[] = [
  { name: 'an unknown /v1 route', method: 'GET', path: '/v1/nope', status: 404, code: 'route_not_found' },
  { name: 'a misspelt inference route', path: '/v1/chat/completion', body: chat({}), status: 404 },
  { name: 'an unknown /api route', method: 'GET', path: '/api/nope', status: 404 },
  {
    name: 'GET on the chat route',
    method: 'GET',
    path: '/v1/chat/completions',
    status: 405,
    code: 'method_not_allowed',
  },
  { name: 'DELETE on the chat route', method: 'DELETE', path: '/v1/chat/completions', status: 405 },
  {
    name: 'PATCH on /api/providers',
    method: 'PATCH',
    path: '/api/providers',
    body: provider({}),
    status: 405,
  },
]

const management: BadRequest[] = [
  {
    name: 'malformed JSON',
    path: '/api/providers',
    body: '{"provider": ',
    status: 400,
    code: 'invalid_json',
  },
  { name: 'an empty body', path: '/api/providers', body: '', status: 400 },
  { name: 'a JSON array body', path: '/api/providers', body: '[]', status: 400 },
  {
    name: 'a body over the limit',
    path: '/api/providers',
    body: provider({ pad: 'x'.repeat(BODY_LIMIT * 2) }),
    status: 413,
  },
  {
    name: 'no provider name',
    path: '/api/providers',
    body: json({ keys: [] }),
    status: 400,
    param: 'provider',
  },
  {
    name: 'a provider name with a slash',
    path: '/api/providers',
    body: provider({ provider: 'a/b' }),
    status: 400,
  },
  {
    name: 'keys that are a string',
    path: '/api/providers',
    body: provider({ keys: 'sk-abc' }),
    status: 400,
    param: 'keys',
  },
  {
    name: 'a negative key weight',
    path: '/api/providers',
    body: provider({ keys: [{ value: 'sk-1234567890', weight: -1 }] }),
    status: 400,
  },
  {
    name: 'key models that are a string',
    path: '/api/providers',
    body: provider({ keys: [{ value: 'sk-1234567890', models: 'gpt-4o' }] }),
    status: 400,
  },
  {
    name: 'network_config that is a string',
    path: '/api/providers',
    body: provider({ network_config: 'fast' }),
    status: 400,
    param: 'network_config',
  },
  {
    name: 'a numeric base_url',
    path: '/api/providers',
    body: provider({ network_config: { base_url: 42 } }),
    status: 400,
    param: 'network_config.base_url',
  },
  {
    name: 'a timeout given as a string',
    path: '/api/providers',
    body: provider({ network_config: { default_request_timeout_in_seconds: '30' } }),
    status: 400,
    param: 'network_config.default_request_timeout_in_seconds',
  },
  {
    name: 'extra_headers with a number',
    path: '/api/providers',
    body: provider({ network_config: { extra_headers: { 'x-a': 1 } } }),
    status: 400,
  },
  {
    name: 'a negative max_retries',
    path: '/api/providers',
    body: provider({ network_config: { max_retries: -1 } }),
    status: 400,
    param: 'network_config.max_retries',
  },
  {
    name: 'retry_backoff_initial "fast"',
    path: '/api/providers',
    body: provider({ network_config: { retry_backoff_initial: 'fast' } }),
    status: 400,
  },
  {
    name: 'concurrency above buffer_size',
    path: '/api/providers',
    body: provider({ concurrency_and_buffer_size: { concurrency: 10, buffer_size: 5 } }),
    status: 400,
    param: 'concurrency_and_buffer_size',
  },
  {
    name: 'a concurrency of zero',
    path: '/api/providers',
    body: provider({ concurrency_and_buffer_size: { concurrency: 0, buffer_size: 5 } }),
    status: 400,
  },
  {
    name: 'custom_provider_config without base_provider_type',
    path: '/api/providers',
    body: provider({ provider: 'acme', custom_provider_config: {} }),
    status: 400,
  },
  {
    name: 'a custom provider on an unknown base type',
    path: '/api/providers',
    body: provider({ provider: 'acme', custom_provider_config: { base_provider_type: 'nosuch' } }),
    status: 400,
  },
  {
    name: 'a PUT with a string max_retries',
    method: 'PUT',
    path: '/api/providers/openai',
    body: json({ network_config: { max_retries: 'many' } }),
    status: 400,
  },
  {
    name: 'a PUT with retry_backoff_max "soon"',
    method: 'PUT',
    path: '/api/providers/openai',
    body: json({ keys: [], network_config: { retry_backoff_max: 'soon' } }),
    status: 400,
  },
  {
    name: 'a PUT with concurrency above buffer_size',
    method: 'PUT',
    path: '/api/providers/openai',
    body: json({ keys: [], concurrency_and_buffer_size: { concurrency: 100, buffer_size: 1 } }),
    status: 400,
  },
  {
    name: 'a new key with a string weight',
    path: '/api/providers/openai/keys',
    body: json({ value: 'sk-1234567890', weight: 'heavy' }),
    status: 400,
    param: 'weight',
  },
  { name: 'a new key given as an array', path: '/api/providers/openai/keys', body: '[]', status: 400 },
  {
    name: 'a key update with enabled "yes"',
    method: 'PUT',
    path: '/api/providers/openai/keys/k-openai',
    body: json({ value: 'sk-1234567890', enabled: 'yes' }),
    status: 400,
    param: 'enabled',
  },
]

const cases: BadRequest[] = [
  ...inference.map((c) => ({ ...c, name: `inference: ${c.name}` })),
  ...routing.map((c) => ({ ...c, name: `routing: ${c.name}` })),
  ...management.map((c) => ({ ...c, name: `management: ${c.name}` })),
]

describe('bad input', () => {
  let fake: FakeServer
  let gw: RunningHeimdall

  beforeAll(async () => {
    fake = await startFakeOpenAI()
    gw = await startHeimdall({
      client: { max_request_body_size_mb: 0.01 },
      providers: {
        openai: fakeProvider(fake.url, {}, [
          { id: 'k-openai', name: 'main', value: 'sk-test', models: ['*'] },
        ]),
        groq: fakeProvider(fake.url),
      },
    })
  })
  afterAll(async () => {
    await gw?.close()
    await fake?.close()
  })
  beforeEach(() => fake.reset())

  /** Sent with node:http, which adds no content type of its own (fetch would add text/plain). */
  function send(c: BadRequest): Promise<{ status: number; type: string; body: any }> {
    const headers: Record<string, string> = {}
    const contentType = c.contentType === undefined ? 'application/json' : c.contentType
    if (contentType !== null && c.body !== undefined) headers['content-type'] = contentType
    if (c.body !== undefined) headers['content-length'] = String(Buffer.byteLength(c.body))
    const url = new URL(gw.url + (c.path ?? '/v1/chat/completions'))
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: c.method ?? 'POST',
          headers,
          timeout: 5000,
        },
        (res) => {
          let text = ''
          res.setEncoding('utf8')
          res.on('data', (d: string) => (text += d))
          res.on('end', () => {
            let body: unknown = text
            try {
              body = JSON.parse(text)
            } catch {
              // left as text; the assertions say what was wrong with it
            }
            resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body })
          })
        },
      )
      req.on('timeout', () => req.destroy(new Error('no answer within 5 s')))
      req.on('error', reject)
      req.end(c.body)
    })
  }

  async function expectStillServing(): Promise<void> {
    fake.reset()
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: chat({}),
      signal: AbortSignal.timeout(5000),
    })
    expect(res.status).toBe(200)
    expect(((await res.json()) as any).choices[0].message.content).toBe('Echo: hi')
  }

  function expectBifrostError(answer: { status: number; type: string; body: any }, c: BadRequest): void {
    const management = (c.path ?? '').startsWith('/api/')
    expect(answer.status, JSON.stringify(answer.body)).toBe(c.status)
    expect(answer.type).toMatch(/^application\/json/)
    expect(answer.body).toMatchObject({
      is_bifrost_error: !management,
      status_code: c.status,
      error: { type: expect.any(String), code: expect.any(String), message: expect.any(String) },
    })
    expect(answer.body.error.message.length).toBeGreaterThan(0)
    if (c.code) expect(answer.body.error.code).toBe(c.code)
    if (c.param) expect(answer.body.error.param).toBe(c.param)
    if (c.extra) expect(answer.body.extra_fields).toMatchObject(c.extra)
  }

  test.each(cases)('$name → $status, and the server still answers', async (c) => {
    const answer = await send(c)
    expectBifrostError(answer, c)
    // Refused before anything reached the provider.
    expect(fake.requests).toHaveLength(0)
    await expectStillServing()
  })

  it('answers 405 with an Allow header naming the methods the route has', async () => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, { signal: AbortSignal.timeout(5000) })
    expect(res.status).toBe(405)
    expect(res.headers.get('allow') ?? '').toContain('POST')
  })

  it('answers 413 to a chunked body over the limit, without a content-length, and keeps serving', async () => {
    const answer = await new Promise<{ status: number; body: any }>((resolve, reject) => {
      const url = new URL(`${gw.url}/v1/chat/completions`)
      const req = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
          timeout: 5000,
        },
        (res) => {
          let text = ''
          res.setEncoding('utf8')
          res.on('data', (d: string) => (text += d))
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }))
        },
      )
      req.on('timeout', () => req.destroy(new Error('no answer within 5 s')))
      req.on('error', reject)
      const piece = 'x'.repeat(1024)
      req.write(`{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"user":"`)
      let sent = 0
      const pump = () => {
        // Keep writing until the server answers or well past the limit.
        while (sent < BODY_LIMIT * 4) {
          sent += piece.length
          if (!req.write(piece)) return void req.once('drain', pump)
        }
        req.end('"}')
      }
      pump()
    })
    expectBifrostError({ ...answer, type: 'application/json' }, { name: 'chunked', status: 413 })
    expect(answer.body.error.code).toBe('body_too_large')
    expect(fake.requests).toHaveLength(0)
    await expectStillServing()
  })

  it('keeps a provider unchanged when an update to it is refused', async () => {
    const before = await (await fetch(`${gw.url}/api/providers/openai`)).json()
    const refused = await fetch(`${gw.url}/api/providers/openai`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: json({
        keys: [],
        network_config: { base_url: 'http://127.0.0.1:1', retry_backoff_initial: 'fast' },
      }),
    })
    expect(refused.status).toBe(400)
    expect(await (await fetch(`${gw.url}/api/providers/openai`)).json()).toEqual(before)
    await expectStillServing()
  })
})
