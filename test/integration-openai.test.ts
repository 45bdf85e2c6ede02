import OpenAI, { toFile } from 'openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { fakeSpeech, startFakeOpenAIWithMedia } from './fakes/azure.js'
import type { FakeServer } from './fakes/server.js'
import { gatewayRequiringKeys } from './helpers/gateway-requiring-keys.js'
import { createVirtualKey, fakeProvider, type RunningHeimdall, startHeimdall } from './helpers/heimdall.js'

/**
 * The OpenAI drop-in routes (`/openai/...` and `/openai/v1/...`) with the official OpenAI SDK,
 * pointed there exactly as a user would: chat, embeddings, images and audio reach the configured
 * provider and come back unchanged, errors arrive as the SDK's own error classes, and a virtual
 * key is enforced as on /v1.
 */
describe('OpenAI SDK through /openai', () => {
  let fake: { server: FakeServer; close(): Promise<void> }
  let gw: RunningHeimdall
  const clients: Record<string, OpenAI> = {}

  beforeAll(async () => {
    fake = await startFakeOpenAIWithMedia()
    gw = await startHeimdall({ providers: { openai: fakeProvider(fake.server.url) } })
    for (const base of ['/openai', '/openai/v1', '/v1'])
      clients[base] = new OpenAI({ baseURL: `${gw.url}${base}`, apiKey: 'sk-unused', maxRetries: 0 })
  })
  afterAll(async () => {
    await gw?.close()
    await fake?.close()
  })
  beforeEach(() => fake.server.reset())

  for (const base of ['/openai', '/openai/v1']) {
    it(`answers a chat completion on ${base}, with the provider's own model name upstream`, async () => {
      const { data, response } = await clients[base].chat.completions
        .create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hello there' }] })
        .withResponse()
      expect(data.choices[0].message.content).toBe('Echo: hello there')
      expect(response.headers.get('x-bifrost-provider')).toBe('openai')
      expect(fake.server.requests[0].path).toBe('/v1/chat/completions')
      expect(fake.server.requests[0].body.model).toBe('gpt-4o-mini')
      expect(fake.server.requests[0].headers.authorization).toBe('Bearer sk-test')
    })

    it(`streams a chat completion on ${base}, with usage when asked for`, async () => {
      const stream = await clients[base].chat.completions.create({
        model: 'openai/gpt-4o-mini',
        messages: [{ role: 'user', content: 'one two three' }],
        stream: true,
        stream_options: { include_usage: true },
      })
      const parts: string[] = []
      let usage: OpenAI.CompletionUsage | null | undefined
      for await (const chunk of stream) {
        parts.push(chunk.choices[0]?.delta?.content ?? '')
        if (chunk.usage) usage = chunk.usage
      }
      expect(parts.join('')).toBe('Echo: one two three')
      expect(usage?.total_tokens).toBeGreaterThan(0)
    })
  }

  it('serves embeddings and legacy completions on /openai', async () => {
    const emb = await clients['/openai'].embeddings.create({
      model: 'openai/text-embedding-3-small',
      input: ['a', 'b'],
    })
    expect(emb.data).toHaveLength(2)
    expect(emb.data[0].embedding.length).toBe(8)
    const done = await clients['/openai'].completions.create({
      model: 'openai/gpt-3.5-turbo-instruct',
      prompt: 'x',
    })
    expect(done.choices[0].text).toBe(' completed: x')
  })

  for (const base of ['/openai', '/v1']) {
    it(`generates images on ${base}`, async () => {
      const img = await clients[base].images.generate({ model: 'openai/dall-e-3', prompt: 'a red fox', n: 2 })
      expect(img.data?.map((d) => d.url)).toEqual([
        'https://images.fake/a%20red%20fox/0.png',
        'https://images.fake/a%20red%20fox/1.png',
      ])
      expect(fake.server.requests[0].path).toBe('/v1/images/generations')
      expect(fake.server.requests[0].body).toMatchObject({ model: 'dall-e-3', prompt: 'a red fox', n: 2 })
    })

    it(`speaks on ${base}: the audio bytes and their content type come back as the provider sent them`, async () => {
      const res = await clients[base].audio.speech.create({
        model: 'openai/tts-1',
        voice: 'alloy',
        input: 'good morning',
        response_format: 'wav',
      })
      expect(res.headers.get('content-type')).toBe('audio/wav')
      expect(Buffer.from(await res.arrayBuffer())).toEqual(fakeSpeech('good morning', 'alloy'))
      expect(fake.server.requests[0].body.model).toBe('tts-1')
    })

    it(`transcribes an uploaded file on ${base}, as JSON and as plain text`, async () => {
      const audio = Buffer.from('RIFF fake wave audio')
      const json = await clients[base].audio.transcriptions.create({
        model: 'openai/whisper-1',
        file: await toFile(audio, 'clip.wav', { type: 'audio/wav' }),
        language: 'en',
      })
      expect(json.text).toBe(`heard ${audio.length} bytes of clip.wav: RIFF fake wave audio`)
      // The provider got the form with its own model name, the other fields and the file intact.
      const sent = String(fake.server.requests[0].body)
      expect(sent).toMatch(/name="model"\r\n\r\nwhisper-1\r\n/)
      expect(sent).toMatch(/name="language"\r\n\r\nen\r\n/)
      expect(sent).toContain('RIFF fake wave audio')
      const text = await clients[base].audio.transcriptions.create({
        model: 'openai/whisper-1',
        file: await toFile(audio, 'clip.wav'),
        response_format: 'text',
      })
      expect(String(text).trim()).toBe(`heard ${audio.length} bytes of clip.wav: RIFF fake wave audio`)
    })
  }

  it('answers bad input with a 4xx the SDK raises as BadRequestError, before any provider call', async () => {
    const c = clients['/openai']
    const noMessages = await c.chat.completions
      .create({ model: 'openai/gpt-4o-mini', messages: [] })
      .catch((e: unknown) => e)
    expect(noMessages).toBeInstanceOf(OpenAI.BadRequestError)
    expect((noMessages as InstanceType<typeof OpenAI.APIError>).message).toMatch(/messages/)
    const noPrompt = await c.images
      .generate({ model: 'openai/dall-e-3', prompt: '' })
      .catch((e: unknown) => e)
    expect(noPrompt).toBeInstanceOf(OpenAI.BadRequestError)
    const noVoice = await c.audio.speech
      .create({ model: 'openai/tts-1', input: 'hi' } as unknown as OpenAI.Audio.SpeechCreateParams)
      .catch((e: unknown) => e)
    expect(noVoice).toBeInstanceOf(OpenAI.BadRequestError)
    const noModel = await c.chat.completions
      .create({
        messages: [{ role: 'user', content: 'x' }],
      } as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming)
      .catch((e: unknown) => e)
    expect(noModel).toBeInstanceOf(OpenAI.BadRequestError)
    expect((noModel as InstanceType<typeof OpenAI.APIError>).param).toBe('model')
    expect(fake.server.requests).toHaveLength(0)
  })

  it('refuses a transcription without a file, and a body that is not multipart, with OpenAI-shaped 4xx', async () => {
    const form = new FormData()
    form.set('model', 'openai/whisper-1')
    const noFile = await fetch(`${gw.url}/openai/audio/transcriptions`, { method: 'POST', body: form })
    expect(noFile.status).toBe(400)
    const body = (await noFile.json()) as { error: { message: string; param?: string } }
    expect(body.error.param).toBe('file')
    const asJson = await fetch(`${gw.url}/openai/v1/audio/transcriptions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'openai/whisper-1' }),
    })
    expect(asJson.status).toBe(415)
    const broken = await fetch(`${gw.url}/v1/audio/transcriptions`, {
      method: 'POST',
      headers: { 'content-type': 'multipart/form-data; boundary=zzz' },
      body: '--zzz\r\nbroken',
    })
    expect(broken.status).toBe(400)
    expect(fake.server.requests).toHaveLength(0)
  })

  it('passes the provider’s own error through with its status, as the SDK error class', async () => {
    fake.server.fail({
      kind: 'status',
      status: 400,
      body: JSON.stringify({
        error: {
          message: 'Your prompt was rejected by the safety system.',
          type: 'image_generation_user_error',
          param: null,
          code: 'content_policy_violation',
        },
      }),
    })
    const err = await clients['/openai'].images
      .generate({ model: 'openai/dall-e-3', prompt: 'forbidden' })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.BadRequestError)
    expect((err as InstanceType<typeof OpenAI.APIError>).message).toContain('rejected by the safety system')
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe('content_policy_violation')
  })

  it('says a provider without speech does not serve it, as a 400', async () => {
    const local = await startHeimdall({
      providers: { openai: fakeProvider(fake.server.url), mistral: fakeProvider(fake.server.url) },
    })
    try {
      const c = new OpenAI({ baseURL: `${local.url}/openai`, apiKey: 'x', maxRetries: 0 })
      const err = await c.audio.speech
        .create({ model: 'mistral/voice', voice: 'alloy', input: 'hi' })
        .catch((e: unknown) => e)
      expect(err).toBeInstanceOf(OpenAI.BadRequestError)
      expect((err as InstanceType<typeof OpenAI.APIError>).message).toMatch(/mistral does not serve speech/)
    } finally {
      await local.close()
    }
  })
})

describe('virtual keys on /openai', () => {
  const keyed = gatewayRequiringKeys()

  const createKey = async (body: Record<string, unknown>) =>
    (await createVirtualKey(keyed.gw.url, body)).value

  it('refuses a call without a virtual key, serves one with it, and never forwards it', async () => {
    const anonymous = new OpenAI({ baseURL: `${keyed.gw.url}/openai`, apiKey: 'sk-not-a-vk', maxRetries: 0 })
    const refused = await anonymous.chat.completions
      .create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(OpenAI.AuthenticationError)
    const vk = await createKey({
      provider_configs: [{ provider: 'openai', allowed_models: ['gpt-4o-mini', 'tts-1'], key_ids: ['*'] }],
    })
    const c = new OpenAI({ baseURL: `${keyed.gw.url}/openai`, apiKey: vk, maxRetries: 0 })
    const ok = await c.chat.completions.create({
      model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: 'with a key' }],
    })
    expect(ok.choices[0].message.content).toBe('Echo: with a key')
    const audio = await c.audio.speech.create({ model: 'openai/tts-1', voice: 'alloy', input: 'ok' })
    expect((await audio.arrayBuffer()).byteLength).toBeGreaterThan(0)
    expect(keyed.fake.server.requests.every((r) => r.headers.authorization === 'Bearer sk-test')).toBe(true)
    // A model the key does not allow is refused, on the media routes too.
    const blocked = await c.images
      .generate({ model: 'openai/dall-e-3', prompt: 'x' })
      .catch((e: unknown) => e)
    expect(blocked).toBeInstanceOf(OpenAI.PermissionDeniedError)
    expect((blocked as InstanceType<typeof OpenAI.APIError>).message).toMatch(/dall-e-3/)
  })

  it('counts image and audio requests against the key’s rate limit, as chat requests are', async () => {
    const vk = await createKey({
      rate_limit: { request_max_limit: 2, request_reset_duration: '1h' },
      provider_configs: [{ provider: 'openai', allowed_models: ['*'], key_ids: ['*'] }],
    })
    const c = new OpenAI({ baseURL: `${keyed.gw.url}/openai/v1`, apiKey: vk, maxRetries: 0 })
    await c.images.generate({ model: 'openai/dall-e-3', prompt: 'one' })
    await c.audio.transcriptions.create({
      model: 'openai/whisper-1',
      file: await toFile(Buffer.from('two'), 'two.wav'),
    })
    const third = await c.audio.speech
      .create({ model: 'openai/tts-1', voice: 'alloy', input: 'three' })
      .catch((e: unknown) => e)
    expect(third).toBeInstanceOf(OpenAI.RateLimitError)
  })
})
