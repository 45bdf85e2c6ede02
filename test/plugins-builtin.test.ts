import Anthropic from '@anthropic-ai/sdk'
import OpenAI from 'openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { completePartialJson } from '../src/plugins/index.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

const ask = (content: string) => [{ role: 'user' as const, content }]

describe('mocker: answers from rules, no provider call, through the official SDKs', () => {
  let fake: FakeServer
  let gw: RunningHeimdall
  let openai: OpenAI
  let anthropic: Anthropic

  beforeAll(async () => {
    fake = await startFakeOpenAI()
    gw = await startHeimdall({
      providers: { openai: fakeProvider(fake.url) },
      plugins: [
        {
          name: 'mocker',
          enabled: true,
          config: {
            enabled: true,
            default_behavior: 'passthrough',
            rules: [
              {
                name: 'rate-limit',
                priority: 200,
                conditions: { message_regex: '(?i)too many' },
                responses: [
                  {
                    type: 'error',
                    error: {
                      message: 'Rate limit exceeded',
                      type: 'rate_limit',
                      code: '429',
                      status_code: 429,
                    },
                  },
                ],
              },
              {
                name: 'templated',
                priority: 100,
                conditions: { providers: ['openai'], models: ['gpt-4o-mini'] },
                latency: { type: 'fixed', min: 50_000_000 },
                responses: [
                  {
                    type: 'success',
                    content: {
                      message_template: 'Mock from {{provider}} using {{model}}',
                      usage: { prompt_tokens: 7, completion_tokens: 5 },
                    },
                  },
                ],
              },
              {
                name: 'off',
                enabled: false,
                responses: [{ type: 'success', content: { message: 'never' } }],
              },
            ],
          },
        },
      ],
    })
    openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-unused', maxRetries: 0 })
    anthropic = new Anthropic({ baseURL: `${gw.url}/anthropic`, apiKey: 'sk-ant-unused', maxRetries: 0 })
  })
  afterAll(async () => {
    await gw?.close()
    await fake?.close()
  })
  beforeEach(() => fake.reset())

  it('a templated answer after the rule latency, with the rule usage', async () => {
    const started = Date.now()
    const answer = await openai.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: ask('hi') })
    expect(Date.now() - started).toBeGreaterThanOrEqual(45)
    expect(answer.choices[0].message.content).toBe('Mock from openai using gpt-4o-mini')
    expect(answer.usage).toMatchObject({ prompt_tokens: 7, completion_tokens: 5, total_tokens: 12 })
    expect(fake.requests).toHaveLength(0)
  })

  it('streams the mock: chunks, finish reason and usage, on /v1 and /v1/responses', async () => {
    const stream = await openai.chat.completions.create({
      model: 'openai/gpt-4o-mini',
      messages: ask('hi'),
      stream: true,
      stream_options: { include_usage: true },
    })
    let text = ''
    let finish: string | null = null
    let total: number | undefined
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? ''
      finish = chunk.choices[0]?.finish_reason ?? finish
      total = chunk.usage?.total_tokens ?? total
    }
    expect(text).toBe('Mock from openai using gpt-4o-mini')
    expect(finish).toBe('stop')
    expect(total).toBe(12)
    const responses = await openai.responses.create({
      model: 'openai/gpt-4o-mini',
      input: 'hi',
      stream: true,
    })
    let streamed = ''
    for await (const event of responses)
      if (event.type === 'response.output_text.delta') streamed += event.delta
    expect(streamed).toBe('Mock from openai using gpt-4o-mini')
    expect(fake.requests).toHaveLength(0)
  })

  it('streams the mock in Anthropic events on the drop-in route', async () => {
    const stream = anthropic.messages.stream({
      model: 'openai/gpt-4o-mini',
      max_tokens: 20,
      messages: ask('hi'),
    })
    const message = await stream.finalMessage()
    expect(message.content).toHaveLength(1)
    expect(message.content[0]).toMatchObject({ type: 'text', text: 'Mock from openai using gpt-4o-mini' })
    expect(message.usage.output_tokens).toBe(5)
    expect(fake.requests).toHaveLength(0)
  })

  it('an error rule: the SDK raises its usual error with the rule status', async () => {
    const err = await openai.chat.completions
      .create({ model: 'openai/gpt-4o-mini', messages: ask('Too many requests please') })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.RateLimitError)
    expect((err as InstanceType<typeof OpenAI.RateLimitError>).message).toContain('Rate limit exceeded')
    expect(fake.requests).toHaveLength(0)
  })

  it('passes through what no rule matches (another model), to the real provider', async () => {
    const answer = await openai.chat.completions.create({ model: 'openai/gpt-4o', messages: ask('hi') })
    expect(answer.choices[0].message.content).toBe('Echo: hi')
    expect(fake.requests).toHaveLength(1)
  })
})

describe('jsonparser: every streamed piece of JSON parses on its own', () => {
  let fake: FakeServer
  let gw: RunningHeimdall
  let openai: OpenAI

  beforeAll(async () => {
    fake = await startFakeOpenAI()
    gw = await startHeimdall({
      providers: { openai: fakeProvider(fake.url) },
      plugins: [{ name: 'jsonparser', enabled: true, config: { usage: 'per_request' } }],
    })
    openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-unused', maxRetries: 0 })
  })
  afterAll(async () => {
    await gw?.close()
    await fake?.close()
  })

  const weather = {
    type: 'function' as const,
    function: {
      name: 'get_weather',
      parameters: { type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string' } } },
    },
  }

  async function toolArguments(headers?: Record<string, string>): Promise<string[]> {
    const stream = await openai.chat.completions.create(
      { model: 'openai/gpt-4o-mini', messages: ask('weather?'), tools: [weather], stream: true },
      { headers },
    )
    const args: string[] = []
    for await (const chunk of stream) {
      for (const call of chunk.choices[0]?.delta?.tool_calls ?? []) {
        if (call.function?.arguments) args.push(call.function.arguments)
      }
    }
    return args
  }

  it('completes partial tool-call arguments in each chunk, when the request asks for it', async () => {
    const args = await toolArguments({ 'x-bf-enable-streaming-json-parser': 'true' })
    expect(args.length).toBeGreaterThan(3)
    for (const a of args) expect(() => JSON.parse(a)).not.toThrow()
    expect(JSON.parse(args[0])).toEqual({})
    expect(JSON.parse(args.at(-1)!)).toEqual({ city: 'Paris', unit: 'celsius' })
  })

  it('leaves the stream as the provider sent it for a request that does not ask (per_request)', async () => {
    const args = await toolArguments()
    expect(args.join('')).toBe('{"city":"Paris","unit":"celsius"}')
    expect(() => JSON.parse(args[0])).toThrow()
  })

  it('completes structured output as Bifrost does: strings, objects, arrays closed; dangling keys cut', () => {
    expect(completePartialJson('{"a": [1, 2, {"b": "te')).toBe('{"a": [1, 2, {"b": "te"}]}')
    expect(completePartialJson('{"a": 1, "b"')).toBe('{"a": 1}')
    expect(completePartialJson('{"a": 1, "b":')).toBe('{"a": 1}')
    expect(completePartialJson('[{"x": "a\\"q')).toBe('[{"x": "a\\"q"}]')
    expect(completePartialJson('{"done": true}')).toBe('{"done": true}')
  })
})
