import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { normalizeProvider } from '../src/core/config.js'
import { GatewayError } from '../src/core/errors.js'
import type { ChatMessage, ChatRequest, ReasoningDetail, ToolCall, Usage } from '../src/core/schemas/index.js'
import { createAnthropicAdapter } from '../src/providers/anthropic/index.js'
import type { Attempt, ChatStreamItem, ProviderAdapter } from '../src/core/provider-adapter.js'
import { anthropicFault, fakeSignature, startFakeAnthropic } from './fakes/anthropic.js'
import type { FakeServer } from './fakes/server.js'

const MODEL = 'claude-sonnet-4-5-20250929'

let fake: FakeServer
let adapter: ProviderAdapter

beforeAll(async () => {
  fake = await startFakeAnthropic()
  adapter = createAnthropicAdapter(
    normalizeProvider('anthropic', {
      keys: [{ value: 'sk-good' }],
      network_config: { base_url: fake.url + '/' },
    }),
  )
})
afterAll(() => fake.close())
beforeEach(() => fake.reset())

function attempt(over: Partial<Attempt> = {}): Attempt {
  const provider = normalizeProvider('anthropic', {
    keys: [{ value: 'sk-good' }],
    network_config: { base_url: fake.url },
  })
  return {
    provider,
    key: provider.keys[0],
    secret: 'sk-good',
    model: MODEL,
    signal: new AbortController().signal,
    timeoutMs: 5000,
    idleTimeoutMs: 5000,
    requestId: 'req-test',
    extraHeaders: {},
    ...over,
  }
}

const ask = (content: string, extra: Partial<ChatRequest> & Record<string, unknown> = {}): ChatRequest => ({
  model: `anthropic/${MODEL}`,
  messages: [{ role: 'user', content }],
  ...extra,
})

const WEATHER_TOOLS = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      parameters: { type: 'object', properties: { city: { type: 'string' } } },
    },
  },
  {
    type: 'function',
    function: {
      name: 'get_forecast',
      parameters: { type: 'object', properties: { city: { type: 'string' } } },
    },
  },
]

interface Assembled {
  content: string
  reasoning: string
  reasoningDetails: ReasoningDetail[]
  toolCalls: ToolCall[]
  finishReason: string | null
  usage: Usage | undefined
  items: ChatStreamItem[]
}

/** Folds streamed deltas back into one message, the way an OpenAI SDK client does. */
async function assemble(items: AsyncIterable<ChatStreamItem>): Promise<Assembled> {
  const out: Assembled = {
    content: '',
    reasoning: '',
    reasoningDetails: [],
    toolCalls: [],
    finishReason: null,
    usage: undefined,
    items: [],
  }
  const details = new Map<number, ReasoningDetail>()
  for await (const item of items) {
    out.items.push(item)
    if (item.usage) out.usage = item.usage
    for (const choice of item.chunk!.choices) {
      const d = choice.delta
      if (d.content) out.content += d.content
      if (d.reasoning) out.reasoning += d.reasoning
      for (const r of d.reasoning_details ?? []) {
        const prev = details.get(r.index!)
        if (!prev) details.set(r.index!, { ...r })
        else {
          if (r.text) prev.text = (prev.text ?? '') + r.text
          if (r.signature) prev.signature = r.signature
        }
      }
      for (const t of d.tool_calls ?? []) {
        const prev = out.toolCalls[t.index]
        if (!prev)
          out.toolCalls[t.index] = {
            id: t.id!,
            type: 'function',
            function: { name: t.function!.name!, arguments: t.function!.arguments ?? '' },
          }
        else prev.function.arguments += t.function?.arguments ?? ''
      }
      if (choice.finish_reason) out.finishReason = choice.finish_reason
    }
  }
  out.reasoningDetails = [...details.values()]
  return out
}

async function streamed(req: ChatRequest, a: Attempt = attempt()): Promise<Assembled> {
  const { items } = await adapter.chatStream(a, req)
  return assemble(items)
}

async function failure(p: Promise<unknown>): Promise<GatewayError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(GatewayError)
  return err as GatewayError
}

describe('Anthropic adapter against the fake Messages API', () => {
  it('answers a plain chat with content, finish reason and usage', async () => {
    const res = await adapter.chat(attempt(), ask('hi', { max_tokens: 50, temperature: 0.5 }))
    expect(res.body).toMatchObject({
      object: 'chat.completion',
      model: MODEL,
      choices: [{ index: 0, message: { role: 'assistant', content: 'Echo: hi' }, finish_reason: 'stop' }],
    })
    expect(res.body.id).toMatch(/^msg_/)
    expect(res.usage).toEqual(res.body.usage)
    expect(res.usage!.completion_tokens).toBeGreaterThan(0)
    expect(res.headers?.['request-id']).toMatch(/^req_/)
  })

  it('sends x-api-key, anthropic-version and the caller’s anthropic-beta to /v1/messages', async () => {
    await adapter.chat(attempt({ extraHeaders: { 'anthropic-beta': 'context-1m-2025-08-07' } }), ask('hi'))
    const sent = fake.requests[0]
    expect(sent.path).toBe('/v1/messages')
    expect(sent.headers['x-api-key']).toBe('sk-good')
    expect(sent.headers['anthropic-version']).toBe('2023-06-01')
    expect(sent.headers['anthropic-beta']).toBe('context-1m-2025-08-07')
    expect(sent.headers.authorization).toBeUndefined()
    expect(sent.body).toEqual({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4096 })
  })

  it('sends a system prompt and drops OpenAI-only parameters the real API would refuse', async () => {
    const res = await adapter.chat(
      attempt(),
      ask('hi', {
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'developer', content: 'Be kind.' },
          { role: 'user', content: 'hi' },
        ],
        n: 1,
        seed: 1,
        frequency_penalty: 0,
        presence_penalty: 0,
        logprobs: false,
        response_format: { type: 'text' },
        stream_options: { include_usage: true },
        fallbacks: ['openai/gpt-4o'],
        user: 'alice',
      }),
    )
    expect(res.body.choices[0].message.content).toBe('Echo: hi')
    expect(fake.requests[0].body.system).toBe('Be brief.\n\nBe kind.')
    expect(fake.requests[0].body.metadata).toEqual({ user_id: 'alice' })
  })

  it('streams chunks that assemble into the same message as the non-streamed answer', async () => {
    const req = ask('tell me something long enough to arrive in several pieces')
    const plain = await adapter.chat(attempt(), req)
    const s = await streamed(req)
    expect(s.content).toBe(plain.body.choices[0].message.content)
    expect(s.finishReason).toBe(plain.body.choices[0].finish_reason)
    expect(s.usage).toEqual(plain.usage)
    expect(s.items.length).toBeGreaterThan(5)
    expect(s.items[0].chunk!.choices[0].delta).toEqual({ role: 'assistant', content: '' })
    const last = s.items[s.items.length - 1]
    expect(last.usageOnly).toBe(true)
    expect(last.chunk!.choices).toEqual([])
    expect(fake.requests[1].body.stream).toBe(true)
  })

  it('reassembles parallel streamed tool calls exactly, keyed 0 and 1', async () => {
    const req = ask('weather in Paris and Tokyo?', { tools: WEATHER_TOOLS })
    const plain = await adapter.chat(attempt(), req)
    const s = await streamed(req)
    expect(s.finishReason).toBe('tool_calls')
    expect(s.content).toBe('')
    expect(s.toolCalls).toHaveLength(2)
    expect(s.toolCalls.map((t) => t.function.name)).toEqual(['get_weather', 'get_forecast'])
    expect(s.toolCalls.map((t) => JSON.parse(t.function.arguments))).toEqual([
      { city: 'Paris', unit: 'celsius' },
      { city: 'Tokyo', unit: 'celsius' },
    ])
    for (const t of s.toolCalls) expect(t.id).toMatch(/^toolu_/)
    const indices = new Set(
      s.items.flatMap((i) => i.chunk!.choices.flatMap((c) => (c.delta.tool_calls ?? []).map((t) => t.index))),
    )
    expect([...indices]).toEqual([0, 1])
    // Arguments arrive in many small pieces, not in one.
    const argPieces = s.items.filter((i) => i.chunk!.choices[0]?.delta.tool_calls?.[0]?.function?.arguments)
    expect(argPieces.length).toBeGreaterThan(6)
    // Same calls as the non-streamed answer, apart from the fake's fresh ids.
    expect(
      plain.body.choices[0].message.tool_calls!.map((t) => [t.function.name, t.function.arguments]),
    ).toEqual(s.toolCalls.map((t) => [t.function.name, t.function.arguments]))
  })

  it('sends tool results back as tool_result blocks the API accepts', async () => {
    const first = await adapter.chat(attempt(), ask('weather?', { tools: WEATHER_TOOLS }))
    const calls = first.body.choices[0].message.tool_calls!
    const messages: ChatMessage[] = [
      { role: 'user', content: 'weather?' },
      { role: 'assistant', content: null, tool_calls: calls },
      { role: 'tool', tool_call_id: calls[0].id, content: '21C' },
      { role: 'tool', tool_call_id: calls[1].id, content: '25C' },
    ]
    const second = await adapter.chat(attempt(), { model: MODEL, messages, tools: WEATHER_TOOLS })
    expect(second.body.choices[0].message.content).toBe('Tool said: 21C | 25C')
    expect(fake.requests[1].body.messages).toHaveLength(3)
  })

  it('honours parallel_tool_calls false with a single call', async () => {
    const res = await adapter.chat(
      attempt(),
      ask('weather?', { tools: WEATHER_TOOLS, parallel_tool_calls: false }),
    )
    expect(res.body.choices[0].message.tool_calls).toHaveLength(1)
  })

  it('carries thinking and its signature to reasoning_details and back into the next request', async () => {
    const req = ask('why is the sky blue?', { reasoning_effort: 'low' })
    const plain = await adapter.chat(attempt(), req)
    const msg = plain.body.choices[0].message
    const expectedThinking = 'The user wrote "why is the sky blue?". I will answer plainly.'
    expect(msg.reasoning).toBe(expectedThinking)
    expect(msg.reasoning_details).toEqual([
      {
        type: 'reasoning.text',
        index: 0,
        text: expectedThinking,
        signature: fakeSignature(expectedThinking),
      },
    ])

    const s = await streamed(req)
    expect(s.reasoning).toBe(expectedThinking)
    expect(s.reasoningDetails).toEqual(msg.reasoning_details)
    expect(s.content).toBe(msg.content)

    // The streamed details, as a client accumulated them, go back as a signed thinking block.
    const next = await adapter.chat(attempt(), {
      model: MODEL,
      reasoning_effort: 'low',
      messages: [
        { role: 'user', content: 'why is the sky blue?' },
        { role: 'assistant', content: s.content, reasoning_details: s.reasoningDetails },
        { role: 'user', content: 'and at sunset?' },
      ],
    })
    expect(next.body.choices[0].message.content).toBe('Echo: and at sunset?')
    expect(fake.requests[2].body.messages[1].content).toEqual([
      { type: 'thinking', thinking: expectedThinking, signature: fakeSignature(expectedThinking) },
      { type: 'text', text: msg.content },
    ])
  })

  it('sends the raw streamed reasoning pieces back intact when a client keeps every delta', async () => {
    const s = await streamed(ask('q', { reasoning_effort: 'low' }))
    const raw = s.items.flatMap((i) => i.chunk!.choices.flatMap((c) => c.delta.reasoning_details ?? []))
    expect(raw.length).toBeGreaterThan(2)
    const next = await adapter.chat(attempt(), {
      model: MODEL,
      reasoning_effort: 'low',
      messages: [
        { role: 'user', content: 'q' },
        { role: 'assistant', content: s.content, reasoning_details: raw },
        { role: 'user', content: 'again' },
      ],
    })
    expect(next.body.choices[0].message.content).toBe('Echo: again')
  })

  it('numbers thinking and tool calls separately when both stream', async () => {
    const s = await streamed(ask('weather?', { tools: WEATHER_TOOLS, reasoning_effort: 'low' }))
    expect(s.reasoningDetails.map((d) => d.index)).toEqual([0])
    expect(s.toolCalls.map((t) => JSON.parse(t.function.arguments).city)).toEqual(['Paris', 'Tokyo'])
  })

  it('maps cache reads and writes into prompt_tokens and prompt_tokens_details', async () => {
    const read = await adapter.chat(attempt(), ask('this prompt is cached'))
    expect(read.usage!.prompt_tokens_details).toEqual({ cached_tokens: 8, cache_creation_tokens: 0 })
    const uncached = await adapter.chat(attempt(), ask('this prompt is cachex'))
    expect(read.usage!.prompt_tokens).toBe(uncached.usage!.prompt_tokens + 8)
    const readStream = await streamed(ask('this prompt is cached'))
    expect(readStream.usage).toEqual(read.usage)

    const write = await adapter.chat(
      attempt(),
      ask('x', {
        messages: [
          {
            role: 'system',
            content: [{ type: 'text', text: 'long rules', cache_control: { type: 'ephemeral' } }],
          },
          { role: 'user', content: 'hi' },
        ],
      }),
    )
    const u = write.usage!
    expect(u.prompt_tokens_details).toEqual({
      cached_tokens: 0,
      cache_creation_tokens: 4,
      cached_write_tokens: 4,
    })
    expect(fake.requests[3].body.system).toEqual([
      { type: 'text', text: 'long rules', cache_control: { type: 'ephemeral' } },
    ])
    expect(u.prompt_tokens).toBeGreaterThan(4)
    expect(u.total_tokens).toBe(u.prompt_tokens + u.completion_tokens)
  })

  it('maps a stop sequence and a max_tokens cut to their finish reasons', async () => {
    const stopped = await adapter.chat(attempt(), ask('one two three', { stop: ['two'] }))
    expect(stopped.body.choices[0]).toMatchObject({
      message: { content: 'Echo: one ' },
      finish_reason: 'stop',
    })
    const cut = await adapter.chat(
      attempt(),
      ask('a rather long question that will not fit', { max_completion_tokens: 2 }),
    )
    expect(cut.body.choices[0].finish_reason).toBe('length')
  })

  it('turns a 401 into a GatewayError with status 401 and a dead key', async () => {
    const err = await failure(adapter.chat(attempt({ secret: 'sk-bad' }), ask('hi')))
    expect(err.status).toBe(401)
    expect(err.keyDead).toBe(true)
    expect(err.type).toBe('authentication_error')
    expect(err.isBifrostError).toBe(false)
    const streamErr = await failure(adapter.chatStream(attempt({ secret: 'sk-bad' }), ask('hi')))
    expect(streamErr.status).toBe(401)
  })

  it('treats a 529 overload as retryable', async () => {
    fake.fail(anthropicFault(529, 'overloaded_error', 'Overloaded'))
    const err = await failure(adapter.chat(attempt(), ask('hi')))
    expect(err.status).toBe(529)
    expect(err.type).toBe('overloaded_error')
    expect(err.message).toBe('Overloaded')
    expect(err.retryable).toBe(true)
    expect(err.keyDead).toBe(false)
  })

  it('reads retry-after on a 429 into retryAfterMs', async () => {
    fake.fail(anthropicFault(429, 'rate_limit_error', 'Number of requests has exceeded your rate limit', '7'))
    const err = await failure(adapter.chatStream(attempt(), ask('hi')))
    expect(err.status).toBe(429)
    expect(err.type).toBe('rate_limit_error')
    expect(err.retryAfterMs).toBe(7000)
    expect(err.retryable).toBe(true)
  })

  it('keeps a 400 invalid_request_error as a non-retryable error with its message', async () => {
    const err = await failure(
      adapter.chat(
        attempt(),
        ask('hi', { reasoning_effort: undefined, thinking: { type: 'enabled', budget_tokens: 10 } }),
      ),
    )
    expect(err.status).toBe(400)
    expect(err.type).toBe('invalid_request_error')
    expect(err.message).toMatch(/budget_tokens/)
    expect(err.retryable).toBe(false)
  })

  it('fails with upstream_stream_error when the connection drops mid-stream', async () => {
    fake.fail({ kind: 'drop', afterEvents: 4 })
    const { items } = await adapter.chatStream(attempt(), ask('hello there friend'))
    const seen: ChatStreamItem[] = []
    const err = await failure(
      (async () => {
        for await (const item of items) seen.push(item)
      })(),
    )
    expect(err.code).toBe('upstream_stream_error')
    expect(err.retryable).toBe(true)
    expect(seen.length).toBeGreaterThan(0)
  })

  it('fails with upstream_stream_error on a malformed event', async () => {
    fake.fail({ kind: 'malformed', afterEvents: 3 })
    const { items } = await adapter.chatStream(attempt(), ask('hello there'))
    const err = await failure(assemble(items))
    expect(err.code).toBe('upstream_stream_error')
    expect(err.message).toMatch(/malformed/)
  })

  it('fails when the stream ends cleanly without message_stop', async () => {
    const { items } = await adapter.chatStream(attempt(), ask('[no-stop] hi'))
    const err = await failure(assemble(items))
    expect(err.code).toBe('upstream_stream_error')
    expect(err.message).toMatch(/message_stop/)
  })

  it('fails with upstream_stream_error on an error event mid-stream', async () => {
    const { items } = await adapter.chatStream(attempt(), ask('[stream-error] hi'))
    const err = await failure(assemble(items))
    expect(err.code).toBe('upstream_stream_error')
    expect(err.message).toMatch(/overloaded_error/)
    expect(err.retryable).toBe(true)
  })

  it('turns a broken JSON body into a retryable bad response', async () => {
    fake.fail({ kind: 'malformed', afterEvents: 0 })
    const err = await failure(adapter.chat(attempt(), ask('hi')))
    expect(err.code).toBe('upstream_bad_response')
    expect(err.retryable).toBe(true)
  })

  it('lists models with ids prefixed by the provider name', async () => {
    const models = await adapter.listModels!(attempt())
    expect(models.map((m) => m.id)).toContain(`anthropic/${MODEL}`)
    expect(models.every((m) => m.id.startsWith('anthropic/') && m.object === 'model' && m.created > 0)).toBe(
      true,
    )
    expect(fake.requests[0]).toMatchObject({ method: 'GET', path: '/v1/models?limit=1000' })
    expect(fake.requests[0].headers['x-api-key']).toBe('sk-good')
  })

  it('names models after a custom provider', async () => {
    const custom = createAnthropicAdapter(
      normalizeProvider('my-claude', {
        network_config: { base_url: fake.url },
        custom_provider_config: { base_provider_type: 'anthropic' },
      }),
    )
    const models = await custom.listModels!(attempt())
    expect(models[0].id.startsWith('my-claude/')).toBe(true)
  })
})
