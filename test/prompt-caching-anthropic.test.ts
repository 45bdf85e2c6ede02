import Anthropic from '@anthropic-ai/sdk'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { ConfigFile } from '../src/core/schemas/index.js'
import { startFakeAnthropic } from './fakes/anthropic.js'
import { startFakeBedrock } from './fakes/bedrock.js'
import type { FakeServer } from './fakes/server.js'
import type { FakeGoogleCloud } from './fakes/vertex.js'
import { LoggedCosts, PER_MILLION as M, quickLogStore } from './helpers/cached-requests.js'
import { fakeBedrockProvider, fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'
import { fakeVertexProvider, startFakeVertexCloud } from './helpers/vertex.js'

/**
 * Anthropic's prompt caching through the official Anthropic SDK on `/anthropic`: cache_control
 * (with `ttl: "1h"`) on system blocks, tools and content reaches Anthropic as sent, Bedrock Claude
 * as Converse cache points with their ttl, and Vertex Claude as sent; the cache reads and the 5-minute
 * and 1-hour writes come back in Anthropic's usage fields, streamed or not, and the request costs
 * exactly what the price list says (x-bifrost-cost-usd and the log entry agree, streamed or not).
 *
 * claude-sonnet-4-5 list prices, dollars per million tokens: input 3, cache read 0.30, 5-minute
 * write 3.75, 1-hour write 6, output 15 (Bedrock and Vertex Claude: the same).
 */
const CLAUDE = 'claude-sonnet-4-5-20250929'
const BEDROCK_CLAUDE = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0'
const CREDS = { accessKeyId: 'AKIAUPSTREAM', secretAccessKey: 'upstream-secret' }

/** Hand-computed cost of a claude-sonnet-4-5 answer from its Anthropic usage. */
function sonnetCost(u: Anthropic.Usage): number {
  const oneHour = u.cache_creation?.ephemeral_1h_input_tokens ?? 0
  const fiveMinutes = u.cache_creation?.ephemeral_5m_input_tokens ?? 0
  expect(oneHour + fiveMinutes).toBe(u.cache_creation_input_tokens ?? 0)
  return (
    u.input_tokens * 3 * M +
    (u.cache_read_input_tokens ?? 0) * 0.3 * M +
    fiveMinutes * 3.75 * M +
    oneHour * 6 * M +
    u.output_tokens * 15 * M
  )
}

let anthropic: FakeServer
let bedrock: FakeServer
let cloud: FakeGoogleCloud
let gw: RunningHeimdall
let client: Anthropic

beforeAll(async () => {
  ;[anthropic, bedrock, cloud] = await Promise.all([
    startFakeAnthropic(),
    startFakeBedrock([CREDS]),
    startFakeVertexCloud(),
  ])
  gw = await startHeimdall({
    providers: {
      anthropic: fakeProvider(anthropic.url),
      bedrock: fakeBedrockProvider(bedrock.url, CREDS),
      vertex: fakeVertexProvider(cloud),
    },
    logs_store: await quickLogStore('prompt-caching-anthropic'),
  } as unknown as ConfigFile)
  client = new Anthropic({ baseURL: `${gw.url}/anthropic`, apiKey: 'sk-ant-unused', maxRetries: 0 })
})
afterAll(async () => {
  await gw?.close()
  await Promise.all([anthropic?.close(), bedrock?.close(), cloud?.close()])
})
beforeEach(() => {
  for (const f of [anthropic, bedrock, cloud.vertex]) f.reset()
})

const logs = new LoggedCosts(() => gw)

const ONE_HOUR = { type: 'ephemeral', ttl: '1h' } as const
/** A request with 1-hour breakpoints on the system prompt and the tools, and a 5-minute one on the question. */
function cachedRequest(model: string, question = 'hello there'): Anthropic.MessageCreateParamsNonStreaming {
  return {
    model,
    max_tokens: 100,
    system: [{ type: 'text', text: 'You are terse. '.repeat(20), cache_control: ONE_HOUR }],
    tools: [
      {
        name: 'get_weather',
        description: 'Weather of a city',
        input_schema: { type: 'object', properties: { city: { type: 'string' } } },
        cache_control: ONE_HOUR,
      },
    ],
    tool_choice: { type: 'none' },
    messages: [
      { role: 'user', content: [{ type: 'text', text: question, cache_control: { type: 'ephemeral' } }] },
    ],
  }
}

async function ask(params: Anthropic.MessageCreateParamsNonStreaming) {
  const { data, response } = await client.messages.create(params).withResponse()
  const header = Number(response.headers.get('x-bifrost-cost-usd'))
  return {
    usage: data.usage,
    header,
    provider: response.headers.get('x-bifrost-provider'),
    logged: await logs.next(),
  }
}

/**
 * A streamed request's final usage as Anthropic's events give it: message_start's, updated by
 * message_delta's (a provider that reports usage only at the end, as Bedrock does, can fill in the
 * cache figures only there).
 */
async function askStreamed(params: Anthropic.MessageCreateParamsNonStreaming) {
  const stream = await client.messages.create({ ...params, stream: true })
  let usage = {} as Anthropic.Usage
  for await (const event of stream) {
    if (event.type === 'message_start') usage = { ...event.message.usage }
    if (event.type === 'message_delta') usage = { ...usage, ...(event.usage as Partial<Anthropic.Usage>) }
  }
  return { usage, logged: await logs.next() }
}

describe('Anthropic prompt caching kept across providers, with exact costs', () => {
  it('Anthropic: cache_control (1h on system and tools) sent as given; 1-hour writes reported and billed at 2× input', async () => {
    const r = await ask(cachedRequest(CLAUDE))
    expect(r.provider).toBe('anthropic')
    const sent = anthropic.requests[0].body
    expect(sent.system[0].cache_control).toEqual(ONE_HOUR)
    expect(sent.tools[0].cache_control).toEqual(ONE_HOUR)
    expect(sent.messages[0].content[0].cache_control).toEqual({ type: 'ephemeral' })
    expect(r.usage).toMatchObject({
      cache_creation_input_tokens: 4,
      cache_read_input_tokens: 0,
      cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 4 },
    })
    const hand = sonnetCost(r.usage)
    expect(r.header).toBeCloseTo(hand, 8)
    expect(r.logged).toBeCloseTo(hand, 9)

    const s = await askStreamed(cachedRequest(CLAUDE))
    expect(s.usage).toMatchObject({
      cache_creation_input_tokens: 4,
      cache_creation: { ephemeral_1h_input_tokens: 4 },
    })
    expect(s.usage).toEqual(r.usage)
    expect(s.logged).toBeCloseTo(hand, 9)
  })

  it('Anthropic: a cache read costs 0.1× input, streamed or not', async () => {
    const r = await ask(cachedRequest(CLAUDE, 'this prompt is cached'))
    expect(r.usage).toMatchObject({ cache_read_input_tokens: 8, cache_creation_input_tokens: 0 })
    const hand = sonnetCost(r.usage)
    expect(r.header).toBeCloseTo(hand, 8)
    expect(r.logged).toBeCloseTo(hand, 9)
    const s = await askStreamed(cachedRequest(CLAUDE, 'this prompt is cached'))
    expect(s.usage.cache_read_input_tokens).toBe(8)
    expect(s.logged).toBeCloseTo(hand, 9)
  })

  it('cache_control on a tool_use and a tool_result (where Claude Code puts its last breakpoint) reaches Anthropic and Bedrock', async () => {
    const params = (model: string): Anthropic.MessageCreateParamsNonStreaming => ({
      model,
      max_tokens: 100,
      tools: cachedRequest(model).tools,
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        {
          role: 'assistant',
          content: [
            {
              type: 'tool_use',
              id: 'toolu_1',
              name: 'get_weather',
              input: { city: 'Paris' },
              cache_control: { type: 'ephemeral' },
            },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny', cache_control: ONE_HOUR },
          ],
        },
      ],
    })
    const direct = await ask(params(CLAUDE))
    const sent = anthropic.requests[0].body
    expect(sent.messages[1].content[0]).toMatchObject({
      type: 'tool_use',
      cache_control: { type: 'ephemeral' },
    })
    expect(sent.messages[2].content[0]).toMatchObject({ type: 'tool_result', cache_control: ONE_HOUR })
    expect(direct.usage.cache_creation?.ephemeral_1h_input_tokens).toBe(4)
    expect(direct.header).toBeCloseTo(sonnetCost(direct.usage), 8)

    const viaBedrock = await ask(params(`bedrock/${BEDROCK_CLAUDE}`))
    const converse = bedrock.requests[0].body
    expect(converse.messages[1].content).toEqual([
      { toolUse: { toolUseId: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } } },
      { cachePoint: { type: 'default' } },
    ])
    expect(converse.messages[2].content[1]).toEqual({ cachePoint: { type: 'default', ttl: '1h' } })
    expect(viaBedrock.usage.cache_creation?.ephemeral_1h_input_tokens).toBe(4)
    expect(viaBedrock.header).toBeCloseTo(sonnetCost(viaBedrock.usage), 8)
  })

  it('a top-level cache_control (automatic caching) reaches Anthropic and Vertex Claude', async () => {
    const params = { ...cachedRequest(CLAUDE), cache_control: { type: 'ephemeral' } } as never
    await ask(params)
    expect(anthropic.requests[0].body.cache_control).toEqual({ type: 'ephemeral' })
    await ask({ ...(params as object), model: `vertex/${CLAUDE}` } as never)
    const sent = cloud.vertex.requests.find((q) => q.path.includes(':rawPredict'))!.body
    expect(sent.cache_control).toEqual({ type: 'ephemeral' })
  })

  it('Bedrock Claude: the breakpoints become Converse cache points with their ttl; reads and 1-hour writes come back', async () => {
    const r = await ask(cachedRequest(`bedrock/${BEDROCK_CLAUDE}`))
    expect(r.provider).toBe('bedrock')
    const sent = bedrock.requests[0].body
    expect(sent.system).toEqual([
      { text: 'You are terse. '.repeat(20) },
      { cachePoint: { type: 'default', ttl: '1h' } },
    ])
    expect(sent.toolConfig.tools[1]).toEqual({ cachePoint: { type: 'default', ttl: '1h' } })
    expect(sent.messages[0].content).toEqual([{ text: 'hello there' }, { cachePoint: { type: 'default' } }])
    // The fake reads 6 tokens for a system cache point and writes 4 (1-hour here) for the others.
    expect(r.usage).toMatchObject({
      cache_read_input_tokens: 6,
      cache_creation_input_tokens: 4,
      cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 4 },
    })
    const hand = sonnetCost(r.usage)
    expect(r.header).toBeCloseTo(hand, 8)
    expect(r.logged).toBeCloseTo(hand, 9)

    const s = await askStreamed(cachedRequest(`bedrock/${BEDROCK_CLAUDE}`))
    expect(s.usage).toMatchObject({
      cache_read_input_tokens: 6,
      cache_creation: { ephemeral_1h_input_tokens: 4 },
    })
    expect(s.logged).toBeCloseTo(sonnetCost(s.usage), 9)
    expect(s.logged).toBeCloseTo(hand, 9)
  })

  it('Vertex Claude: cache_control reaches rawPredict as sent; writes come back and cost the same', async () => {
    const r = await ask(cachedRequest(`vertex/${CLAUDE}`))
    expect(r.provider).toBe('vertex')
    const sent = cloud.vertex.requests.find((q) => q.path.includes(':rawPredict'))!.body
    expect(sent.system[0].cache_control).toEqual(ONE_HOUR)
    expect(sent.tools[0].cache_control).toEqual(ONE_HOUR)
    expect(sent.messages[0].content[0].cache_control).toEqual({ type: 'ephemeral' })
    expect(r.usage).toMatchObject({ cache_creation: { ephemeral_1h_input_tokens: 4 } })
    const hand = sonnetCost(r.usage)
    expect(r.header).toBeCloseTo(hand, 8)
    expect(r.logged).toBeCloseTo(hand, 9)
    const s = await askStreamed(cachedRequest(`vertex/${CLAUDE}`))
    expect(s.usage).toEqual(r.usage)
    expect(s.logged).toBeCloseTo(hand, 9)
  })

  it('the budget, /metrics and the log charge a cached request exactly what x-bifrost-cost-usd says, streamed or not', async () => {
    const created = await fetch(`${gw.url}/api/governance/virtual-keys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'cache-costs',
        budgets: [{ max_limit: 100, reset_duration: '1d' }],
        provider_configs: [{ provider: 'anthropic', allowed_models: ['*'], key_ids: ['*'] }],
      }),
    }).then((r) => r.json() as Promise<any>)
    const vk = created.virtual_key
    const keyed = new Anthropic({ baseURL: `${gw.url}/anthropic`, apiKey: vk.value, maxRetries: 0 })
    // claude-opus-4-5: input 5, 1-hour write 10, output 25 dollars per million tokens.
    const opus = (u: Anthropic.Usage) =>
      u.input_tokens * 5 * M +
      (u.cache_creation?.ephemeral_1h_input_tokens ?? 0) * 10 * M +
      u.output_tokens * 25 * M
    const params = cachedRequest('claude-opus-4-5-20251101')
    const { data, response } = await keyed.messages.create(params).withResponse()
    expect(data.usage.cache_creation?.ephemeral_1h_input_tokens).toBe(4)
    const whole = opus(data.usage)
    expect(Number(response.headers.get('x-bifrost-cost-usd'))).toBeCloseTo(whole, 8)
    expect(await logs.next()).toBeCloseTo(whole, 9)
    let usage = {} as Anthropic.Usage
    for await (const e of await keyed.messages.create({ ...params, stream: true })) {
      if (e.type === 'message_start') usage = { ...e.message.usage }
      if (e.type === 'message_delta') usage = { ...usage, ...(e.usage as Partial<Anthropic.Usage>) }
    }
    expect(usage).toEqual(data.usage)
    expect(await logs.next()).toBeCloseTo(whole, 9)

    const read = await fetch(`${gw.url}/api/governance/virtual-keys/${vk.id}`).then(
      (r) => r.json() as Promise<any>,
    )
    expect(read.virtual_key.budgets[0].current_usage).toBeCloseTo(2 * whole, 9)
    const metrics = await fetch(`${gw.url}/metrics`).then((r) => r.text())
    const charged = metrics
      .split('\n')
      .filter((l) => l.startsWith('heimdall_cost_usd_total{') && l.includes('model="claude-opus-4-5'))
      .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0)
    expect(charged).toBeCloseTo(2 * whole, 9)
  })
})
