import Anthropic from '@anthropic-ai/sdk'
import type { Stream } from '@anthropic-ai/sdk/core/streaming'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { FAKE_ANTHROPIC_MODELS, startFakeAnthropic } from './fakes/anthropic.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

/**
 * `GET /anthropic/v1/models` lists the configured providers' models in Anthropic's paged format, and
 * `POST /anthropic/v1/complete` (the legacy Text Completions API) is served by any provider's chat,
 * both through the official Anthropic SDK.
 */
let anthropic: FakeServer
let openai: FakeServer
let gw: RunningHeimdall
let client: Anthropic

beforeAll(async () => {
  ;[anthropic, openai] = await Promise.all([startFakeAnthropic(), startFakeOpenAI()])
  gw = await startHeimdall({
    providers: { anthropic: fakeProvider(anthropic.url), openai: fakeProvider(openai.url) },
  })
  client = new Anthropic({ baseURL: `${gw.url}/anthropic`, apiKey: 'sk-ant-unused', maxRetries: 0 })
})
afterAll(async () => {
  await gw?.close()
  await Promise.all([anthropic?.close(), openai?.close()])
})
beforeEach(() => {
  for (const f of [anthropic, openai]) f.reset()
})

describe('GET /anthropic/v1/models', () => {
  it('lists Anthropic’s models by their bare id and other providers’ as provider/model, page by page', async () => {
    const ids: string[] = []
    for await (const m of client.models.list({ limit: 2 })) {
      expect(m.type).toBe('model')
      expect(m.display_name).toBeTruthy()
      expect(Number.isNaN(Date.parse(m.created_at))).toBe(false)
      ids.push(m.id)
    }
    for (const m of FAKE_ANTHROPIC_MODELS) expect(ids).toContain(m)
    expect(ids).toContain('openai/gpt-4o-mini')
    expect(new Set(ids).size).toBe(ids.length)

    const first = await client.models.list({ limit: 2 })
    expect(first.data).toHaveLength(2)
    expect(first.has_more).toBe(true)
    expect(first.first_id).toBe(first.data[0].id)
    expect(first.last_id).toBe(first.data[1].id)

    const one = await client.models.retrieve(FAKE_ANTHROPIC_MODELS[0]).catch((e: unknown) => e)
    // Retrieval of one model is not a Bifrost route: Anthropic's own 404 shape comes back.
    expect(one).toBeInstanceOf(Anthropic.NotFoundError)
  })

  it('refuses a limit out of Anthropic’s range with a 400 in Anthropic’s shape', async () => {
    const res = await fetch(`${gw.url}/anthropic/v1/models?limit=0`)
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } })
  })
})

/** Anthropic's legacy completion; the SDK keeps no resource for it, only its generic `post`. */
interface Completion {
  type: 'completion'
  id: string
  completion: string
  stop_reason: string | null
  model: string
}
const HUMAN = '\n\nHuman:'
const AI = '\n\nAssistant:'
const complete = (body: Record<string, unknown>) => client.post<Completion>('/v1/complete', { body })
const completeStream = (body: Record<string, unknown>) =>
  client.post<Stream<Completion>>('/v1/complete', {
    body: { ...body, stream: true },
    stream: true,
  }) as unknown as Promise<Stream<Completion>>

describe('POST /anthropic/v1/complete', () => {
  it('answers a Human/Assistant prompt from Anthropic through its Messages API', async () => {
    const done = await complete({
      model: 'claude-sonnet-4-5-20250929',
      prompt: `${HUMAN} hello there${AI}`,
      max_tokens_to_sample: 100,
    })
    expect(done.type).toBe('completion')
    expect(done.completion).toBe('Echo: hello there')
    expect(done.stop_reason).toBe('stop_sequence')
    expect(done.model).toBe('claude-sonnet-4-5-20250929')
    const sent = anthropic.requests[0]
    expect(sent.path).toBe('/v1/messages')
    expect(sent.body.messages).toEqual([{ role: 'user', content: 'hello there' }])
    expect(sent.body.max_tokens).toBe(100)
  })

  it('streams completion events from an OpenAI model, ending with the stop reason', async () => {
    const stream = await completeStream({
      model: 'openai/gpt-4o-mini',
      prompt: `Be brief.${HUMAN} stream this${AI}`,
      max_tokens_to_sample: 100,
    })
    const events: Completion[] = []
    for await (const ev of stream) events.push(ev)
    expect(events.length).toBeGreaterThan(1)
    expect(events.map((e) => e.completion).join('')).toContain('stream this')
    expect(events.at(-1)?.stop_reason).toBe('stop_sequence')
    expect(events.slice(0, -1).every((e) => e.stop_reason === null)).toBe(true)
    const sent = openai.requests[0].body
    expect(sent.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'stream this' },
    ])
  })

  it('refuses a body without max_tokens_to_sample with a 400 in Anthropic’s shape', async () => {
    const err = await complete({ model: 'claude-sonnet-4-5-20250929', prompt: `${HUMAN} hi${AI}` }).catch(
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(Anthropic.BadRequestError)
    expect((err as InstanceType<typeof Anthropic.BadRequestError>).error).toMatchObject({
      type: 'error',
      error: { type: 'invalid_request_error' },
    })
  })
})
