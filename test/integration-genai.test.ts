import { ApiError, GoogleGenAI, type Content, type GenerateContentResponse, type Part } from '@google/genai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startFakeAnthropic } from './fakes/anthropic.js'
import { startFakeGemini } from './fakes/gemini.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

/**
 * The GenAI drop-in route with the official `@google/genai` SDK pointed at `/genai`: answers and
 * streams come back as GenerateContentResponse whichever provider serves the model, thought
 * signatures survive a multi-turn function-calling exchange, and errors arrive as the SDK's ApiError.
 */
const CLAUDE = 'anthropic/claude-sonnet-4-5-20250929'
const TOOLS = [
  {
    functionDeclarations: [
      {
        name: 'get_weather',
        description: 'Weather of a city',
        parametersJsonSchema: { type: 'object', properties: { city: { type: 'string' } } },
      },
      {
        name: 'get_time',
        parametersJsonSchema: { type: 'object', properties: { city: { type: 'string' } } },
      },
    ],
  },
]

let anthropic: FakeServer
let openai: FakeServer
let gemini: FakeServer
let gw: RunningHeimdall
let ai: GoogleGenAI

const sdk = (url: string, apiKey = 'AIza-unused') =>
  new GoogleGenAI({ apiKey, httpOptions: { baseUrl: `${url}/genai`, retryOptions: { attempts: 1 } } })

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
  ai = sdk(gw.url)
})
afterAll(async () => {
  await gw?.close()
  await Promise.all([anthropic?.close(), openai?.close(), gemini?.close()])
})
beforeEach(() => {
  for (const f of [anthropic, openai, gemini]) f.reset()
})

async function collect(stream: AsyncGenerator<GenerateContentResponse>) {
  const chunks: GenerateContentResponse[] = []
  for await (const c of stream) chunks.push(c)
  const parts: Part[] = chunks.flatMap((c) => c.candidates?.[0]?.content?.parts ?? [])
  const text = parts
    .filter((p) => p.text && !p.thought)
    .map((p) => p.text)
    .join('')
  return { chunks, parts, text, last: chunks[chunks.length - 1] }
}

describe('GenAI SDK through /genai', () => {
  it('answers a bare gemini model from Gemini, with usage', async () => {
    const res = await ai.models.generateContent({
      model: 'gemini-2.5-flash',
      contents: 'hello there',
      config: { systemInstruction: 'Be brief.', temperature: 0.2 },
    })
    expect(res.text).toBe('Echo: hello there')
    expect(res.candidates?.[0].finishReason).toBe('STOP')
    expect(res.usageMetadata?.promptTokenCount).toBeGreaterThan(0)
    expect(res.usageMetadata?.candidatesTokenCount).toBeGreaterThan(0)
    const sent = gemini.requests[0]
    expect(sent.path).toMatch(/\/models\/gemini-2\.5-flash:generateContent/)
    expect(sent.body.generationConfig.temperature).toBe(0.2)
    expect(sent.headers['x-goog-api-key']).toBe('sk-test')
  })

  it('streams signed thoughts and parallel function calls, and replays the signatures next turn', async () => {
    const model = 'gemini-3-pro-preview'
    const config = { tools: TOOLS, thinkingConfig: { includeThoughts: true, thinkingBudget: 1024 } }
    const user: Content = { role: 'user', parts: [{ text: 'weather?' }] }
    const first = await collect(await ai.models.generateContentStream({ model, contents: [user], config }))
    const thought = first.parts.find((p) => p.thought)
    expect(thought?.thoughtSignature).toBeTruthy()
    const calls = first.parts.filter((p) => p.functionCall)
    expect(calls.map((p) => [p.functionCall?.name, p.functionCall?.args])).toEqual([
      ['get_weather', { city: 'Paris', unit: 'celsius' }],
      ['get_time', { city: 'Tokyo', unit: 'celsius' }],
    ])
    expect(calls[0].thoughtSignature).toBeTruthy()
    expect(first.last.candidates?.[0].finishReason).toBe('STOP')
    expect(first.last.usageMetadata?.thoughtsTokenCount).toBeGreaterThan(0)

    // gemini-3 refuses a function call replayed without its signature, as the real API does.
    const second = await ai.models.generateContent({
      model,
      config,
      contents: [
        user,
        { role: 'model', parts: first.parts },
        {
          role: 'user',
          parts: calls.map((p) => ({
            functionResponse: { name: p.functionCall!.name, response: { ok: p.functionCall!.name } },
          })),
        },
      ],
    })
    expect(second.text).toBe('Tool said: get_weather={"ok":"get_weather"} | get_time={"ok":"get_time"}')
    const replayed = gemini.requests[1].body.contents[1].parts
    expect(replayed.find((p: Part) => p.functionCall)?.thoughtSignature).toBe(calls[0].thoughtSignature)
  })

  it('streams an Anthropic model with thinking and a parallel tool call', async () => {
    const answer = await collect(
      await ai.models.generateContentStream({
        model: CLAUDE,
        contents: 'hi',
        config: { thinkingConfig: { includeThoughts: true, thinkingBudget: 1024 }, maxOutputTokens: 2048 },
      }),
    )
    const thoughts = answer.parts.filter((p) => p.thought)
    expect(thoughts.map((p) => p.text).join('')).toContain('"hi"')
    expect(answer.text).toBe('Echo: hi')
    expect(anthropic.requests[0].body.thinking).toEqual({ type: 'enabled', budget_tokens: 1024 })
    expect(answer.last.usageMetadata?.totalTokenCount).toBeGreaterThan(0)

    const tools = await collect(
      await ai.models.generateContentStream({
        model: CLAUDE,
        contents: 'weather?',
        config: { tools: TOOLS },
      }),
    )
    expect(tools.parts.filter((p) => p.functionCall).map((p) => p.functionCall?.args)).toEqual([
      { city: 'Paris', unit: 'celsius' },
      { city: 'Tokyo', unit: 'celsius' },
    ])
  })

  it('answers and streams an OpenAI model, function calls included', async () => {
    const res = await ai.models.generateContent({ model: 'openai/gpt-4o-mini', contents: 'one two' })
    expect(res.text).toBe('Echo: one two')
    expect(res.usageMetadata?.totalTokenCount).toBeGreaterThan(0)
    expect(openai.requests[0].body.model).toBe('gpt-4o-mini')

    const streamed = await collect(
      await ai.models.generateContentStream({
        model: 'openai/gpt-4o-mini',
        contents: 'weather?',
        config: { tools: TOOLS },
      }),
    )
    const calls = streamed.parts.filter((p) => p.functionCall)
    expect(calls).toHaveLength(2)
    expect(calls[1].functionCall?.args).toEqual({ city: 'Tokyo', unit: 'celsius' })
    expect(streamed.last.usageMetadata?.promptTokenCount).toBeGreaterThan(0)
  })

  it('embeds with Gemini and with an OpenAI model', async () => {
    const g = await ai.models.embedContent({ model: 'gemini-embedding-001', contents: ['hello', 'world'] })
    expect(g.embeddings).toHaveLength(2)
    expect(g.embeddings?.[0].values?.length).toBeGreaterThan(0)
    const o = await ai.models.embedContent({ model: 'openai/text-embedding-3-small', contents: 'hello' })
    expect(o.embeddings?.[0].values).toHaveLength(8)
  })

  it('counts tokens with Gemini’s and Anthropic’s endpoints, and estimates them, saying so, for OpenAI', async () => {
    const contents = 'count these words please'
    const g = await ai.models.countTokens({ model: 'gemini-2.5-flash', contents })
    expect(g.totalTokens).toBe(7) // the fake counts "\ncount these words please": its empty system line, then the prompt
    expect(gemini.requests[0].path).toMatch(/:countTokens$/)
    expect(gemini.requests[0].body.generateContentRequest.model).toBe('models/gemini-2.5-flash')
    const a = await ai.models.countTokens({ model: CLAUDE, contents })
    expect(a.totalTokens).toBe(6)
    expect(anthropic.requests[0].path).toBe('/v1/messages/count_tokens')
    const res = await fetch(`${gw.url}/genai/v1beta/models/openai/gpt-4o-mini:countTokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: contents }] }] }),
    })
    expect(res.headers.get('x-heimdall-token-count')).toBe('estimated')
    expect(((await res.json()) as { totalTokens: number }).totalTokens).toBeGreaterThan(3)
    expect(openai.requests).toHaveLength(0)
  })
})

describe('errors on /genai', () => {
  it('answers a bad request with a 400 in Google’s error shape', async () => {
    const err = await ai.models
      .generateContent({
        model: 'gemini-2.5-flash',
        contents: [{ role: 'assistant', parts: [{ text: 'x' }] }],
      })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect((err as ApiError).status).toBe(400)
    expect((err as ApiError).message).toMatch(/valid role/)
    const res = await fetch(`${gw.url}/genai/v1beta/models/gemini-2.5-flash:generateContent`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"contents": [',
    })
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: { code: 400, status: 'INVALID_ARGUMENT' } })
    expect(gemini.requests).toHaveLength(0)
  })

  it('passes an upstream 429 on as 429 RESOURCE_EXHAUSTED', async () => {
    gemini.fail(
      ...Array.from({ length: 10 }, () => ({
        kind: 'status' as const,
        status: 429,
        retryAfter: '0',
        body: JSON.stringify({ error: { code: 429, message: 'quota', status: 'RESOURCE_EXHAUSTED' } }),
      })),
    )
    const err = await ai.models
      .generateContent({ model: 'gemini-2.5-flash', contents: 'hi' })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect((err as ApiError).status).toBe(429)
    expect((err as ApiError).message).toMatch(/RESOURCE_EXHAUSTED/)
  })
})

describe('virtual keys on /genai', () => {
  let guarded: RunningHeimdall
  beforeAll(async () => {
    guarded = await startHeimdall({
      client: { enforce_auth_on_inference: true },
      providers: { gemini: fakeProvider(gemini.url), openai: fakeProvider(openai.url) },
    })
  })
  afterAll(() => guarded?.close())

  it('takes the virtual key as the SDK’s api key (x-goog-api-key), enforces it, and never forwards it', async () => {
    const refused = await sdk(guarded.url)
      .models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' })
      .catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(ApiError)
    expect((refused as ApiError).status).toBe(401)

    const created = await fetch(`${guarded.url}/api/governance/virtual-keys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'genai-sdk',
        provider_configs: [{ provider: 'gemini', allowed_models: ['gemini-2.5-flash'], key_ids: ['*'] }],
      }),
    })
    const vk = ((await created.json()) as { virtual_key: { value: string } }).virtual_key.value
    const c = sdk(guarded.url, vk)
    const ok = await c.models.generateContent({ model: 'gemini-2.5-flash', contents: 'yo' })
    expect(ok.text).toBe('Echo: yo')
    expect(gemini.requests.at(-1)?.headers['x-goog-api-key']).toBe('sk-test')
    const blocked = await c.models
      .generateContent({ model: 'openai/gpt-4o-mini', contents: 'yo' })
      .catch((e: unknown) => e)
    expect((blocked as ApiError).status).toBe(403)
  })
})
