import Anthropic from '@anthropic-ai/sdk'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { anthropicFault, fakeSignature, startFakeAnthropic } from './fakes/anthropic.js'
import { startFakeGemini } from './fakes/gemini.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { fakeProvider, readSse, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

/**
 * The Anthropic drop-in route with the official Anthropic SDK pointed at `/anthropic`: answers and
 * streams come back in Anthropic's own format whichever provider serves the model, thinking keeps
 * its signature over a multi-turn tool exchange, and errors arrive as the SDK's own error classes.
 */
const CLAUDE = 'claude-sonnet-4-5-20250929'
const TOOLS: Anthropic.Tool[] = [
  {
    name: 'get_weather',
    description: 'Weather of a city',
    input_schema: { type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string' } } },
  },
  {
    name: 'get_time',
    input_schema: { type: 'object', properties: { city: { type: 'string' } } },
  },
]

let anthropic: FakeServer
let openai: FakeServer
let gemini: FakeServer
let gw: RunningHeimdall
let client: Anthropic

beforeAll(async () => {
  ;[anthropic, openai, gemini] = await Promise.all([
    startFakeAnthropic(),
    startFakeOpenAI(),
    startFakeGemini(),
  ])
  gw = await startHeimdall({
    providers: {
      anthropic: fakeProvider(anthropic.url),
      openai: fakeProvider(openai.url),
      gemini: fakeProvider(gemini.url),
    },
  })
  client = new Anthropic({ baseURL: `${gw.url}/anthropic`, apiKey: 'sk-ant-unused', maxRetries: 0 })
})
afterAll(async () => {
  await gw?.close()
  await Promise.all([anthropic?.close(), openai?.close(), gemini?.close()])
})
beforeEach(() => {
  for (const f of [anthropic, openai, gemini]) f.reset()
})

const textOf = (m: Anthropic.Message) =>
  m.content
    .filter((b): b is Anthropic.TextBlock => b.type === 'text')
    .map((b) => b.text)
    .join('')

describe('Anthropic SDK through /anthropic', () => {
  it('answers a bare claude model from Anthropic, keeping cache_control and reporting cache usage', async () => {
    const { data, response } = await client.messages
      .create({
        model: CLAUDE,
        max_tokens: 100,
        system: [{ type: 'text', text: 'You are terse.', cache_control: { type: 'ephemeral' } }],
        messages: [{ role: 'user', content: 'hello there' }],
      })
      .withResponse()
    expect(textOf(data)).toBe('Echo: hello there')
    expect(data.stop_reason).toBe('end_turn')
    expect(data.id).toMatch(/^msg_/)
    expect(data.usage.cache_creation_input_tokens).toBe(4)
    expect(data.usage.input_tokens).toBeGreaterThan(0)
    expect(response.headers.get('x-bifrost-provider')).toBe('anthropic')
    const sent = anthropic.requests[0]
    expect(sent.body.system).toEqual([
      { type: 'text', text: 'You are terse.', cache_control: { type: 'ephemeral' } },
    ])
    expect(sent.body.model).toBe(CLAUDE)
    expect(sent.headers['x-api-key']).toBe('sk-test')
  })

  it('streams thinking with its signature and parallel tool calls, then replays them over the next turn', async () => {
    const ask = {
      model: CLAUDE,
      max_tokens: 4096,
      thinking: { type: 'enabled' as const, budget_tokens: 1024 },
      tools: TOOLS,
      messages: [{ role: 'user' as const, content: 'weather?' }],
    }
    const first = await client.messages.stream(ask).finalMessage()
    const thinking = first.content[0] as Anthropic.ThinkingBlock
    expect(thinking.type).toBe('thinking')
    expect(thinking.thinking).toContain('weather?')
    expect(thinking.signature).toBe(fakeSignature(thinking.thinking))
    const uses = first.content.filter((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use')
    expect(uses.map((u) => [u.name, u.input])).toEqual([
      ['get_weather', { city: 'Paris', unit: 'celsius' }],
      ['get_time', { city: 'Tokyo', unit: 'celsius' }],
    ])
    expect(first.stop_reason).toBe('tool_use')
    expect(first.usage.output_tokens).toBeGreaterThan(0)
    expect(anthropic.requests[0].body.thinking).toEqual({ type: 'enabled', budget_tokens: 1024 })

    // The fake rejects a thinking block whose signature it did not issue, as Anthropic does.
    const second = await client.messages.create({
      ...ask,
      messages: [
        ...ask.messages,
        { role: 'assistant', content: first.content },
        {
          role: 'user',
          content: uses.map((u) => ({
            type: 'tool_result' as const,
            tool_use_id: u.id,
            content: `${u.name} ok`,
          })),
        },
      ],
    })
    expect(textOf(second)).toBe('Tool said: get_weather ok | get_time ok')
    const replayed = anthropic.requests[1].body.messages[1].content
    expect(replayed[0]).toEqual({
      type: 'thinking',
      thinking: thinking.thinking,
      signature: thinking.signature,
    })
  })

  it('sends Anthropic event names in order on the wire', async () => {
    const res = await fetch(`${gw.url}/anthropic/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({
        model: CLAUDE,
        max_tokens: 50,
        stream: true,
        messages: [{ role: 'user', content: 'one two' }],
      }),
    })
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/)
    const events = (await readSse(res)).map((e) => e.event)
    expect(events[0]).toBe('message_start')
    expect(events).toContain('ping')
    expect(events.slice(-4)).toEqual([
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ])
  })

  it('streams a parallel tool call from an OpenAI model as Anthropic tool_use blocks', async () => {
    const stream = client.messages.stream({
      model: 'openai/gpt-4o-mini',
      max_tokens: 200,
      tools: TOOLS,
      messages: [{ role: 'user', content: 'weather in two cities' }],
    })
    const deltas: string[] = []
    stream.on('inputJson', (partial) => deltas.push(partial))
    const msg = await stream.finalMessage()
    const uses = msg.content.filter((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use')
    expect(uses).toHaveLength(2)
    expect(uses[0].input).toEqual({ city: 'Paris', unit: 'celsius' })
    expect(uses.every((u) => u.id.length > 0)).toBe(true)
    expect(deltas.length).toBeGreaterThan(2)
    expect(msg.stop_reason).toBe('tool_use')
    expect(msg.usage.output_tokens).toBeGreaterThan(0)
    const sent = openai.requests[0].body
    expect(sent.model).toBe('gpt-4o-mini')
    expect(sent.tools[0]).toMatchObject({ type: 'function', function: { name: 'get_weather' } })
    expect(sent.max_tokens).toBe(200)

    // The tool results go back as OpenAI tool messages.
    const next = await client.messages.create({
      model: 'openai/gpt-4o-mini',
      max_tokens: 200,
      tools: TOOLS,
      messages: [
        { role: 'user', content: 'weather in two cities' },
        { role: 'assistant', content: msg.content },
        {
          role: 'user',
          content: uses.map((u) => ({ type: 'tool_result' as const, tool_use_id: u.id, content: 'sunny' })),
        },
      ],
    })
    expect(textOf(next)).toMatch(/^Tool said: sunny/)
    expect(next.usage.input_tokens).toBeGreaterThan(0)
  })

  it('streams a Gemini answer with its thoughts as a thinking block', async () => {
    const msg = await client.messages
      .stream({
        model: 'gemini/gemini-2.5-flash',
        max_tokens: 2048,
        thinking: { type: 'enabled', budget_tokens: 1024 },
        messages: [{ role: 'user', content: 'hi' }],
      })
      .finalMessage()
    expect(msg.content[0].type).toBe('thinking')
    expect(textOf(msg)).toBe('Echo: hi')
    const sent = gemini.requests[0].body
    expect(sent.generationConfig.thinkingConfig).toMatchObject({ includeThoughts: true })
    expect(sent.thinking).toBeUndefined()
  })

  it('counts tokens with Anthropic’s count_tokens, and estimates them, saying so, for OpenAI', async () => {
    const ask = {
      messages: [{ role: 'user' as const, content: 'count these words please' }],
      tools: TOOLS,
    }
    const { data, response } = await client.messages.countTokens({ model: CLAUDE, ...ask }).withResponse()
    expect(response.headers.get('x-heimdall-token-count')).toBe('provider')
    const sent = anthropic.requests[0]
    expect(sent.path).toBe('/v1/messages/count_tokens')
    expect(sent.body.max_tokens).toBeUndefined()
    expect(data.input_tokens).toBe(26) // the fake: 6 for the words, 10 per tool

    const other = await client.messages.countTokens({ model: 'openai/gpt-4o-mini', ...ask }).withResponse()
    expect(other.response.headers.get('x-heimdall-token-count')).toBe('estimated')
    expect(other.data.input_tokens).toBeGreaterThan(5)
    expect(openai.requests).toHaveLength(0)
  })
})

describe('errors on /anthropic', () => {
  it('raises the SDK’s RateLimitError for an upstream 429, with Anthropic’s error body', async () => {
    anthropic.fail(
      ...Array.from({ length: 10 }, () => anthropicFault(429, 'rate_limit_error', 'slow down', '0')),
    )
    const err = await client.messages
      .create({ model: CLAUDE, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(Anthropic.RateLimitError)
    expect((err as InstanceType<typeof Anthropic.APIError>).status).toBe(429)
    expect((err as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({
      type: 'error',
      error: { type: 'rate_limit_error' },
    })
  })

  it('answers a bad request with a 400 in Anthropic’s shape', async () => {
    const err = await client.messages
      .create({
        model: CLAUDE,
        messages: [{ role: 'user', content: 'hi' }],
      } as unknown as Anthropic.MessageCreateParamsNonStreaming)
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(Anthropic.BadRequestError)
    expect((err as InstanceType<typeof Anthropic.APIError>).message).toMatch(/max_tokens/)
    const res = await fetch(`${gw.url}/anthropic/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"model": ',
    })
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } })
    expect(anthropic.requests).toHaveLength(0)
  })

  it('ends a stream that fails midway with an Anthropic error event', async () => {
    const err = await client.messages
      .stream({ model: CLAUDE, max_tokens: 50, messages: [{ role: 'user', content: '[stream-error]' }] })
      .finalMessage()
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(Anthropic.APIError)
  })
})

describe('virtual keys on /anthropic', () => {
  let guarded: RunningHeimdall
  beforeAll(async () => {
    guarded = await startHeimdall({
      client: { enforce_auth_on_inference: true },
      providers: { anthropic: fakeProvider(anthropic.url), openai: fakeProvider(openai.url) },
    })
  })
  afterAll(() => guarded?.close())

  it('takes the virtual key as the SDK’s api key, enforces it, and never forwards it', async () => {
    const anonymous = new Anthropic({
      baseURL: `${guarded.url}/anthropic`,
      apiKey: 'sk-ant-x',
      maxRetries: 0,
    })
    const refused = await anonymous.messages
      .create({ model: CLAUDE, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(Anthropic.AuthenticationError)

    const created = await fetch(`${guarded.url}/api/governance/virtual-keys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'anthropic-sdk',
        provider_configs: [{ provider: 'anthropic', allowed_models: [CLAUDE], key_ids: ['*'] }],
      }),
    })
    const vk = ((await created.json()) as { virtual_key: { value: string } }).virtual_key.value
    const c = new Anthropic({ baseURL: `${guarded.url}/anthropic`, apiKey: vk, maxRetries: 0 })
    const ok = await c.messages.create({
      model: CLAUDE,
      max_tokens: 10,
      messages: [{ role: 'user', content: 'yo' }],
    })
    expect(textOf(ok)).toBe('Echo: yo')
    expect(anthropic.requests.at(-1)?.headers['x-api-key']).toBe('sk-test')

    const blocked = await c.messages
      .create({ model: 'openai/gpt-4o-mini', max_tokens: 10, messages: [{ role: 'user', content: 'yo' }] })
      .catch((e: unknown) => e)
    expect(blocked).toBeInstanceOf(Anthropic.PermissionDeniedError)
  })
})
