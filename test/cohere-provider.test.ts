import OpenAI from 'openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startFakeCohere } from './fakes/cohere.js'
import type { FakeServer } from './fakes/server.js'
import { fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

/**
 * The Cohere provider behind /v1: the OpenAI SDK reaches `cohere/<model>` for chat (plain,
 * streamed, tool calls, usage) and embeddings, and /v1/rerank ranks documents in Bifrost's shape.
 */
describe('OpenAI SDK through /v1 to Cohere', () => {
  let fake: FakeServer
  let gw: RunningHeimdall
  let client: OpenAI

  beforeAll(async () => {
    fake = await startFakeCohere()
    gw = await startHeimdall({
      providers: {
        cohere: fakeProvider(fake.url, {}, [{ name: 'main', value: 'co-good', models: ['*'], weight: 1 }]),
      },
    })
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 })
  })
  afterAll(async () => {
    await gw?.close()
    await fake?.close()
  })
  beforeEach(() => fake.reset())

  const tools: OpenAI.ChatCompletionTool[] = [
    {
      type: 'function',
      function: {
        name: 'get_weather',
        parameters: { type: 'object', properties: { city: { type: 'string' } } },
      },
    },
  ]

  it('answers a chat completion, sending Cohere v2 upstream with the key as a bearer token', async () => {
    const res = await client.chat.completions.create({
      model: 'cohere/command-a-03-2025',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'hello there' },
      ],
      max_tokens: 50,
      top_p: 0.5,
    })
    expect(res.choices[0].message.content).toBe('Echo: hello there')
    expect(res.choices[0].finish_reason).toBe('stop')
    expect(res.usage?.prompt_tokens).toBeGreaterThan(10)
    expect(res.usage?.total_tokens).toBe(res.usage!.prompt_tokens + res.usage!.completion_tokens)
    const sent = fake.requests[0]
    expect(sent.path).toBe('/v2/chat')
    expect(sent.headers.authorization).toBe('Bearer co-good')
    expect(sent.body).toMatchObject({ model: 'command-a-03-2025', max_tokens: 50, p: 0.5 })
    expect(sent.body.messages[0]).toEqual({ role: 'system', content: 'be brief' })
  })

  it('streams text with usage when asked for', async () => {
    const stream = await client.chat.completions.create({
      model: 'cohere/command-a-03-2025',
      messages: [{ role: 'user', content: 'one two three' }],
      stream: true,
      stream_options: { include_usage: true },
    })
    let text = ''
    let usage: OpenAI.CompletionUsage | undefined
    let finish: string | null = null
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? ''
      finish = chunk.choices[0]?.finish_reason ?? finish
      if (chunk.usage) usage = chunk.usage
    }
    expect(text).toBe('Echo: one two three')
    expect(finish).toBe('stop')
    expect(usage?.completion_tokens).toBeGreaterThan(0)
    expect(fake.requests[0].body.stream).toBe(true)
  })

  it('calls tools, plain and streamed, and sends the tool result back in Cohere’s form', async () => {
    const res = await client.chat.completions.create({
      model: 'cohere/command-a-03-2025',
      messages: [{ role: 'user', content: 'weather?' }],
      tools,
      tool_choice: 'required',
    })
    const call = res.choices[0].message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall
    expect(res.choices[0].finish_reason).toBe('tool_calls')
    expect(call.function).toEqual({ name: 'get_weather', arguments: '{"city":"Paris"}' })
    expect(fake.requests[0].body.tool_choice).toBe('REQUIRED')
    expect(fake.requests[0].body.tools[0].function.name).toBe('get_weather')

    const stream = await client.chat.completions.create({
      model: 'cohere/command-a-03-2025',
      messages: [{ role: 'user', content: 'weather?' }],
      tools,
      stream: true,
    })
    const args: string[] = []
    let name = ''
    let id = ''
    for await (const chunk of stream) {
      for (const tc of chunk.choices[0]?.delta?.tool_calls ?? []) {
        if (tc.id) id = tc.id
        if (tc.function?.name) name = tc.function.name
        if (tc.function?.arguments) args.push(tc.function.arguments)
      }
    }
    expect(name).toBe('get_weather')
    expect(id).toMatch(/^get_weather_/)
    expect(args.length).toBeGreaterThan(1)
    expect(JSON.parse(args.join(''))).toEqual({ city: 'Paris' })

    const answer = await client.chat.completions.create({
      model: 'cohere/command-a-03-2025',
      messages: [
        { role: 'user', content: 'weather?' },
        { role: 'assistant', content: null, tool_calls: [call] },
        { role: 'tool', tool_call_id: call.id, content: 'sunny' },
      ],
    })
    expect(answer.choices[0].message.content).toBe('Tool said: sunny')
    const sent = fake.requests.at(-1)!.body
    expect(sent.messages[1].tool_calls[0]).toEqual({
      id: call.id,
      type: 'function',
      function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
    })
    expect(sent.messages[2]).toEqual({ role: 'tool', tool_call_id: call.id, content: 'sunny' })
  })

  it('embeds texts, as floats and as base64', async () => {
    const res = await client.embeddings.create({
      model: 'cohere/embed-v4.0',
      input: ['alpha', 'beta'],
      encoding_format: 'float',
    })
    expect(res.data).toHaveLength(2)
    expect(res.data[0].embedding).toHaveLength(8)
    expect(res.usage.prompt_tokens).toBeGreaterThan(0)
    expect(fake.requests[0].body).toMatchObject({
      texts: ['alpha', 'beta'],
      input_type: 'search_document',
      embedding_types: ['float'],
    })
    const b64 = await client.embeddings.create({ model: 'cohere/embed-v4.0', input: 'alpha' })
    expect(b64.data[0].embedding).toEqual(res.data[0].embedding.map((x) => Math.fround(x)))
  })

  it('ranks documents on /v1/rerank in Bifrost’s shape, best first, documents returned when asked', async () => {
    const res = await fetch(`${gw.url}/v1/rerank`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'cohere/rerank-v3.5',
        query: 'capital of france',
        documents: ['Berlin is in Germany', { text: 'Paris is the capital of France', id: 'doc-2' }],
        top_n: 2,
        return_documents: true,
      }),
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('x-bifrost-provider')).toBe('cohere')
    const body = (await res.json()) as any
    expect(body.results[0]).toMatchObject({
      index: 1,
      document: { text: 'Paris is the capital of France', id: 'doc-2' },
    })
    expect(body.results[0].relevance_score).toBeGreaterThan(body.results[1].relevance_score)
    expect(body.usage.search_units).toBe(1)
    expect(fake.requests[0].body).toEqual({
      model: 'rerank-v3.5',
      query: 'capital of france',
      documents: ['Berlin is in Germany', 'Paris is the capital of France'],
      top_n: 2,
    })
  })

  it('refuses bad rerank input with a 400 and never calls Cohere', async () => {
    for (const body of [
      { model: 'cohere/rerank-v3.5', query: 'q', documents: [] },
      { model: 'cohere/rerank-v3.5', query: ' ', documents: ['a'] },
      { model: 'cohere/rerank-v3.5', query: 'q', documents: ['a', ''] },
    ]) {
      const res = await fetch(`${gw.url}/v1/rerank`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
      expect(res.status).toBe(400)
      expect(((await res.json()) as any).error.message).toBeTruthy()
    }
    expect(fake.requests).toHaveLength(0)
  })

  it('passes Cohere’s 401 on as the SDK’s AuthenticationError', async () => {
    const local = await startHeimdall({
      providers: {
        cohere: fakeProvider(fake.url, {}, [{ name: 'bad', value: 'co-bad', models: ['*'], weight: 1 }]),
      },
    })
    try {
      const c = new OpenAI({ baseURL: `${local.url}/v1`, apiKey: 'unused', maxRetries: 0 })
      const err = await c.chat.completions
        .create({ model: 'cohere/command-a-03-2025', messages: [{ role: 'user', content: 'hi' }] })
        .catch((e: unknown) => e)
      expect(err).toBeInstanceOf(OpenAI.APIError)
      expect((err as InstanceType<typeof OpenAI.APIError>).message).toMatch(/invalid api token/)
    } finally {
      await local.close()
    }
  })
})
