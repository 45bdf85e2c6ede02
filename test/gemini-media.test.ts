import OpenAI, { toFile } from 'openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { fakePcm, fakePng, startFakeGemini } from './fakes/gemini.js'
import type { FakeServer } from './fakes/server.js'
import { fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

/**
 * Speech, image generation and image edits served by Gemini, with the official OpenAI SDK on /v1:
 * TTS models through generateContent with the AUDIO modality (PCM wrapped as WAV), Imagen through
 * `:predict`, Gemini image models through generateContent with the IMAGE modality.
 */
let gemini: FakeServer
let gw: RunningHeimdall
let client: OpenAI

beforeAll(async () => {
  gemini = await startFakeGemini()
  gw = await startHeimdall({ providers: { gemini: fakeProvider(gemini.url) } })
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-unused', maxRetries: 0 })
})
afterAll(async () => {
  await gw?.close()
  await gemini?.close()
})
beforeEach(() => gemini.reset())

const decoded = (b64: string | undefined) => Buffer.from(b64 ?? '', 'base64')

describe('speech from a Gemini TTS model', () => {
  it('answers a playable 24 kHz mono WAV of the PCM Gemini sent', async () => {
    const res = await client.audio.speech.create({
      model: 'gemini/gemini-2.5-flash-preview-tts',
      input: 'Hello there',
      voice: 'Kore' as never,
    })
    expect(res.headers.get('content-type')).toBe('audio/wav')
    const wav = Buffer.from(await res.arrayBuffer())
    expect(wav.subarray(0, 4).toString('ascii')).toBe('RIFF')
    expect(wav.subarray(8, 12).toString('ascii')).toBe('WAVE')
    expect(wav.readUInt16LE(22)).toBe(1) // mono
    expect(wav.readUInt32LE(24)).toBe(24000)
    expect(wav.readUInt16LE(34)).toBe(16)
    expect(wav.subarray(44)).toEqual(fakePcm('Hello there'))

    const sent = gemini.requests[0]
    expect(sent.path).toBe('/v1beta/models/gemini-2.5-flash-preview-tts:generateContent')
    expect(sent.body.generationConfig).toEqual({
      responseModalities: ['AUDIO'],
      speechConfig: { voiceConfig: { prebuiltVoiceConfig: { voiceName: 'Kore' } } },
    })
  })

  it('answers raw PCM for response_format pcm, and refuses mp3 with a 400', async () => {
    const res = await client.audio.speech.create({
      model: 'gemini/gemini-2.5-flash-preview-tts',
      input: 'Raw',
      voice: 'Puck' as never,
      response_format: 'pcm',
    })
    expect(Buffer.from(await res.arrayBuffer())).toEqual(fakePcm('Raw'))

    const err = await client.audio.speech
      .create({
        model: 'gemini/gemini-2.5-flash-preview-tts',
        input: 'x',
        voice: 'Puck' as never,
        response_format: 'mp3',
      })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.BadRequestError)
    expect((err as Error).message).toMatch(/wav or pcm/)
    expect(gemini.requests).toHaveLength(1)
  })

  it('passes Gemini’s own refusal of an unknown voice back as a 400', async () => {
    const err = await client.audio.speech
      .create({ model: 'gemini/gemini-2.5-flash-preview-tts', input: 'x', voice: 'alloy' })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.BadRequestError)
    expect((err as Error).message).toMatch(/Voice name alloy/)
  })
})

describe('images from Gemini', () => {
  it('generates with Imagen through :predict, n and size mapped', async () => {
    const res = await client.images.generate({
      model: 'gemini/imagen-4.0-generate-001',
      prompt: 'a lighthouse',
      n: 2,
      size: '1792x1024',
    })
    expect(res.data).toHaveLength(2)
    expect(decoded(res.data?.[1].b64_json)).toEqual(
      fakePng('a lighthouse 16:9 #1 by imagen-4.0-generate-001'),
    )
    const sent = gemini.requests[0]
    expect(sent.path).toBe('/v1beta/models/imagen-4.0-generate-001:predict')
    expect(sent.body).toEqual({
      instances: [{ prompt: 'a lighthouse' }],
      parameters: { sampleCount: 2, aspectRatio: '16:9' },
    })
  })

  it('generates with a Gemini image model through the IMAGE modality', async () => {
    const res = await client.images.generate({ model: 'gemini/gemini-2.5-flash-image', prompt: 'a fox' })
    expect(decoded(res.data?.[0].b64_json)).toEqual(fakePng('a fox #0'))
    expect(gemini.requests[0].body.generationConfig).toEqual({ responseModalities: ['IMAGE'] })
    expect(res.usage?.total_tokens).toBeGreaterThan(0)
  })

  it('edits an uploaded image with a Gemini image model, the image sent inline', async () => {
    const picture = Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3, 4, 5, 6])
    const res = await client.images.edit({
      model: 'gemini/gemini-2.5-flash-image',
      image: await toFile(picture, 'cat.png', { type: 'image/png' }),
      prompt: 'add a hat',
    })
    expect(decoded(res.data?.[0].b64_json)).toEqual(fakePng('add a hat [edited 10 bytes] #0'))
    const parts = gemini.requests[0].body.contents[0].parts
    expect(parts).toEqual([
      { text: 'add a hat' },
      { inlineData: { mimeType: 'image/png', data: picture.toString('base64') } },
    ])
  })

  it('refuses an edit with a mask, or on Imagen, with a 400 before calling Gemini', async () => {
    const image = await toFile(Buffer.from('png'), 'a.png', { type: 'image/png' })
    const masked = await client.images
      .edit({
        model: 'gemini/gemini-2.5-flash-image',
        image,
        mask: await toFile(Buffer.from('m'), 'm.png', { type: 'image/png' }),
        prompt: 'x',
      })
      .catch((e: unknown) => e)
    expect(masked).toBeInstanceOf(OpenAI.BadRequestError)
    const imagen = await client.images
      .edit({ model: 'gemini/imagen-4.0-generate-001', image, prompt: 'x' })
      .catch((e: unknown) => e)
    expect(imagen).toBeInstanceOf(OpenAI.BadRequestError)
    expect(gemini.requests).toHaveLength(0)
  })
})
