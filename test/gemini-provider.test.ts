import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { normalizeProvider } from '../src/core/config.js'
import { GatewayError } from '../src/core/errors.js'
import type { ChatMessage, ChatRequest, ToolCall, Usage } from '../src/core/schemas/index.js'
import { createGeminiAdapter } from '../src/providers/gemini/index.js'
import type { Attempt, ProviderAdapter } from '../src/core/provider-adapter.js'
import { startFakeGemini } from './fakes/gemini.js'
import type { FakeServer } from './fakes/server.js'

let fake: FakeServer
let adapter: ProviderAdapter

beforeAll(async () => {
  fake = await startFakeGemini()
})
afterAll(async () => {
  await fake.close()
})
beforeEach(() => {
  fake.reset()
  adapter = createGeminiAdapter(
    normalizeProvider('gemini', { keys: [{ value: 'test-key' }], network_config: { base_url: fake.url } }),
  )
})

function attempt(overrides: Partial<Attempt> = {}): Attempt {
  const provider = normalizeProvider('gemini', {
    keys: [{ value: 'test-key' }],
    network_config: { base_url: fake.url },
  })
  return {
    provider,
    key: provider.keys[0],
    secret: 'test-key',
    model: 'gemini-2.5-flash',
    signal: new AbortController().signal,
    timeoutMs: 5_000,
    idleTimeoutMs: 5_000,
    requestId: 'req-test',
    extraHeaders: {},
    ...overrides,
  }
}

const chatReq = (messages: ChatMessage[], extra: Record<string, unknown> = {}): ChatRequest =>
  ({ model: 'gemini/gemini-2.5-flash', messages, ...extra }) as ChatRequest

const weatherTools = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Current weather in a city',
      parameters: {
        type: 'object',
        properties: { city: { type: 'string' }, unit: { type: 'string' } },
        required: ['city'],
        additionalProperties: false,
      },
    },
  },
  { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } },
]

/** A stream read back into one message, as a client would. */
interface Streamed {
  content: string
  reasoning: string
  reasoningDetails: any[]
  toolCalls: ToolCall[]
  finish: string | null
  usage: Usage | undefined
  firstDelta: unknown
  usageOnlyCount: number
}

async function stream(a: Attempt, req: ChatRequest): Promise<Streamed> {
  const { items } = await adapter.chatStream(a, req)
  const out: Streamed = {
    content: '',
    reasoning: '',
    reasoningDetails: [],
    toolCalls: [],
    finish: null,
    usage: undefined,
    firstDelta: undefined,
    usageOnlyCount: 0,
  }
  for await (const item of items) {
    const chunk = item.chunk!
    if (item.usageOnly) {
      out.usageOnlyCount++
      out.usage = item.usage
      expect(chunk.choices).toEqual([])
      continue
    }
    const choice = chunk.choices[0]
    out.firstDelta ??= choice.delta
    out.content += choice.delta.content ?? ''
    out.reasoning += choice.delta.reasoning ?? ''
    out.reasoningDetails.push(...(choice.delta.reasoning_details ?? []))
    for (const tc of choice.delta.tool_calls ?? []) {
      out.toolCalls[tc.index] = {
        id: tc.id!,
        type: 'function',
        function: { name: tc.function!.name!, arguments: tc.function!.arguments! },
        ...(tc.extra_content && { extra_content: tc.extra_content }),
      }
    }
    if (choice.finish_reason) out.finish = choice.finish_reason
  }
  return out
}

async function failure(p: Promise<unknown>): Promise<GatewayError> {
  try {
    await p
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError)
    return err as GatewayError
  }
  throw new Error('expected a failure')
}

const lastBody = () => fake.requests[fake.requests.length - 1].body

describe('Gemini adapter against the fake Gemini API', () => {
  it('answers a plain chat through generateContent with the key in x-goog-api-key', async () => {
    const { body, usage } = await adapter.chat(attempt(), chatReq([{ role: 'user', content: 'hi' }]))
    expect(body.choices[0].message.content).toBe('Echo: hi')
    expect(body.choices[0].finish_reason).toBe('stop')
    expect(body.model).toBe('gemini-2.5-flash')
    expect(usage).toEqual(body.usage)
    expect(usage!.total_tokens).toBe(usage!.prompt_tokens + usage!.completion_tokens)
    const sent = fake.requests[0]
    expect(sent.path).toBe('/v1beta/models/gemini-2.5-flash:generateContent')
    expect(sent.headers['x-goog-api-key']).toBe('test-key')
    expect(sent.headers.authorization).toBeUndefined()
  })

  it('never sends OpenAI-only fields, which Gemini rejects', async () => {
    const req = chatReq([{ role: 'user', content: 'hi' }], {
      stream_options: { include_usage: true },
      user: 'u-1',
      fallbacks: ['openai/gpt-4o-mini'],
      parallel_tool_calls: true,
      logit_bias: { '42': 1 },
      temperature: 0.3,
    })
    await adapter.chat(attempt(), req)
    expect(Object.keys(lastBody())).toEqual(['contents', 'generationConfig'])
  })

  it('streams the same content as the non-streamed answer, then one usage-only chunk', async () => {
    const req = chatReq([{ role: 'user', content: 'tell me something in several words' }])
    const plain = await adapter.chat(attempt(), req)
    const streamed = await stream(attempt(), req)
    expect(fake.requests[1].path).toBe('/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse')
    expect(streamed.firstDelta).toEqual({ role: 'assistant', content: '' })
    expect(streamed.content).toBe(plain.body.choices[0].message.content)
    expect(streamed.finish).toBe('stop')
    expect(streamed.usageOnlyCount).toBe(1)
    expect(streamed.usage).toEqual(plain.body.usage)
  })

  it('returns parallel function calls with distinct ids and full arguments, streamed or not', async () => {
    const req = chatReq([{ role: 'user', content: 'weather in Paris and Tokyo?' }], { tools: weatherTools })
    const plain = await adapter.chat(attempt(), req)
    const streamed = await stream(attempt(), req)
    for (const [calls, finish] of [
      [plain.body.choices[0].message.tool_calls!, plain.body.choices[0].finish_reason],
      [streamed.toolCalls, streamed.finish],
    ] as const) {
      expect(finish).toBe('tool_calls')
      expect(calls).toHaveLength(2)
      expect(new Set(calls.map((c) => c.id)).size).toBe(2)
      expect(calls.map((c) => [c.function.name, JSON.parse(c.function.arguments)])).toEqual([
        ['get_weather', { city: 'Paris', unit: 'celsius' }],
        ['get_time', { city: 'Tokyo', unit: 'celsius' }],
      ])
      expect(calls[0].extra_content).toEqual({ google: { thought_signature: expect.any(String) } })
      expect(calls[1].extra_content).toBeUndefined()
    }
    expect(plain.body.choices[0].message.content).toBeNull()
    expect(fake.requests[0].body.tools).toEqual([
      {
        functionDeclarations: [
          {
            name: 'get_weather',
            description: 'Current weather in a city',
            parametersJsonSchema: weatherTools[0].function.parameters,
          },
          { name: 'get_time', parametersJsonSchema: { type: 'object', properties: {} } },
        ],
      },
    ])
  })

  for (const mode of ['non-streamed', 'streamed'] as const) {
    it(`carries the thought signature and the function results back to a gemini-3 model (${mode})`, async () => {
      const a = attempt({ model: 'gemini-3-pro-preview' })
      const question: ChatMessage = { role: 'user', content: 'weather in Paris and Tokyo?' }
      let calls: ToolCall[]
      if (mode === 'streamed') {
        calls = (await stream(a, chatReq([question], { tools: weatherTools }))).toolCalls
      } else {
        calls = (await adapter.chat(a, chatReq([question], { tools: weatherTools }))).body.choices[0].message
          .tool_calls!
      }
      const signature = (calls[0].extra_content as any).google.thought_signature
      // The client answers the second call first: the name must come from the id, not the order.
      const followUp = chatReq(
        [
          question,
          { role: 'assistant', content: null, tool_calls: calls },
          { role: 'tool', tool_call_id: calls[1].id, content: 'noon' },
          { role: 'tool', tool_call_id: calls[0].id, content: '{"temp":21}' },
        ],
        { tools: weatherTools },
      )
      const answer = await adapter.chat(a, followUp)
      expect(answer.body.choices[0].message.content).toBe(
        'Tool said: get_time={"result":"noon"} | get_weather={"temp":21}',
      )
      const contents = lastBody().contents
      expect(contents[1]).toEqual({
        role: 'model',
        parts: [
          {
            functionCall: { name: 'get_weather', args: { city: 'Paris', unit: 'celsius' } },
            thoughtSignature: signature,
          },
          { functionCall: { name: 'get_time', args: { city: 'Tokyo', unit: 'celsius' } } },
        ],
      })
      expect(contents[2]).toEqual({
        role: 'user',
        parts: [
          { functionResponse: { name: 'get_time', response: { result: 'noon' } } },
          { functionResponse: { name: 'get_weather', response: { temp: 21 } } },
        ],
      })
    })
  }

  it('is refused by a gemini-3 model when the signature is lost, as the real API does', async () => {
    const a = attempt({ model: 'gemini-3-pro-preview' })
    const err = await failure(
      adapter.chat(
        a,
        chatReq([
          { role: 'user', content: 'weather?' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: 'x', type: 'function', function: { name: 'get_weather', arguments: '{}' } }],
          },
          { role: 'tool', tool_call_id: 'x', content: 'sunny' },
        ]),
      ),
    )
    expect(err.status).toBe(400)
    expect(err.message).toContain('thought_signature')
  })

  it('maps usage with cached and thinking tokens, and thoughts to reasoning, in both modes', async () => {
    const req = chatReq([{ role: 'user', content: 'this prompt is cached somewhere, is it not?' }], {
      reasoning_effort: 'low',
    })
    const plain = await adapter.chat(attempt(), req)
    expect(lastBody().generationConfig).toEqual({
      thinkingConfig: { thinkingBudget: 1024, includeThoughts: true },
    })
    const streamed = await stream(attempt(), req)
    const message = plain.body.choices[0].message
    expect(message.content).toBe('Echo: this prompt is cached somewhere, is it not?')
    expect(message.reasoning).toMatch(/^\*\*Thinking\*\*/)
    expect(message.reasoning_details).toEqual([
      {
        type: 'reasoning.text',
        index: 0,
        text: message.reasoning,
        signature: expect.any(String),
        format: 'google-gemini-v1',
      },
    ])
    expect(streamed.reasoning).toBe(message.reasoning)
    expect(streamed.content).toBe(message.content)
    for (const usage of [plain.usage!, streamed.usage!]) {
      expect(usage.prompt_tokens_details?.cached_tokens).toBe(8)
      const thoughts = usage.completion_tokens_details!.reasoning_tokens!
      expect(thoughts).toBeGreaterThan(0)
      expect(usage.completion_tokens).toBeGreaterThan(thoughts)
      expect(usage.total_tokens).toBe(usage.prompt_tokens + usage.completion_tokens)
    }
    expect(streamed.usage).toEqual(plain.usage)
  })

  it('sends signed reasoning back as a thought part that Gemini accepts', async () => {
    const first = await adapter.chat(
      attempt(),
      chatReq([{ role: 'user', content: 'think' }], { reasoning_effort: 'low' }),
    )
    const message = first.body.choices[0].message
    await adapter.chat(
      attempt(),
      chatReq([
        { role: 'user', content: 'think' },
        { ...message, role: 'assistant' } as ChatMessage,
        { role: 'user', content: 'again' },
      ]),
    )
    expect(lastBody().contents[1].parts).toEqual([
      { text: message.reasoning, thought: true, thoughtSignature: message.reasoning_details![0].signature },
      { text: message.content },
    ])
  })

  it('reports MAX_TOKENS as length', async () => {
    const { body } = await adapter.chat(
      attempt(),
      chatReq([{ role: 'user', content: 'a rather long question indeed' }], { max_tokens: 2 }),
    )
    expect(body.choices[0].finish_reason).toBe('length')
    expect(lastBody().generationConfig).toEqual({ maxOutputTokens: 2 })
  })

  it('embeds one text and a batch, honouring dimensions and base64', async () => {
    const a = attempt({ model: 'gemini-embedding-001' })
    const one = await adapter.embeddings!(a, {
      model: 'gemini/gemini-embedding-001',
      input: 'hello',
      dimensions: 4,
    })
    expect(fake.requests[0].path).toBe('/v1beta/models/gemini-embedding-001:embedContent')
    expect(one.body.object).toBe('list')
    expect(one.body.data).toHaveLength(1)
    expect(one.body.data[0].embedding).toHaveLength(4)
    expect(one.usage!.prompt_tokens).toBeGreaterThan(0)

    const batch = await adapter.embeddings!(a, {
      model: 'gemini/gemini-embedding-001',
      input: ['hello', 'world'],
      encoding_format: 'base64',
    })
    expect(fake.requests[1].path).toBe('/v1beta/models/gemini-embedding-001:batchEmbedContents')
    expect(batch.body.data.map((d) => d.index)).toEqual([0, 1])
    const bytes = Buffer.from(batch.body.data[0].embedding as string, 'base64')
    const floats = Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4))
    expect(floats).toHaveLength(8)
    const plain = await adapter.embeddings!(a, { model: 'gemini/gemini-embedding-001', input: ['hello'] })
    expect(floats).toEqual((plain.body.data[0].embedding as number[]).map((x) => Math.fround(x)))
  })

  it('lists models across pages with the provider prefix', async () => {
    const models = await adapter.listModels!(attempt())
    expect(models.map((m) => m.id)).toEqual([
      'gemini/gemini-2.5-flash',
      'gemini/gemini-2.5-pro',
      'gemini/gemini-3-pro-preview',
      'gemini/gemini-2.0-flash-lite',
      'gemini/gemini-embedding-001',
      'gemini/gemini-2.5-flash-preview-tts',
      'gemini/gemini-2.5-flash-image',
      'gemini/imagen-4.0-generate-001',
    ])
    expect(fake.requests.length).toBeGreaterThan(1)
    expect(models[0]).toMatchObject({ object: 'model', owned_by: 'google', context_length: 1048576 })
  })

  it('fails an invalid key with a 400 that is not retried', async () => {
    const err = await failure(
      adapter.chat(attempt({ secret: 'bad-key' }), chatReq([{ role: 'user', content: 'hi' }])),
    )
    expect(err.status).toBe(400)
    expect(err.retryable).toBe(false)
    expect(err.upstreamCode).toBe('API_KEY_INVALID')
    expect(err.message).toContain('API key not valid')
  })

  it('passes the retry-after of a 429 on as retryAfterMs', async () => {
    fake.fail({
      kind: 'status',
      status: 429,
      retryAfter: '3',
      body: JSON.stringify({
        error: {
          code: 429,
          message: 'Resource has been exhausted (e.g. check quota).',
          status: 'RESOURCE_EXHAUSTED',
        },
      }),
    })
    const err = await failure(adapter.chat(attempt(), chatReq([{ role: 'user', content: 'hi' }])))
    expect(err.status).toBe(429)
    expect(err.retryable).toBe(true)
    expect(err.retryAfterMs).toBe(3_000)
    expect(err.type).toBe('RESOURCE_EXHAUSTED')
  })

  it('retries a 503', async () => {
    fake.fail({
      kind: 'status',
      status: 503,
      body: JSON.stringify({
        error: {
          code: 503,
          message: 'The model is overloaded. Please try again later.',
          status: 'UNAVAILABLE',
        },
      }),
    })
    const err = await failure(adapter.chatStream(attempt(), chatReq([{ role: 'user', content: 'hi' }])))
    expect(err.status).toBe(503)
    expect(err.retryable).toBe(true)
  })

  it('reports a connection dropped mid-stream as upstream_stream_error', async () => {
    fake.fail({ kind: 'drop', afterEvents: 2 })
    const err = await failure(
      stream(attempt(), chatReq([{ role: 'user', content: 'one two three four five' }])),
    )
    expect(err.code).toBe('upstream_stream_error')
    expect(err.retryable).toBe(true)
  })

  it('reports a malformed frame as upstream_stream_error', async () => {
    fake.fail({ kind: 'malformed', afterEvents: 1 })
    const err = await failure(
      stream(attempt(), chatReq([{ role: 'user', content: 'one two three four five' }])),
    )
    expect(err.code).toBe('upstream_stream_error')
  })

  it('fails a stream that ends cleanly without a finishReason', async () => {
    const frame = {
      candidates: [{ content: { role: 'model', parts: [{ text: 'Echo' }] }, index: 0 }],
      modelVersion: 'gemini-2.5-flash',
      responseId: 'r',
    }
    fake.fail({
      kind: 'status',
      status: 200,
      contentType: 'text/event-stream',
      body: `data: ${JSON.stringify(frame)}\r\n\r\n`,
    })
    const err = await failure(stream(attempt(), chatReq([{ role: 'user', content: 'hi' }])))
    expect(err.code).toBe('upstream_stream_error')
    expect(err.message).toContain('finishReason')
  })

  it('refuses a stream answered with JSON instead of events', async () => {
    fake.fail({ kind: 'status', status: 200, body: '{}' })
    const err = await failure(adapter.chatStream(attempt(), chatReq([{ role: 'user', content: 'hi' }])))
    expect(err.code).toBe('upstream_bad_response')
  })
})
