import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'
import { freePort } from './helpers/free-port.js'

/**
 * What a caller reads when the gateway cannot reach a provider: which provider and why, never the
 * upstream's address or port. And a forwarded-header prefix without a name is the caller's 400.
 */

let closedPort: number
let openai: FakeServer
let gw: RunningHeimdall

beforeAll(async () => {
  closedPort = await freePort()
  openai = await startFakeOpenAI()
  const nowhere = `http://127.0.0.1:${closedPort}`
  gw = await startHeimdall({
    providers: {
      openai: fakeProvider(nowhere, { network_config: { max_retries: 0 } }),
      anthropic: fakeProvider(nowhere, { network_config: { max_retries: 0 } }),
      mistral: fakeProvider(openai.url, { network_config: { max_retries: 0 } }),
    },
  } as never)
})
afterAll(async () => {
  await gw?.close()
  await openai?.close()
})
beforeEach(() => openai.reset())

async function post(
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string }> {
  const res = await fetch(gw.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  })
  return { status: res.status, text: await res.text() }
}

const hi = [{ role: 'user', content: 'hi' }]

describe('an unreachable provider', () => {
  const routes: [string, unknown, string][] = [
    ['/v1/chat/completions', { model: 'openai/gpt-4o-mini', messages: hi }, 'openai'],
    ['/v1/chat/completions (stream)', { model: 'openai/gpt-4o-mini', messages: hi, stream: true }, 'openai'],
    ['/openai/v1/chat/completions', { model: 'openai/gpt-4o-mini', messages: hi }, 'openai'],
    ['/anthropic/v1/messages', { model: 'claude-sonnet-4-5', max_tokens: 16, messages: hi }, 'anthropic'],
  ]
  for (const [name, body, provider] of routes) {
    it(`${name}: says which provider could not be reached and why, not where`, async () => {
      const path = name.replace(' (stream)', '')
      const r = await post(path, body)
      expect(r.status).toBe(502)
      expect(r.text).toContain(`could not connect to provider ${provider} (connection refused)`)
      expect(r.text).not.toContain('127.0.0.1')
      expect(r.text).not.toContain(String(closedPort))
      expect(r.text).not.toContain('ECONNREFUSED')
    })
  }
})

describe('x-bf-eh- without a header name', () => {
  it('is a 400 naming the header on /v1, and nothing is sent', async () => {
    const r = await post('/v1/chat/completions', { model: 'mistral/m', messages: hi }, { 'x-bf-eh-': 'v' })
    expect(r.status).toBe(400)
    const body = JSON.parse(r.text)
    expect(body.error.code).toBe('invalid_request')
    expect(body.error.message).toContain('x-bf-eh-')
    expect(openai.requests).toEqual([])
  })

  it('is a 400 on a drop-in route too', async () => {
    const r = await post(
      '/anthropic/v1/messages',
      { model: 'mistral/m', max_tokens: 16, messages: hi },
      { 'x-bf-eh-': 'v' },
    )
    expect(r.status).toBe(400)
    expect(r.text).toContain('x-bf-eh-')
    expect(openai.requests).toEqual([])
  })

  it('a named one is still forwarded', async () => {
    const r = await post(
      '/v1/chat/completions',
      { model: 'mistral/m', messages: hi },
      { 'x-bf-eh-x-trace': 'abc' },
    )
    expect(r.status).toBe(200)
    expect(openai.requests.map((q) => q.headers['x-trace'])).toEqual(['abc'])
  })
})
