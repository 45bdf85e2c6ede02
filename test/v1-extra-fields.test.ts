import OpenAI, { toFile } from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startFakeAnthropic } from './fakes/anthropic.js'
import { startFakeOpenAIWithMedia } from './fakes/azure.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { fakeProvider, type RunningHeimdall, startHeimdall } from './helpers/heimdall.js'

interface ExtraFields {
  request_type: string
  provider: string
  model_requested: string
  latency: number
  chunk_index: number
}

/** What Bifrost's clients read on a /v1 answer, which the SDK types do not name. */
function extraOf(value: unknown): ExtraFields | undefined {
  return (value as { extra_fields?: ExtraFields }).extra_fields
}

/** Bifrost's `extra_fields` on /v1 answers, read through the official OpenAI SDK; none on the drop-in routes. */
describe('extra_fields on /v1 answers', () => {
  let openai: FakeServer
  let anthropic: FakeServer
  let gw: RunningHeimdall
  let client: OpenAI

  beforeAll(async () => {
    ;[openai, anthropic] = await Promise.all([startFakeOpenAI(), startFakeAnthropic()])
    gw = await startHeimdall({
      providers: { openai: fakeProvider(openai.url), anthropic: fakeProvider(anthropic.url) },
    })
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-unused', maxRetries: 0 })
  })
  afterAll(async () => {
    await gw.close()
    await Promise.all([openai.close(), anthropic.close()])
  })

  it('a chat completion relayed from an OpenAI provider names provider, model, request type and latency', async () => {
    const res = await client.chat.completions.create({
      model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: 'hello' }],
    })
    expect(res.choices[0].message.content).toBe('Echo: hello')
    const extra = extraOf(res)!
    expect(extra).toMatchObject({
      request_type: 'chat_completion',
      provider: 'openai',
      model_requested: 'gpt-4o-mini',
      chunk_index: 0,
    })
    expect(extra.latency).toBeGreaterThanOrEqual(0)
  })

  it('a translated chat completion (Anthropic) carries them too', async () => {
    const res = await client.chat.completions.create({
      model: 'anthropic/claude-3-5-haiku-latest',
      messages: [{ role: 'user', content: 'hello' }],
      max_tokens: 50,
    })
    expect(extraOf(res)).toMatchObject({ request_type: 'chat_completion', provider: 'anthropic' })
  })

  it('every streamed chat chunk carries them, with its index', async () => {
    for (const model of ['openai/gpt-4o-mini', 'anthropic/claude-3-5-haiku-latest']) {
      const stream = await client.chat.completions.create({
        model,
        messages: [{ role: 'user', content: 'one two three' }],
        max_tokens: 50,
        stream: true,
        stream_options: { include_usage: true },
      })
      const indexes: number[] = []
      let text = ''
      for await (const chunk of stream) {
        const extra = extraOf(chunk)!
        expect(extra).toMatchObject({
          request_type: 'chat_completion_stream',
          provider: model.split('/')[0],
        })
        expect(extra.latency).toBeGreaterThanOrEqual(0)
        indexes.push(extra.chunk_index)
        text += chunk.choices[0]?.delta?.content ?? ''
      }
      expect(text).toContain('one two three')
      expect(indexes).toEqual(indexes.map((_, i) => i))
    }
  })

  it('responses, plain and streamed, text completions, embeddings and the models list carry them', async () => {
    const res = await client.responses.create({ model: 'openai/gpt-4o-mini', input: 'ping' })
    expect(res.output_text).toBe('Echo: ping')
    expect(extraOf(res)).toMatchObject({ request_type: 'responses', provider: 'openai' })

    const stream = await client.responses.create({ model: 'openai/gpt-4o-mini', input: 'ping', stream: true })
    let events = 0
    for await (const ev of stream) {
      expect(extraOf(ev)).toMatchObject({ request_type: 'responses_stream', chunk_index: events })
      events++
    }
    expect(events).toBeGreaterThan(2)

    const completion = await client.completions.create({
      model: 'openai/gpt-3.5-turbo-instruct',
      prompt: 'say',
    })
    expect(extraOf(completion)).toMatchObject({ request_type: 'text_completion', provider: 'openai' })

    const embedding = await client.embeddings.create({
      model: 'openai/text-embedding-3-small',
      input: 'a',
      encoding_format: 'float',
    })
    expect(embedding.data[0].embedding).toHaveLength(8)
    expect(extraOf(embedding)).toMatchObject({ request_type: 'embedding', provider: 'openai' })

    const models = (await (await client.models.list().asResponse()).json()) as unknown
    expect(extraOf(models)).toMatchObject({ request_type: 'list_models' })
  })

  it('image generation (JSON and streamed), streamed speech and a JSON transcript carry them', async () => {
    const media = await startFakeOpenAIWithMedia()
    const mgw = await startHeimdall({ providers: { openai: fakeProvider(media.server.url) } })
    try {
      const m = new OpenAI({ baseURL: `${mgw.url}/v1`, apiKey: 'sk-unused', maxRetries: 0 })
      const image = await m.images.generate({ model: 'openai/gpt-image-1', prompt: 'a cat' })
      expect(extraOf(image)).toMatchObject({ request_type: 'image_generation', provider: 'openai' })
      const partials = await m.images.generate({
        model: 'openai/gpt-image-1',
        prompt: 'a cat',
        stream: true,
        partial_images: 1,
      })
      const kinds: number[] = []
      for await (const ev of partials) kinds.push(extraOf(ev)!.chunk_index)
      expect(kinds).toEqual(kinds.map((_, i) => i))
      expect(kinds.length).toBeGreaterThan(1)
      const speech = await m.audio.speech.create({
        model: 'openai/gpt-4o-mini-tts',
        voice: 'alloy',
        input: 'hello',
        stream_format: 'sse',
      })
      const events = (await speech.text()).split('\n\n').filter((e) => e.includes('data: '))
      expect(events.length).toBeGreaterThan(0)
      for (const e of events) {
        const data = JSON.parse(e.slice(e.indexOf('data: ') + 6)) as unknown
        expect(extraOf(data)).toMatchObject({ request_type: 'speech_stream', provider: 'openai' })
      }
      const transcript = await m.audio.transcriptions.create({
        model: 'openai/whisper-1',
        file: await toFile(Buffer.from('RIFFfake'), 'a.wav', { type: 'audio/wav' }),
      })
      expect(extraOf(transcript)).toMatchObject({ request_type: 'transcription', provider: 'openai' })
    } finally {
      await mgw.close()
      await media.close()
    }
  })

  it('the drop-in /openai routes answer in OpenAI format, without them', async () => {
    const dropIn = new OpenAI({ baseURL: `${gw.url}/openai/v1`, apiKey: 'sk-unused', maxRetries: 0 })
    const res = await dropIn.chat.completions.create({
      model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: 'hello' }],
    })
    expect(extraOf(res)).toBeUndefined()
    const stream = await dropIn.chat.completions.create({
      model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: 'hello' }],
      stream: true,
    })
    for await (const chunk of stream) expect(extraOf(chunk)).toBeUndefined()
  })
})
