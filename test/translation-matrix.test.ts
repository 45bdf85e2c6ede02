import OpenAI from 'openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { anthropicFault, startFakeAnthropic } from './fakes/anthropic.js'
import { startFakeGemini } from './fakes/gemini.js'
import { fakeVector, startFakeOpenAI } from './fakes/openai.js'
import type { Fault, FakeServer } from './fakes/server.js'
import { fakeProvider, type RunningHeimdall, startHeimdall } from './helpers/heimdall.js'
import type { Reasoning, ReasoningDetail } from './helpers/matrix/openai.js'

/**
 * The same OpenAI SDK calls through /v1 against three wire formats: OpenAI passes through,
 * Anthropic and Gemini are translated. Whatever the provider, the client must see the same thing.
 */

type ProviderName = 'openai' | 'anthropic' | 'gemini'

interface ProviderCase {
  provider: ProviderName
  model: string
  /** The provider's own body for a 429, as its API sends it. */
  rateLimit: Fault
  rateLimitMessage: string
  /** A key the fake refuses. */
  badKey: string
  /** Where a Responses request lands upstream: OpenAI natively, the others through chat. */
  responsesPath: RegExp
}

const OPENAI_RATE_LIMIT = 'Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3.'
const ANTHROPIC_RATE_LIMIT = 'Number of requests has exceeded your rate limit'
const GEMINI_RATE_LIMIT = 'Resource has been exhausted (e.g. check quota).'

const CASES: ProviderCase[] = [
  {
    provider: 'openai',
    model: 'openai/gpt-4o-mini',
    rateLimit: {
      kind: 'status',
      status: 429,
      body: JSON.stringify({
        error: { message: OPENAI_RATE_LIMIT, type: 'requests', param: null, code: 'rate_limit_exceeded' },
      }),
    },
    rateLimitMessage: OPENAI_RATE_LIMIT,
    badKey: 'sk-bad',
    responsesPath: /^\/v1\/responses$/,
  },
  {
    provider: 'anthropic',
    model: 'anthropic/claude-sonnet-4-5',
    rateLimit: anthropicFault(429, 'rate_limit_error', ANTHROPIC_RATE_LIMIT),
    rateLimitMessage: ANTHROPIC_RATE_LIMIT,
    badKey: 'sk-bad',
    responsesPath: /^\/v1\/messages$/,
  },
  {
    provider: 'gemini',
    model: 'gemini/gemini-2.5-flash',
    rateLimit: {
      kind: 'status',
      status: 429,
      body: JSON.stringify({
        error: { code: 429, message: GEMINI_RATE_LIMIT, status: 'RESOURCE_EXHAUSTED' },
      }),
    },
    rateLimitMessage: GEMINI_RATE_LIMIT,
    badKey: 'bad-key',
    responsesPath: /^\/v1beta\/models\/gemini-2\.5-flash:(generateContent|streamGenerateContent\?alt=sse)$/,
  },
]

const TOOLS: OpenAI.ChatCompletionFunctionTool[] = ['get_weather', 'get_time'].map((name) => ({
  type: 'function',
  function: { name, parameters: { type: 'object', properties: { city: { type: 'string' } } } },
}))
const TOOL_ARGUMENTS = [
  { city: 'Paris', unit: 'celsius' },
  { city: 'Tokyo', unit: 'celsius' },
]

type ReasoningMessage = OpenAI.ChatCompletionMessage & Reasoning
type ReasoningDelta = OpenAI.ChatCompletionChunk.Choice.Delta & Reasoning

interface Assembled {
  content: string
  reasoning: string
  reasoningDetails: ReasoningDetail[]
  toolCalls: { id: string; name: string; arguments: string }[]
  finishReason: string | null
  usage: OpenAI.CompletionUsage | undefined
  /** Chunks with `choices: []`. */
  emptyChunks: number
  /** Chunks that carry a usage object. */
  usageChunks: number
  /** The last chunk of the stream. */
  last: OpenAI.ChatCompletionChunk | undefined
}

/** Folds streamed chunks into one message, by index, the way a client without the SDK helper does. */
async function assemble(stream: AsyncIterable<OpenAI.ChatCompletionChunk>): Promise<Assembled> {
  const out: Assembled = {
    content: '',
    reasoning: '',
    reasoningDetails: [],
    toolCalls: [],
    finishReason: null,
    usage: undefined,
    emptyChunks: 0,
    usageChunks: 0,
    last: undefined,
  }
  const details = new Map<number, ReasoningDetail>()
  for await (const chunk of stream) {
    out.last = chunk
    if (chunk.choices.length === 0) out.emptyChunks++
    if (chunk.usage) {
      out.usageChunks++
      out.usage = chunk.usage
    }
    for (const choice of chunk.choices) {
      const delta = choice.delta as ReasoningDelta
      out.content += delta.content ?? ''
      out.reasoning += delta.reasoning ?? ''
      for (const d of delta.reasoning_details ?? []) {
        const prev = details.get(d.index ?? 0)
        if (!prev) details.set(d.index ?? 0, { ...d })
        else {
          if (d.text) prev.text = (prev.text ?? '') + d.text
          if (d.signature) prev.signature = d.signature
          if (d.data) prev.data = d.data
        }
      }
      for (const t of delta.tool_calls ?? []) {
        const prev = out.toolCalls[t.index]
        if (!prev) {
          out.toolCalls[t.index] = {
            id: t.id ?? '',
            name: t.function?.name ?? '',
            arguments: t.function?.arguments ?? '',
          }
        } else {
          if (t.id) prev.id = t.id
          if (t.function?.name) prev.name += t.function.name
          prev.arguments += t.function?.arguments ?? ''
        }
      }
      if (choice.finish_reason) out.finishReason = choice.finish_reason
    }
  }
  out.reasoningDetails = [...details.values()]
  return out
}

function expectConsistentUsage(usage: OpenAI.CompletionUsage | undefined): void {
  expect(usage).toBeDefined()
  const u = usage!
  expect(u.prompt_tokens).toBeGreaterThan(0)
  expect(u.completion_tokens).toBeGreaterThan(0)
  expect(u.total_tokens).toBe(u.prompt_tokens + u.completion_tokens)
}

/** The rejection of a promise, which must be one. */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => expect.unreachable('the request should have failed'),
    (err: unknown) => err,
  )
}

const fakes = {} as Record<ProviderName, FakeServer>
let gw: RunningHeimdall
/** A second Heimdall whose every key the providers refuse. */
let refused: RunningHeimdall
let client: OpenAI
let refusedClient: OpenAI

beforeAll(async () => {
  const [openai, anthropic, gemini] = await Promise.all([
    startFakeOpenAI(),
    startFakeAnthropic(),
    startFakeGemini(),
  ])
  Object.assign(fakes, { openai, anthropic, gemini })
  const providers = (badKey?: (c: ProviderCase) => string) =>
    Object.fromEntries(
      CASES.map((c) => [
        c.provider,
        fakeProvider(
          fakes[c.provider].url,
          {},
          badKey && [{ name: 'revoked', value: badKey(c), models: ['*'], weight: 1 }],
        ),
      ]),
    )
  ;[gw, refused] = await Promise.all([
    startHeimdall({ providers: providers() }),
    startHeimdall({ providers: providers((c) => c.badKey) }),
  ])
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-unused', maxRetries: 0 })
  refusedClient = new OpenAI({ baseURL: `${refused.url}/v1`, apiKey: 'sk-unused', maxRetries: 0 })
})
afterAll(async () => {
  await Promise.all([gw?.close(), refused?.close()])
  await Promise.all(Object.values(fakes).map((f) => f.close()))
})
beforeEach(() => {
  for (const f of Object.values(fakes)) f.reset()
})

describe.each(CASES)('$provider through the OpenAI SDK', (c) => {
  const { model } = c
  const fake = () => fakes[c.provider]
  const ask = (text: string): OpenAI.ChatCompletionMessageParam[] => [{ role: 'user', content: text }]

  describe('chat', () => {
    it('answers non-streamed with the echo, stop and consistent usage', async () => {
      const res = await client.chat.completions.create({ model, messages: ask('hello matrix') })
      expect(res.object).toBe('chat.completion')
      expect(res.choices).toHaveLength(1)
      expect(res.choices[0].message.role).toBe('assistant')
      expect(res.choices[0].message.content).toBe('Echo: hello matrix')
      expect(res.choices[0].finish_reason).toBe('stop')
      expectConsistentUsage(res.usage)
    })

    it('streams deltas that join into the non-streamed answer, with one usage chunk when asked', async () => {
      const messages = ask('one two three four five')
      const plain = await client.chat.completions.create({ model, messages })
      const s = await assemble(
        await client.chat.completions.create({
          model,
          messages,
          stream: true,
          stream_options: { include_usage: true },
        }),
      )
      expect(s.content).toBe(plain.choices[0].message.content)
      expect(s.content).toBe('Echo: one two three four five')
      expect(s.finishReason).toBe('stop')
      expect(s.emptyChunks).toBe(1)
      expect(s.usageChunks).toBe(1)
      expect(s.last?.choices).toEqual([])
      expect(s.last?.usage).toBe(s.usage)
      expectConsistentUsage(s.usage)
      expect(s.usage).toEqual(plain.usage)
    })

    it('streams no usage at all when include_usage is not asked for', async () => {
      const stream = await client.chat.completions.create({
        model,
        messages: ask('one two three'),
        stream: true,
      })
      let content = ''
      for await (const chunk of stream) {
        expect(chunk.choices.length).toBeGreaterThan(0)
        expect(chunk.usage ?? null).toBeNull()
        content += chunk.choices[0].delta.content ?? ''
      }
      expect(content).toBe('Echo: one two three')
    })
  })

  describe('parallel tool calls', () => {
    const question = ask('weather and time in Paris and Tokyo?')

    function expectTwoCalls(calls: { id: string; name: string; arguments: string }[]): void {
      expect(calls).toHaveLength(2)
      expect(calls.map((t) => t.name)).toEqual(['get_weather', 'get_time'])
      expect(calls.map((t) => JSON.parse(t.arguments) as unknown)).toEqual(TOOL_ARGUMENTS)
      expect(calls[0].id).toBeTruthy()
      expect(calls[1].id).toBeTruthy()
      expect(calls[0].id).not.toBe(calls[1].id)
    }

    function functionCalls(message: OpenAI.ChatCompletionMessage) {
      return (message.tool_calls ?? []).map((t) => {
        if (t.type !== 'function') throw new Error(`unexpected tool call type ${t.type}`)
        return { id: t.id, name: t.function.name, arguments: t.function.arguments }
      })
    }

    async function answerTools(
      assistant: OpenAI.ChatCompletionAssistantMessageParam,
      calls: { id: string }[],
    ): Promise<OpenAI.ChatCompletion> {
      const second = await client.chat.completions.create({
        model,
        tools: TOOLS,
        messages: [
          ...question,
          assistant,
          { role: 'tool', tool_call_id: calls[0].id, content: '21C' },
          { role: 'tool', tool_call_id: calls[1].id, content: '14:00' },
        ],
      })
      expect(second.choices[0].finish_reason).toBe('stop')
      expect(second.choices[0].message.tool_calls ?? []).toHaveLength(0)
      expect(second.choices[0].message.content).toMatch(/^Tool said: .*21C.*14:00/)
      return second
    }

    it('returns two calls non-streamed, and takes their results back', async () => {
      const res = await client.chat.completions.create({ model, messages: question, tools: TOOLS })
      expect(res.choices[0].finish_reason).toBe('tool_calls')
      const calls = functionCalls(res.choices[0].message)
      expectTwoCalls(calls)
      await answerTools(res.choices[0].message, calls)
    })

    it('streams two calls that the SDK helper and a manual fold assemble alike, and takes results back', async () => {
      const stream = client.chat.completions.stream({ model, messages: question, tools: TOOLS })
      const manual = await assemble(stream)
      const final = await stream.finalChatCompletion()
      expect(manual.finishReason).toBe('tool_calls')
      expectTwoCalls(manual.toolCalls)
      expect(final.choices[0].finish_reason).toBe('tool_calls')
      const calls = functionCalls(final.choices[0].message)
      expectTwoCalls(calls)
      expect(calls).toEqual(manual.toolCalls)
      // The second turn built by hand from the manual fold, as a client without the helper would.
      await answerTools(
        {
          role: 'assistant',
          content: null,
          tool_calls: manual.toolCalls.map((t) => ({
            id: t.id,
            type: 'function',
            function: { name: t.name, arguments: t.arguments },
          })),
        },
        manual.toolCalls,
      )
      // And the helper's own message, sent back as it is.
      await answerTools(final.choices[0].message, calls)
    })
  })

  describe('cached tokens', () => {
    it('reports prompt_tokens_details.cached_tokens, streamed and not', async () => {
      const messages = ask('this prompt is cached already')
      const plain = await client.chat.completions.create({ model, messages })
      expect(plain.usage?.prompt_tokens_details?.cached_tokens).toBeGreaterThan(0)
      const s = await assemble(
        await client.chat.completions.create({
          model,
          messages,
          stream: true,
          stream_options: { include_usage: true },
        }),
      )
      expect(s.usage?.prompt_tokens_details?.cached_tokens).toBeGreaterThan(0)
      expect(s.usage?.prompt_tokens_details?.cached_tokens).toBe(
        plain.usage?.prompt_tokens_details?.cached_tokens,
      )
    })
  })

  describe('Responses API', () => {
    it('answers plain with output_text and usage', async () => {
      const res = await client.responses.create({ model, input: 'ping pong' })
      expect(res.object).toBe('response')
      expect(res.status).toBe('completed')
      expect(res.output_text).toBe('Echo: ping pong')
      expect(res.usage?.input_tokens).toBeGreaterThan(0)
      expect(res.usage?.output_tokens).toBeGreaterThan(0)
      expect(res.usage?.total_tokens).toBe(res.usage!.input_tokens + res.usage!.output_tokens)
      expect(fake().requests[0].path).toMatch(c.responsesPath)
    })

    it('streams text deltas and a completed response with usage', async () => {
      const stream = await client.responses.create({ model, input: 'ping pong', stream: true })
      let text = ''
      let completed: OpenAI.Responses.Response | undefined
      for await (const ev of stream) {
        if (ev.type === 'response.output_text.delta') text += ev.delta
        if (ev.type === 'response.completed') completed = ev.response
      }
      expect(text).toBe('Echo: ping pong')
      expect(completed?.output_text ?? completedText(completed)).toBe('Echo: ping pong')
      expect(completed?.usage?.input_tokens).toBeGreaterThan(0)
      expect(completed?.usage?.output_tokens).toBeGreaterThan(0)
      expect(fake().requests[0].path).toMatch(c.responsesPath)
    })
  })

  describe('provider errors', () => {
    it('surfaces the provider’s 429 as a RateLimitError with its message, streamed and not', async () => {
      fake().fail(c.rateLimit, c.rateLimit)
      const err = await rejection(client.chat.completions.create({ model, messages: ask('hi') }))
      expect(err).toBeInstanceOf(OpenAI.RateLimitError)
      const e = err as InstanceType<typeof OpenAI.RateLimitError>
      expect(e.status).toBe(429)
      expect(e.message).toContain(c.rateLimitMessage)
      const streamErr = await rejection(
        client.chat.completions.create({ model, messages: ask('hi'), stream: true }),
      )
      expect(streamErr).toBeInstanceOf(OpenAI.RateLimitError)
      expect((streamErr as Error).message).toContain(c.rateLimitMessage)
      expect(fake().requests).toHaveLength(2)
    })

    it('turns a key the provider refuses into 502 upstream_credentials_exhausted', async () => {
      const err = await rejection(refusedClient.chat.completions.create({ model, messages: ask('hi') }))
      expect(err).toBeInstanceOf(OpenAI.InternalServerError)
      const e = err as InstanceType<typeof OpenAI.InternalServerError>
      expect(e.status).toBe(502)
      expect(e.code).toBe('upstream_credentials_exhausted')
      expect(e.message).not.toContain(c.badKey)
    })
  })
})

function completedText(res: OpenAI.Responses.Response | undefined): string {
  let text = ''
  for (const item of res?.output ?? []) {
    if (item.type !== 'message') continue
    for (const part of item.content) if (part.type === 'output_text') text += part.text
  }
  return text
}

const REASONING_CASES = CASES.filter((c) => c.provider !== 'openai')

describe.each(REASONING_CASES)('$provider reasoning through the OpenAI SDK', (c) => {
  const { model } = c
  const fake = () => fakes[c.provider]
  const question = 'why is the sky blue?'

  /** The signature that must come back byte for byte on the next turn. */
  function signatureOf(details: ReasoningDetail[] | undefined): string {
    const signed = (details ?? []).find((d) => d.signature)
    expect(signed?.signature).toBeTruthy()
    return signed!.signature!
  }

  async function nextTurn(assistant: OpenAI.ChatCompletionAssistantMessageParam & Reasoning): Promise<void> {
    const next = await client.chat.completions.create({
      model,
      reasoning_effort: 'high',
      messages: [{ role: 'user', content: question }, assistant, { role: 'user', content: 'and at sunset?' }],
    })
    expect(next.choices[0].message.content).toBe('Echo: and at sunset?')
  }

  /** The signatures the fake got back in the last request, wherever its wire format puts them. */
  function signaturesSentBack(): string[] {
    const body = fake().requests[fake().requests.length - 1].body
    const found: string[] = []
    JSON.stringify(body, (key, value: unknown) => {
      if ((key === 'signature' || key === 'thoughtSignature') && typeof value === 'string') found.push(value)
      return value
    })
    return found
  }

  it('returns signed reasoning non-streamed, and the provider accepts it back', async () => {
    const res = await client.chat.completions.create({
      model,
      reasoning_effort: 'high',
      messages: [{ role: 'user', content: question }],
    })
    const message = res.choices[0].message as ReasoningMessage
    expect(message.content).toBe(`Echo: ${question}`)
    expect(message.reasoning).toContain(question)
    const signature = signatureOf(message.reasoning_details)
    await nextTurn(message)
    expect(signaturesSentBack()).toContain(signature)
  })

  it('streams signed reasoning, and the provider accepts the folded deltas back', async () => {
    const s = await assemble(
      await client.chat.completions.create({
        model,
        reasoning_effort: 'high',
        messages: [{ role: 'user', content: question }],
        stream: true,
      }),
    )
    expect(s.content).toBe(`Echo: ${question}`)
    expect(s.reasoning).toContain(question)
    const signature = signatureOf(s.reasoningDetails)
    await nextTurn({ role: 'assistant', content: s.content, reasoning_details: s.reasoningDetails })
    expect(signaturesSentBack()).toContain(signature)
  })

  it('is refused by the provider when the signature was tampered with', async () => {
    const res = await client.chat.completions.create({
      model,
      reasoning_effort: 'high',
      messages: [{ role: 'user', content: question }],
    })
    const message = res.choices[0].message as ReasoningMessage
    const forged = (message.reasoning_details ?? []).map((d) =>
      d.signature ? { ...d, signature: Buffer.from('forged').toString('base64') } : d,
    )
    const err = await rejection(nextTurn({ ...message, reasoning_details: forged }))
    expect(err).toBeInstanceOf(OpenAI.BadRequestError)
    expect((err as Error).message).toMatch(/signature/i)
  })
})

describe('embeddings', () => {
  it.each([
    ['openai', 'openai/text-embedding-3-small'],
    ['gemini', 'gemini/gemini-embedding-001'],
  ])('%s serves embeddings through the SDK', async (_provider, model) => {
    const res = await client.embeddings.create({ model, input: ['alpha', 'beta'] })
    expect(res.object).toBe('list')
    expect(res.data.map((d) => d.index)).toEqual([0, 1])
    res.data.forEach((d, i) => {
      const expected = fakeVector(['alpha', 'beta'][i])
      expect(d.embedding).toHaveLength(expected.length)
      d.embedding.forEach((v, k) => expect(v).toBeCloseTo(expected[k], 5))
    })
    expect(res.usage.prompt_tokens).toBeGreaterThan(0)
  })

  it('anthropic refuses embeddings with 400 unsupported_operation in Bifrost’s error shape', async () => {
    const model = 'anthropic/claude-sonnet-4-5'
    const err = await rejection(client.embeddings.create({ model, input: 'alpha' }))
    expect(err).toBeInstanceOf(OpenAI.BadRequestError)
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).code).toBe('unsupported_operation')

    const raw = await fetch(`${gw.url}/v1/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, input: 'alpha' }),
    })
    expect(raw.status).toBe(400)
    const body = (await raw.json()) as Record<string, unknown>
    expect(body).toMatchObject({
      is_bifrost_error: true,
      status_code: 400,
      error: {
        type: 'invalid_request_error',
        code: 'unsupported_operation',
        message: expect.stringContaining('anthropic') as unknown,
      },
      extra_fields: { provider: 'anthropic', model_requested: model, request_type: 'embedding' },
    })
    expect(fakes.anthropic.requests).toHaveLength(0)
  })
})
