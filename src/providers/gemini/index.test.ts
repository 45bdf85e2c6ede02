import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { normalizeProvider } from '../../core/config.js'
import type { ChatRequest } from '../../core/schemas/index.js'
import type { Attempt } from '../../core/provider-adapter.js'
import { createGeminiAdapter } from './index.js'

/** A bare upstream that records where and how it was called and answers one fixed candidate. */
let server: Server
let origin = ''
const seen: { url: string; headers: IncomingHttpHeaders }[] = []

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers })
    req.resume()
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(
      JSON.stringify({
        candidates: [{ content: { role: 'model', parts: [{ text: 'ok' }] }, finishReason: 'STOP' }],
      }),
    )
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => new Promise<void>((r) => server.close(() => r())))

function call(baseUrl: string, overrides: Partial<Attempt> = {}) {
  const provider = normalizeProvider('gemini', {
    keys: [{ value: 'k' }],
    network_config: { base_url: baseUrl },
  })
  const a: Attempt = {
    provider,
    key: provider.keys[0],
    secret: 'k',
    model: 'gemini-2.5-flash',
    signal: new AbortController().signal,
    timeoutMs: 2_000,
    idleTimeoutMs: 2_000,
    requestId: 'r',
    extraHeaders: {},
    ...overrides,
  }
  const req = { model: 'gemini/gemini-2.5-flash', messages: [{ role: 'user', content: 'hi' }] } as ChatRequest
  return createGeminiAdapter(provider).chat(a, req)
}

describe('createGeminiAdapter', () => {
  it('adds /v1beta to a base URL unless it is already there', async () => {
    seen.length = 0
    await call(origin)
    await call(`${origin}/`)
    await call(`${origin}/v1beta/`)
    expect(seen.map((s) => s.url)).toEqual(Array(3).fill('/v1beta/models/gemini-2.5-flash:generateContent'))
  })

  it('addresses a tuned model by its own path', async () => {
    seen.length = 0
    await call(origin, { model: 'tunedModels/my-model' })
    expect(seen[0].url).toBe('/v1beta/tunedModels/my-model:generateContent')
  })

  it('sends the extra headers and the key, and no key header for a keyless attempt', async () => {
    seen.length = 0
    const { body } = await call(origin, { extraHeaders: { 'x-team': 'a' } })
    expect(body.choices[0].message.content).toBe('ok')
    expect(seen[0].headers).toMatchObject({
      'x-team': 'a',
      'x-goog-api-key': 'k',
      'content-type': 'application/json',
    })
    await call(origin, { secret: '' })
    expect(seen[1].headers['x-goog-api-key']).toBeUndefined()
  })
})
