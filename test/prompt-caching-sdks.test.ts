import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  InvokeModelCommand,
  type ConverseCommandInput,
  type TokenUsage,
} from '@aws-sdk/client-bedrock-runtime'
import {
  GoogleGenAI,
  type GenerateContentParameters,
  type GenerateContentResponseUsageMetadata,
} from '@google/genai'
import OpenAI from 'openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { ConfigFile } from '../src/core/schemas/index.js'
import { startFakeAnthropic } from './fakes/anthropic.js'
import { startFakeBedrock } from './fakes/bedrock.js'
import { startFakeGemini } from './fakes/gemini.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { LoggedCosts, PER_MILLION as M, quickLogStore } from './helpers/cached-requests.js'
import { fakeBedrockProvider, fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'
import { bedrockCaller } from './helpers/bedrock-caller.js'

/**
 * Prompt caching through the OpenAI, Google GenAI and Bedrock Runtime SDKs: OpenAI's
 * prompt_cache_key/prompt_cache_retention and Gemini's cachedContent reach their providers as sent,
 * an OpenAI-format request asks Anthropic for cache points the way Bifrost does (cache_control on
 * content parts and tools), Converse cache points (with their ttl) reach Bedrock as sent and
 * Anthropic as cache_control; cache reads and writes come back in each format's usage fields,
 * streamed or not, and each request costs exactly what the price list says.
 *
 * List prices, dollars per million tokens: gpt-4o input 2.50, cached input 1.25, output 10;
 * gemini-2.5-flash input 0.30, cached 0.03, output 2.50; claude-sonnet-4-5 (also on Bedrock) input 3,
 * cache read 0.30, 5-minute write 3.75, 1-hour write 6, output 15.
 */
const CLAUDE = 'claude-sonnet-4-5-20250929'
const BEDROCK_CLAUDE = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0'
const CREDS = { accessKeyId: 'AKIAUPSTREAM', secretAccessKey: 'upstream-secret' }

let openai: FakeServer
let anthropic: FakeServer
let gemini: FakeServer
let bedrock: FakeServer
let gw: RunningHeimdall
let oa: OpenAI
let ai: GoogleGenAI
let br: BedrockRuntimeClient

beforeAll(async () => {
  ;[openai, anthropic, gemini, bedrock] = await Promise.all([
    startFakeOpenAI(),
    startFakeAnthropic(),
    startFakeGemini(),
    startFakeBedrock([CREDS]),
  ])
  gw = await startHeimdall({
    providers: {
      openai: fakeProvider(openai.url),
      openrouter: fakeProvider(openai.url),
      anthropic: fakeProvider(anthropic.url),
      gemini: fakeProvider(gemini.url),
      bedrock: fakeBedrockProvider(bedrock.url, CREDS),
    },
    logs_store: await quickLogStore('prompt-caching-sdks'),
  } as unknown as ConfigFile)
  oa = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-unused', maxRetries: 0 })
  ai = new GoogleGenAI({
    apiKey: 'g-unused',
    httpOptions: { baseUrl: `${gw.url}/genai`, retryOptions: { attempts: 1 } },
  })
  br = bedrockCaller(`${gw.url}/bedrock`)
})
afterAll(async () => {
  br?.destroy()
  await gw?.close()
  await Promise.all([openai, anthropic, gemini, bedrock].map((f) => f?.close()))
})
beforeEach(() => {
  for (const f of [openai, anthropic, gemini, bedrock]) f.reset()
})

const logs = new LoggedCosts(() => gw)
const loggedCost = () => logs.next()

type Usage = OpenAI.CompletionUsage & {
  prompt_tokens_details?: { cached_write_tokens?: number; cached_write_1h_tokens?: number }
}

/** An OpenAI-format request, whole (cost from the header and the log) then streamed (cost from the log). */
async function viaOpenAI(params: OpenAI.ChatCompletionCreateParamsNonStreaming) {
  const { data, response } = await oa.chat.completions.create(params).withResponse()
  const whole = { usage: data.usage as Usage, header: Number(response.headers.get('x-bifrost-cost-usd')) }
  const wholeLogged = await loggedCost()
  const stream = await oa.chat.completions.create({
    ...params,
    stream: true,
    stream_options: { include_usage: true },
  })
  let usage: Usage | undefined
  for await (const chunk of stream) if (chunk.usage) usage = chunk.usage as Usage
  return { whole, wholeLogged, streamed: usage!, streamedLogged: await loggedCost() }
}

describe('OpenAI SDK', () => {
  it('prompt_cache_key and prompt_cache_retention reach OpenAI; cached_tokens come back and cost the cached price', async () => {
    const r = await viaOpenAI({
      model: 'openai/gpt-4o',
      messages: [{ role: 'user', content: 'this long prompt is cached, with a few more words to count' }],
      prompt_cache_key: 'tenant-42',
      prompt_cache_retention: '24h',
    } as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming)
    for (const q of openai.requests) {
      expect(q.body).toMatchObject({ prompt_cache_key: 'tenant-42', prompt_cache_retention: '24h' })
    }
    const u = r.whole.usage
    expect(u.prompt_tokens_details?.cached_tokens).toBe(8)
    const hand = (u.prompt_tokens - 8) * 2.5 * M + 8 * 1.25 * M + u.completion_tokens * 10 * M
    expect(r.whole.header).toBeCloseTo(hand, 8)
    expect(r.wholeLogged).toBeCloseTo(hand, 9)
    expect(r.streamed).toEqual(u)
    expect(r.streamedLogged).toBeCloseTo(hand, 9)
  })

  it('asks Anthropic for cache points with cache_control on parts and tools; writes come back as cached_write_tokens', async () => {
    const r = await viaOpenAI({
      model: `anthropic/${CLAUDE}`,
      max_tokens: 50,
      messages: [
        {
          role: 'system',
          content: [
            {
              type: 'text',
              text: 'Long rules. '.repeat(30),
              cache_control: { type: 'ephemeral', ttl: '1h' },
            },
          ],
        },
        { role: 'user', content: [{ type: 'text', text: 'hi', cache_control: { type: 'ephemeral' } }] },
      ],
      tools: [
        {
          type: 'function',
          function: { name: 'get_weather', parameters: { type: 'object', properties: {} } },
          cache_control: { type: 'ephemeral', ttl: '1h' },
        },
      ],
      tool_choice: 'none',
    } as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming)
    for (const q of anthropic.requests) {
      expect(q.body.system).toEqual([
        { type: 'text', text: 'Long rules. '.repeat(30), cache_control: { type: 'ephemeral', ttl: '1h' } },
      ])
      expect(q.body.messages[0].content).toEqual([
        { type: 'text', text: 'hi', cache_control: { type: 'ephemeral' } },
      ])
      expect(q.body.tools[0].cache_control).toEqual({ type: 'ephemeral', ttl: '1h' })
    }
    const u = r.whole.usage
    expect(u.prompt_tokens_details).toMatchObject({
      cached_tokens: 0,
      cached_write_tokens: 4,
      cached_write_1h_tokens: 4,
    })
    const hand = (u.prompt_tokens - 4) * 3 * M + 4 * 6 * M + u.completion_tokens * 15 * M
    expect(r.whole.header).toBeCloseTo(hand, 8)
    expect(r.wholeLogged).toBeCloseTo(hand, 9)
    expect(r.streamed).toEqual(u)
    expect(r.streamedLogged).toBeCloseTo(hand, 9)
  })
})

describe('cache_control to OpenAI-format providers', () => {
  const marked = (model: string) =>
    ({
      model,
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'Rules.', cache_control: { type: 'ephemeral' } }] },
        { role: 'user', content: 'hi' },
      ],
      tools: [
        {
          type: 'function',
          function: { name: 'get_weather', parameters: { type: 'object', properties: {} } },
          cache_control: { type: 'ephemeral' },
        },
      ],
    }) as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming

  it('is removed for OpenAI, which has no such field, as Bifrost does; the rest of the request is unchanged', async () => {
    await oa.chat.completions.create(marked('openai/gpt-4o'))
    const sent = openai.requests[0].body
    expect(JSON.stringify(sent)).not.toContain('cache_control')
    expect(sent.messages[0].content).toEqual([{ type: 'text', text: 'Rules.' }])
    expect(sent.tools[0].function.name).toBe('get_weather')
    await logs.next()
  })

  it('goes through to OpenRouter, which hands it to Claude', async () => {
    await oa.chat.completions.create(marked('openrouter/anthropic/claude-sonnet-4.5'))
    const sent = openai.requests[0].body
    expect(sent.messages[0].content[0].cache_control).toEqual({ type: 'ephemeral' })
    expect(sent.tools[0].cache_control).toEqual({ type: 'ephemeral' })
    await logs.next()
  })
})

describe('Google GenAI SDK', () => {
  it('cachedContent reaches Gemini; cachedContentTokenCount comes back and costs the cached price, streamed or not', async () => {
    const params: GenerateContentParameters = {
      model: 'gemini-2.5-flash',
      contents: 'this long prompt is cached, with a few more words to count',
      config: { cachedContent: 'cachedContents/rules-v1' },
    }
    const whole = await ai.models.generateContent(params)
    const wholeLogged = await loggedCost()
    let streamedUsage: GenerateContentResponseUsageMetadata | undefined
    for await (const chunk of await ai.models.generateContentStream(params))
      if (chunk.usageMetadata) streamedUsage = chunk.usageMetadata
    const streamedLogged = await loggedCost()
    for (const q of gemini.requests) expect(q.body.cachedContent).toBe('cachedContents/rules-v1')
    const u = whole.usageMetadata!
    expect(u.cachedContentTokenCount).toBe(8)
    const hand = (u.promptTokenCount! - 8) * 0.3 * M + 8 * 0.03 * M + u.candidatesTokenCount! * 2.5 * M
    expect(wholeLogged).toBeCloseTo(hand, 9)
    expect(streamedUsage?.cachedContentTokenCount).toBe(8)
    expect(streamedLogged).toBeCloseTo(hand, 9)
  })
})

describe('Bedrock Runtime SDK', () => {
  const converse = (modelId: string): ConverseCommandInput => ({
    modelId,
    system: [{ text: 'Long rules. '.repeat(30) }, { cachePoint: { type: 'default', ttl: '1h' } }],
    messages: [{ role: 'user', content: [{ text: 'hello' }, { cachePoint: { type: 'default' } }] }],
    inferenceConfig: { maxTokens: 50 },
  })
  /** claude-sonnet-4-5's cost from Converse usage: inputTokens exclude the cache reads and writes. */
  const sonnet = (u: TokenUsage) => {
    const oneHour = u.cacheDetails?.find((d) => d.ttl === '1h')?.inputTokens ?? 0
    const fiveMinutes = (u.cacheWriteInputTokens ?? 0) - oneHour
    return (
      u.inputTokens! * 3 * M +
      (u.cacheReadInputTokens ?? 0) * 0.3 * M +
      fiveMinutes * 3.75 * M +
      oneHour * 6 * M +
      u.outputTokens! * 15 * M
    )
  }
  async function both(input: ConverseCommandInput) {
    const whole = await br.send(new ConverseCommand(input))
    const wholeLogged = await loggedCost()
    const s = await br.send(new ConverseStreamCommand(input))
    let usage: TokenUsage | undefined
    for await (const e of s.stream ?? []) if (e.metadata?.usage) usage = e.metadata.usage
    return { usage: whole.usage!, wholeLogged, streamed: usage!, streamedLogged: await loggedCost() }
  }

  it('cache points with their ttl reach Bedrock; reads, writes and cacheDetails come back and cost Claude’s rates', async () => {
    const r = await both(converse(BEDROCK_CLAUDE))
    for (const q of bedrock.requests) {
      expect(q.body.system[1]).toEqual({ cachePoint: { type: 'default', ttl: '1h' } })
      expect(q.body.messages[0].content[1]).toEqual({ cachePoint: { type: 'default' } })
    }
    // The fake reads 6 tokens at a system cache point and writes 4 at the others.
    expect(r.usage).toMatchObject({
      cacheReadInputTokens: 6,
      cacheWriteInputTokens: 4,
      cacheDetails: [{ ttl: '5m', inputTokens: 4 }],
    })
    const hand = sonnet(r.usage)
    expect(r.wholeLogged).toBeCloseTo(hand, 9)
    expect(r.streamed).toMatchObject({ cacheReadInputTokens: 6, cacheWriteInputTokens: 4 })
    expect(r.streamedLogged).toBeCloseTo(hand, 9)
  })

  it('cache points become Anthropic cache_control (ttl kept) when the model is served by Anthropic', async () => {
    const r = await both(converse(`anthropic/${CLAUDE}`))
    for (const q of anthropic.requests) {
      expect(q.body.system).toEqual([
        { type: 'text', text: 'Long rules. '.repeat(30), cache_control: { type: 'ephemeral', ttl: '1h' } },
      ])
      expect(q.body.messages[0].content).toEqual([
        { type: 'text', text: 'hello', cache_control: { type: 'ephemeral' } },
      ])
    }
    expect(r.usage).toMatchObject({ cacheWriteInputTokens: 4, cacheDetails: [{ ttl: '1h', inputTokens: 4 }] })
    const hand = sonnet(r.usage)
    expect(r.wholeLogged).toBeCloseTo(hand, 9)
    expect(r.streamed).toMatchObject({
      cacheWriteInputTokens: 4,
      cacheDetails: [{ ttl: '1h', inputTokens: 4 }],
    })
    expect(r.streamedLogged).toBeCloseTo(hand, 9)
  })
})

describe('Bedrock InvokeModel with an Anthropic body', () => {
  it('keeps cache_control (ttl too) on the way to Bedrock Claude; reads and 5-minute writes come back and cost Claude’s rates', async () => {
    const body = {
      anthropic_version: 'bedrock-2023-05-31',
      max_tokens: 50,
      system: [
        { type: 'text', text: 'Long rules. '.repeat(30), cache_control: { type: 'ephemeral', ttl: '1h' } },
      ],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'hello', cache_control: { type: 'ephemeral' } }] },
      ],
    }
    const res = await br.send(
      new InvokeModelCommand({
        modelId: BEDROCK_CLAUDE,
        body: JSON.stringify(body),
        contentType: 'application/json',
      }),
    )
    const answer = JSON.parse(new TextDecoder().decode(res.body))
    const cost = await loggedCost()
    // The gateway speaks Converse to Bedrock: the breakpoints become cache points with their ttl.
    const sent = bedrock.requests[0].body
    expect(sent.system[1]).toEqual({ cachePoint: { type: 'default', ttl: '1h' } })
    expect(sent.messages[0].content).toEqual([{ text: 'hello' }, { cachePoint: { type: 'default' } }])
    const u = answer.usage
    expect(u).toMatchObject({
      cache_read_input_tokens: 6,
      cache_creation_input_tokens: 4,
      cache_creation: { ephemeral_5m_input_tokens: 4, ephemeral_1h_input_tokens: 0 },
    })
    const hand = u.input_tokens * 3 * M + 6 * 0.3 * M + 4 * 3.75 * M + u.output_tokens * 15 * M
    expect(cost).toBeCloseTo(hand, 9)
  })
})
