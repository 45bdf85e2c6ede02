import OpenAI from 'openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { fakeProvider, type RunningHeimdall, startHeimdall } from './helpers/heimdall.js'

/** The official OpenAI SDK against Heimdall's /v1, exactly as a user points it there. */
describe('OpenAI SDK through /v1', () => {
  let fake: FakeServer
  let gw: RunningHeimdall
  let client: OpenAI

  beforeAll(async () => {
    fake = await startFakeOpenAI()
    gw = await startHeimdall({ providers: { openai: fakeProvider(fake.url) } })
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-unused', maxRetries: 0 })
  })
  afterAll(async () => {
    await gw.close()
    await fake.close()
  })
  beforeEach(() => fake.reset())

  it('answers a chat completion and says which provider and model served it', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hello there' }] })
      .withResponse()
    expect(data.choices[0].message.content).toBe('Echo: hello there')
    expect(data.usage?.prompt_tokens).toBeGreaterThan(0)
    expect(response.headers.get('x-bifrost-provider')).toBe('openai')
    expect(response.headers.get('x-bifrost-original-model')).toBe('openai/gpt-4o-mini')
    expect(response.headers.get('x-bifrost-resolved-model')).toBe('gpt-4o-mini')
    expect(response.headers.get('x-bifrost-fallback-index')).toBeNull()
    expect(Number(response.headers.get('x-heimdall-overhead-ms'))).toBeGreaterThanOrEqual(0)
    // The provider got its own model name and our key, never the caller's.
    expect(fake.requests[0].body.model).toBe('gpt-4o-mini')
    expect(fake.requests[0].headers.authorization).toBe('Bearer sk-test')
  })

  it('streams a chat completion event by event', async () => {
    const stream = await client.chat.completions.create({
      model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: 'one two three four' }],
      stream: true,
    })
    const parts: string[] = []
    let chunks = 0
    for await (const chunk of stream) {
      chunks++
      expect(chunk.choices.length).toBeGreaterThan(0)
      parts.push(chunk.choices[0]?.delta?.content ?? '')
    }
    expect(parts.join('')).toBe('Echo: one two three four')
    expect(chunks).toBeGreaterThan(4)
  })

  it('sends the usage chunk only when stream_options.include_usage asks for it', async () => {
    const withUsage = await client.chat.completions.create({
      model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: 'count me' }],
      stream: true,
      stream_options: { include_usage: true },
    })
    let usage: OpenAI.CompletionUsage | undefined | null
    let emptyChoices = 0
    for await (const chunk of withUsage) {
      if (chunk.usage) usage = chunk.usage
      if (chunk.choices.length === 0) emptyChoices++
    }
    expect(usage?.total_tokens).toBeGreaterThan(0)
    expect(emptyChoices).toBe(1)
    // Without the option the upstream was still asked for usage (for accounting), but the client sees none.
    expect(fake.requests[0].body.stream_options).toEqual({ include_usage: true })
    fake.reset()
    const without = await client.chat.completions.create({
      model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: 'count me' }],
      stream: true,
    })
    for await (const chunk of without) {
      expect(chunk.choices.length).toBeGreaterThan(0)
      expect(chunk.usage ?? null).toBeNull()
    }
    expect(fake.requests[0].body.stream_options).toEqual({ include_usage: true })
  })

  it('relays parallel streamed tool calls without loss', async () => {
    const tools: OpenAI.ChatCompletionTool[] = ['get_weather', 'get_time'].map((name) => ({
      type: 'function',
      function: { name, parameters: { type: 'object', properties: { city: { type: 'string' } } } },
    }))
    const stream = client.chat.completions.stream({
      model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: 'weather and time?' }],
      tools,
    })
    const final = await stream.finalChatCompletion()
    const calls = final.choices[0].message.tool_calls!
    expect(calls).toHaveLength(2)
    expect(calls.map((c) => c.type === 'function' && c.function.name)).toEqual(['get_weather', 'get_time'])
    expect(calls.map((c) => c.type === 'function' && JSON.parse(c.function.arguments))).toEqual([
      { city: 'Paris', unit: 'celsius' },
      { city: 'Tokyo', unit: 'celsius' },
    ])
    expect(final.choices[0].finish_reason).toBe('tool_calls')
  })

  it('passes parameters the gateway does not know through to the provider', async () => {
    await client.chat.completions.create({
      model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: 'x' }],
      // @ts-expect-error: a provider-specific field the SDK does not type
      chat_template_kwargs: { enable_thinking: false },
      seed: 7,
    })
    expect(fake.requests[0].body.chat_template_kwargs).toEqual({ enable_thinking: false })
    expect(fake.requests[0].body.seed).toBe(7)
    expect(fake.requests[0].body.fallbacks).toBeUndefined()
  })

  it('serves the Responses API, plain and streamed', async () => {
    const res = await client.responses.create({ model: 'openai/gpt-4o-mini', input: 'ping pong' })
    expect(res.output_text).toBe('Echo: ping pong')
    expect(res.usage?.input_tokens).toBeGreaterThan(0)
    const stream = await client.responses.create({
      model: 'openai/gpt-4o-mini',
      input: 'ping pong',
      stream: true,
    })
    let text = ''
    let completed = false
    for await (const ev of stream) {
      if (ev.type === 'response.output_text.delta') text += ev.delta
      if (ev.type === 'response.completed') completed = true
    }
    expect(text).toBe('Echo: ping pong')
    expect(completed).toBe(true)
  })

  it('serves legacy text completions', async () => {
    const res = await client.completions.create({ model: 'openai/gpt-3.5-turbo-instruct', prompt: 'say' })
    expect(res.choices[0].text).toBe(' completed: say')
  })

  it('serves embeddings, float and base64', async () => {
    const res = await client.embeddings.create({ model: 'openai/text-embedding-3-small', input: ['a', 'b'] })
    expect(res.data).toHaveLength(2)
    expect(res.data[0].embedding).toHaveLength(8)
    // The SDK asks for base64 by default and decodes it; check the raw form too.
    const raw = await fetch(`${gw.url}/v1/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'openai/text-embedding-3-small', input: 'a', encoding_format: 'float' }),
    })
    const body: any = await raw.json()
    expect(Array.isArray(body.data[0].embedding)).toBe(true)
  })

  it('lists the models of the configured providers as provider/model', async () => {
    const list = await client.models.list()
    const ids = list.data.map((m) => m.id)
    expect(ids).toContain('openai/gpt-4o-mini')
    expect(ids.every((id) => id.startsWith('openai/'))).toBe(true)
  })
})
