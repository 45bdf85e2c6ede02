import { afterAll, describe, expect, it } from 'vitest'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

let fake: FakeServer | undefined
let gw: RunningHeimdall | undefined
afterAll(async () => {
  await gw?.close()
  await fake?.close()
})

async function start(): Promise<RunningHeimdall> {
  fake ??= await startFakeOpenAI()
  gw ??= await startHeimdall({
    providers: { openai: fakeProvider(fake.url), anthropic: fakeProvider(fake.url) },
  })
  return gw
}

const deepArray = (n: number) => '['.repeat(n) + ']'.repeat(n)
const deepObject = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n)
const chat = (extra: string) =>
  `{"model":"openai/gpt-4o-mini","max_tokens":5,"messages":[{"role":"user","content":"hi"}]${extra}}`

async function post(path: string, body: string) {
  const res = await fetch(`${(await start()).url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  })
  return { status: res.status, body: (await res.json()) as any }
}

describe('deeply nested JSON bodies', () => {
  const bodies: [string, string][] = [
    ['10k nested arrays', deepArray(10_000)],
    ['10k nested objects', deepObject(10_000)],
    ['100k nested arrays in metadata', chat(`,"metadata":${deepArray(100_000)}`)],
    [
      '10k nested objects in a tool schema',
      chat(`,"tools":[{"type":"function","function":{"name":"f","parameters":${deepObject(10_000)}}}]`),
    ],
  ]

  for (const path of ['/v1/chat/completions', '/openai/v1/chat/completions', '/api/providers']) {
    for (const [what, body] of bodies) {
      it(`${path}: ${what} is a 400 invalid_json in Bifrost's error shape`, async () => {
        const res = await post(path, body)
        expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(400)
        expect(res.body).toMatchObject({
          is_bifrost_error: !path.startsWith('/api/'),
          status_code: 400,
          error: { type: 'invalid_request_error', code: 'invalid_json' },
        })
      })
    }
  }

  it('/anthropic/v1/messages: a deep tool schema is a 400 in Anthropic error shape', async () => {
    const res = await post(
      '/anthropic/v1/messages',
      `{"model":"claude-3-5-haiku","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"tools":[{"name":"f","input_schema":${deepObject(10_000)}}]}`,
    )
    expect(res.status).toBe(400)
    expect(res.body).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } })
  })

  it('brackets inside strings and a moderately nested tool schema are served', async () => {
    const nested = deepObject(40).replace('1', '{"type":"object"}')
    const res = await post(
      '/v1/chat/completions',
      `{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":${JSON.stringify(deepArray(10_000) + '\\"[{')}}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"x":${nested}}}}}]}`,
    )
    expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200)
  })
})
