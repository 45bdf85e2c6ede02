import { Cohere, CohereClient, CohereClientV2, CohereError } from 'cohere-ai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startFakeCohere } from './fakes/cohere.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

/**
 * The Cohere drop-in routes with the official cohere-ai SDK (CohereClientV2 pointed at
 * `{gateway}/cohere`): chat, streamed chat with a tool call, embed and rerank reach Cohere or an
 * OpenAI-format provider and come back in Cohere's format; errors are the SDK's own classes;
 * a virtual key sent as the SDK's token is enforced.
 */
describe('cohere-ai SDK through /cohere', () => {
  let cohereFake: FakeServer
  let openaiFake: FakeServer
  let gw: RunningHeimdall
  let co: CohereClientV2

  beforeAll(async () => {
    cohereFake = await startFakeCohere()
    openaiFake = await startFakeOpenAI()
    gw = await startHeimdall({
      providers: {
        cohere: fakeProvider(cohereFake.url, {}, [
          { name: 'main', value: 'co-good', models: ['*'], weight: 1 },
        ]),
        openai: fakeProvider(openaiFake.url),
      },
    })
    co = new CohereClientV2({ token: 'unused', environment: `${gw.url}/cohere`, maxRetries: 0 })
  })
  afterAll(async () => {
    await gw?.close()
    await cohereFake?.close()
    await openaiFake?.close()
  })
  beforeEach(() => {
    cohereFake.reset()
    openaiFake.reset()
  })

  const tools: Cohere.ToolV2[] = [
    {
      type: 'function',
      function: {
        name: 'get_weather',
        parameters: { type: 'object', properties: { city: { type: 'string' } } },
      },
    },
  ]

  for (const [target, model] of [
    ['Cohere', 'command-a-03-2025'],
    ['an OpenAI-format provider', 'openai/gpt-4o-mini'],
  ] as const) {
    it(`chats with ${target}`, async () => {
      const res = await co.chat({ model, messages: [{ role: 'user', content: 'hello there' }] })
      expect(res.message.content?.[0]).toMatchObject({ type: 'text', text: 'Echo: hello there' })
      expect(res.finishReason).toBe('COMPLETE')
      expect(res.usage?.tokens?.inputTokens).toBeGreaterThan(0)
      expect(res.usage?.billedUnits?.outputTokens).toBeGreaterThan(0)
    })

    it(`streams a chat with ${target}, tool call included, then answers the tool result`, async () => {
      const text: string[] = []
      const types: string[] = []
      for await (const ev of await co.chatStream({
        model,
        messages: [{ role: 'user', content: 'one two' }],
      })) {
        types.push(ev.type)
        if (ev.type === 'content-delta') text.push(ev.delta?.message?.content?.text ?? '')
      }
      expect(text.join('')).toBe('Echo: one two')
      expect(types[0]).toBe('message-start')
      expect(types.at(-1)).toBe('message-end')
      expect(types).toContain('content-start')
      expect(types).toContain('content-end')

      let call: { id?: string; name?: string; args: string } = { args: '' }
      let end: Cohere.V2ChatStreamResponse.MessageEnd | undefined
      for await (const ev of await co.chatStream({
        model,
        messages: [{ role: 'user', content: 'weather?' }],
        tools,
      })) {
        if (ev.type === 'tool-call-start') {
          call = {
            id: ev.delta?.message?.toolCalls?.id,
            name: ev.delta?.message?.toolCalls?.function?.name,
            args: '',
          }
        } else if (ev.type === 'tool-call-delta')
          call.args += ev.delta?.message?.toolCalls?.function?.arguments ?? ''
        else if (ev.type === 'message-end') end = ev
      }
      expect(call.name).toBe('get_weather')
      expect(JSON.parse(call.args)).toMatchObject({ city: 'Paris' })
      expect(end?.delta?.finishReason).toBe('TOOL_CALL')
      expect(end?.delta?.usage?.tokens?.outputTokens).toBeGreaterThan(0)

      const answer = await co.chat({
        model,
        messages: [
          { role: 'user', content: 'weather?' },
          {
            role: 'assistant',
            toolCalls: [
              { id: call.id!, type: 'function', function: { name: 'get_weather', arguments: call.args } },
            ],
          },
          { role: 'tool', toolCallId: call.id!, content: 'sunny' },
        ],
        tools,
      })
      expect(answer.message.content?.[0]).toMatchObject({ text: 'Tool said: sunny' })
    })

    it(`embeds with ${target}`, async () => {
      const res = await co.embed({
        model: target === 'Cohere' ? 'embed-v4.0' : 'openai/text-embedding-3-small',
        inputType: 'search_document',
        texts: ['alpha', 'beta'],
        embeddingTypes: ['float'],
      })
      expect(res.embeddings.float).toHaveLength(2)
      expect(res.embeddings.float?.[0]).toHaveLength(8)
      expect(res.texts).toEqual(['alpha', 'beta'])
    })
  }

  it('ends a stream cut mid-way with a message-end carrying the error, and serves /pydanticai/v2/chat', async () => {
    cohereFake.fail({ kind: 'drop', afterEvents: 3 })
    const events: Cohere.V2ChatStreamResponse[] = []
    for await (const ev of await co.chatStream({
      model: 'command-a-03-2025',
      messages: [{ role: 'user', content: 'one two three four' }],
    }))
      events.push(ev)
    const last = events.at(-1) as Cohere.V2ChatStreamResponse.MessageEnd
    expect(last.type).toBe('message-end')
    expect(last.delta?.finishReason).toBe('ERROR')
    expect(last.delta?.error).toMatch(/stream broke off/)
    const pydantic = new CohereClientV2({
      token: 'unused',
      environment: `${gw.url}/pydanticai`,
      maxRetries: 0,
    })
    const res = await pydantic.chat({
      model: 'command-a-03-2025',
      messages: [{ role: 'user', content: 'hi' }],
    })
    expect(res.message.content?.[0]).toMatchObject({ text: 'Echo: hi' })
  })

  it('reaches the OpenAI provider with OpenAI’s own request', async () => {
    await co.chat({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], maxTokens: 20 })
    expect(openaiFake.requests[0].path).toBe('/v1/chat/completions')
    expect(openaiFake.requests[0].body).toMatchObject({ model: 'gpt-4o-mini', max_tokens: 20 })
    expect(cohereFake.requests).toHaveLength(0)
  })

  it('reranks with Cohere, and refuses a provider without rerank with a BadRequestError', async () => {
    const res = await co.rerank({
      model: 'rerank-v3.5',
      query: 'capital of france',
      documents: ['Berlin is in Germany', 'Paris is the capital of France'],
      topN: 2,
    })
    expect(res.results[0].index).toBe(1)
    expect(res.results[0].relevanceScore).toBeGreaterThan(res.results[1].relevanceScore)
    expect(res.meta?.billedUnits?.searchUnits).toBe(1)
    const err = await co
      .rerank({ model: 'openai/gpt-4o-mini', query: 'q', documents: ['a'] })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(Cohere.BadRequestError)
    expect((err as CohereError).body).toMatchObject({
      message: expect.stringMatching(/does not serve rerank/),
    })
  })

  it('tokenizes with Cohere’s tokenizer through /cohere/v1/tokenize, counts another provider’s model, and refuses empty text with a BadRequestError', async () => {
    const v1 = new CohereClient({ token: 'unused', environment: `${gw.url}/cohere`, maxRetries: 0 })
    const res = await v1.tokenize({ text: 'hello world!', model: 'command-a-03-2025' })
    expect(res.tokenStrings).toEqual(['hello', ' world', '!'])
    expect(res.tokens).toHaveLength(3)
    expect(cohereFake.requests.at(-1)).toMatchObject({
      path: '/v1/tokenize',
      body: { text: 'hello world!', model: 'command-a-03-2025' },
    })
    // Another provider's model: its token count, in Bifrost's count-tokens shape.
    const counted = (await v1.tokenize({ text: 'hello world!', model: 'openai/gpt-4o-mini' })) as unknown as {
      input_tokens: number
      tokens: number[]
    }
    expect(counted.input_tokens).toBeGreaterThan(0)
    expect(counted.tokens).toEqual([])
    const err = await v1.tokenize({ text: '', model: 'command-a-03-2025' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CohereError)
    expect((err as CohereError).statusCode).toBe(400)
  })

  it('answers bad input with a 400 in Cohere’s shape, and upstream failures with their status', async () => {
    const bad = await co.chat({ model: 'command-a-03-2025', messages: [] }).catch((e: unknown) => e)
    expect(bad).toBeInstanceOf(Cohere.BadRequestError)
    expect((bad as CohereError).statusCode).toBe(400)
    expect((bad as CohereError).body).toMatchObject({ id: expect.any(String), message: expect.any(String) })
    for (const body of ['{not json', JSON.stringify({ model: 'x', query: 'q' })]) {
      const res = await fetch(`${gw.url}/cohere/v2/${body.startsWith('{n') ? 'chat' : 'rerank'}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      })
      expect(res.status).toBe(400)
      expect(Object.keys((await res.json()) as object).sort()).toEqual(['id', 'message'])
    }
    cohereFake.fail({ kind: 'status', status: 503, body: JSON.stringify({ message: 'overloaded' }) })
    cohereFake.fail({ kind: 'status', status: 503, body: JSON.stringify({ message: 'overloaded' }) })
    cohereFake.fail({ kind: 'status', status: 503, body: JSON.stringify({ message: 'overloaded' }) })
    cohereFake.fail({ kind: 'status', status: 503, body: JSON.stringify({ message: 'overloaded' }) })
    const down = await co
      .chat({ model: 'command-a-03-2025', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e)
    expect(down).toBeInstanceOf(Cohere.ServiceUnavailableError)
    expect((down as CohereError).body).toMatchObject({ message: 'overloaded' })
  })
})

describe('virtual keys on /cohere', () => {
  let fake: FakeServer
  let gw: RunningHeimdall

  beforeAll(async () => {
    fake = await startFakeCohere()
    gw = await startHeimdall({
      client: { enforce_auth_on_inference: true },
      providers: {
        cohere: fakeProvider(fake.url, {}, [{ name: 'main', value: 'co-good', models: ['*'], weight: 1 }]),
      },
    })
  })
  afterAll(async () => {
    await gw?.close()
    await fake?.close()
  })

  it('refuses the SDK without a virtual key, serves it with one as its token, and never forwards it', async () => {
    const anonymous = new CohereClientV2({
      token: 'co-not-a-vk',
      environment: `${gw.url}/cohere`,
      maxRetries: 0,
    })
    const refused = await anonymous
      .chat({ model: 'command-a-03-2025', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(Cohere.UnauthorizedError)
    const created = await fetch(`${gw.url}/api/governance/virtual-keys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'cohere-vk',
        provider_configs: [{ provider: 'cohere', allowed_models: ['command-a-03-2025'], key_ids: ['*'] }],
      }),
    })
    const vk = ((await created.json()) as { virtual_key: { value: string } }).virtual_key.value
    const co = new CohereClientV2({ token: vk, environment: `${gw.url}/cohere`, maxRetries: 0 })
    const ok = await co.chat({
      model: 'command-a-03-2025',
      messages: [{ role: 'user', content: 'with a key' }],
    })
    expect(ok.message.content?.[0]).toMatchObject({ text: 'Echo: with a key' })
    expect(fake.requests.every((r) => r.headers.authorization === 'Bearer co-good')).toBe(true)
    const blocked = await co
      .rerank({ model: 'rerank-v3.5', query: 'q', documents: ['a'] })
      .catch((e: unknown) => e)
    expect(blocked).toBeInstanceOf(Cohere.ForbiddenError)
  })
})
