import { setTimeout as sleep } from 'node:timers/promises'
import OpenAI, { AzureOpenAI, toFile } from 'openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { ConfigFile } from '../src/core/schemas/index.js'
import { fakeSpeech, startFakeAzure, startFakeOpenAIWithMedia, type FakeAzure } from './fakes/azure.js'
import type { FakeServer } from './fakes/server.js'
import { sqliteBackend } from './helpers/databases.js'
import { gatewayRequiringKeys } from './helpers/gateway-requiring-keys.js'
import {
  createVirtualKey,
  fakeProvider,
  readSse,
  type RunningHeimdall,
  startHeimdall,
} from './helpers/heimdall.js'

/**
 * Image edits and variations (multipart uploads), and streamed image generation, image edits and
 * speech, with the official OpenAI SDK against the gateway: the provider gets the caller's form
 * with its own model name and the files intact, streams arrive as OpenAI's events, bad input is
 * refused before any provider call, and each request is governed and logged under its own type.
 */

/** Image bytes that survive the fake's UTF-8 reading (non-ASCII, CR/LF and a boundary-like line). */
const PICTURE = Buffer.from('PNG ünïcödé ✓\r\n--not-a-boundary\r\n\u0001end', 'utf8')
const MASK = Buffer.from('PNG mask ░░', 'utf8')

const png = (bytes: Buffer, name: string, type = 'image/png') => toFile(bytes, name, { type })
const decoded = (b64: string | undefined) => Buffer.from(b64 ?? '', 'base64').toString('utf8')

/** The fields of the multipart form the provider received, by name (files as their text). */
async function sentForm(server: FakeServer, index = 0): Promise<FormData> {
  const r = server.requests[index]
  return new Response(Buffer.from(String(r.body), 'utf8'), {
    headers: { 'content-type': String(r.headers['content-type']) },
  }).formData()
}

describe('image edits and variations through OpenAI', () => {
  let fake: { server: FakeServer; close(): Promise<void> }
  let gw: RunningHeimdall
  const clients: Record<string, OpenAI> = {}

  beforeAll(async () => {
    fake = await startFakeOpenAIWithMedia()
    gw = await startHeimdall({
      client: { max_request_body_size_mb: 1 },
      providers: {
        openai: fakeProvider(fake.server.url),
        groq: fakeProvider(fake.server.url),
      },
      logs_store: {
        ...(await sqliteBackend('images-edits').fresh()),
        flush_interval_ms: 10,
      } as unknown as ConfigFile['logs_store'],
    })
    for (const base of ['/v1', '/openai', '/openai/v1'])
      clients[base] = new OpenAI({ baseURL: `${gw.url}${base}`, apiKey: 'sk-unused', maxRetries: 0 })
  })
  afterAll(async () => {
    await gw?.close()
    await fake?.close()
  })
  beforeEach(() => fake.server.reset())

  for (const base of ['/v1', '/openai', '/openai/v1']) {
    it(`edits an uploaded image on ${base}, the file and fields reaching OpenAI intact`, async () => {
      const { data, response } = await clients[base].images
        .edit({
          model: 'openai/gpt-image-1',
          image: await png(PICTURE, 'cat.png'),
          prompt: 'add a hat',
          size: '1024x1024',
        })
        .withResponse()
      expect(decoded(data.data?.[0].b64_json)).toBe(
        `png:edit:add a hat:cat.png(${PICTURE.length}):${PICTURE.toString('utf8')}:0`,
      )
      expect(data.usage?.total_tokens).toBeGreaterThan(0)
      expect(response.headers.get('x-bifrost-provider')).toBe('openai')
      const sent = fake.server.requests[0]
      expect(sent.path).toBe('/v1/images/edits')
      expect(sent.headers.authorization).toBe('Bearer sk-test')
      const form = await sentForm(fake.server)
      expect(form.get('model')).toBe('gpt-image-1')
      expect(form.get('size')).toBe('1024x1024')
      expect(await (form.get('image') as File).text()).toBe(PICTURE.toString('utf8'))
    })
  }

  it('edits several images (image[]) with a mask, and honours n and response_format', async () => {
    const edited = await clients['/v1'].images.edit({
      model: 'openai/gpt-image-1',
      image: [await png(PICTURE, 'a.png'), await png(Buffer.from('second'), 'b.webp', 'image/webp')],
      mask: await png(MASK, 'mask.png'),
      prompt: 'merge them',
      n: 2,
    })
    expect(edited.data?.map((d) => decoded(d.b64_json))).toEqual(
      [0, 1].map(
        (i) =>
          `png:edit:merge them:a.png(${PICTURE.length}):${PICTURE}+b.webp(6):second+mask.png(${MASK.length}):${MASK}:${i}`,
      ),
    )
    const form = await sentForm(fake.server)
    expect(form.getAll('image[]')).toHaveLength(2)
    expect(form.get('n')).toBe('2')

    const asUrls = await clients['/openai'].images.edit({
      model: 'openai/dall-e-2',
      image: await png(PICTURE, 'one.png'),
      prompt: 'sunset',
      response_format: 'url',
    })
    expect(asUrls.data?.[0].url).toBe('https://images.fake/edits/sunset/0.png')
  })

  it('makes variations of an image', async () => {
    const varied = await clients['/openai'].images.createVariation({
      model: 'openai/dall-e-2',
      image: await png(PICTURE, 'otter.png'),
      n: 2,
      size: '256x256',
    })
    const label = encodeURIComponent(`otter.png(${PICTURE.length}):${PICTURE}`)
    expect(varied.data?.map((d) => d.url)).toEqual(
      [0, 1].map((i) => `https://images.fake/variations/${label}/${i}.png`),
    )
    expect(fake.server.requests[0].path).toBe('/v1/images/variations')
    const form = await sentForm(fake.server)
    expect(form.get('model')).toBe('dall-e-2')
    expect(form.get('size')).toBe('256x256')
  })

  it('passes the provider’s refusal of a non-image file through, as the SDK error and as Bifrost’s shape', async () => {
    const err = await clients['/openai'].images
      .edit({
        model: 'openai/gpt-image-1',
        image: await png(PICTURE, 'notes.txt', 'text/plain'),
        prompt: 'x',
      })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.BadRequestError)
    expect((err as InstanceType<typeof OpenAI.APIError>).param).toBe('image')
    expect((err as InstanceType<typeof OpenAI.APIError>).message).toMatch(
      /unsupported mimetype \('text\/plain'\)/,
    )

    const form = new FormData()
    form.set('model', 'openai/dall-e-2')
    form.set('image', new File([PICTURE], 'photo.jpg', { type: 'image/jpeg' }))
    const res = await fetch(`${gw.url}/v1/images/variations`, { method: 'POST', body: form })
    expect(res.status).toBe(400)
    const body = (await res.json()) as any
    expect(body).toMatchObject({
      is_bifrost_error: false,
      status_code: 400,
      error: { message: expect.stringMatching(/unsupported mimetype \('image\/jpeg'\)/) },
      extra_fields: {
        provider: 'openai',
        model_requested: 'openai/dall-e-2',
        request_type: 'image_variation',
      },
    })
  })

  it('refuses bad input with a 4xx in Bifrost’s shape, before any provider call', async () => {
    const post = async (path: string, init: RequestInit) => {
      const res = await fetch(`${gw.url}${path}`, { method: 'POST', ...init })
      return { status: res.status, body: (await res.json()) as any }
    }
    const form = (fields: Record<string, string | File>) => {
      const f = new FormData()
      for (const [k, v] of Object.entries(fields)) f.append(k, v)
      return f
    }
    const image = new File([PICTURE], 'cat.png', { type: 'image/png' })

    const noImage = await post('/v1/images/edits', {
      body: form({ model: 'openai/gpt-image-1', prompt: 'x' }),
    })
    expect(noImage.status).toBe(400)
    expect(noImage.body).toMatchObject({
      is_bifrost_error: true,
      status_code: 400,
      error: {
        type: 'invalid_request_error',
        param: 'image',
        message: expect.stringMatching(/image is required/),
      },
    })
    const imageAsText = await post('/v1/images/edits', {
      body: form({ model: 'openai/gpt-image-1', prompt: 'x', image: 'not a file' }),
    })
    expect(imageAsText.body.error.param).toBe('image')
    const noPrompt = await post('/v1/images/edits', { body: form({ model: 'openai/gpt-image-1', image }) })
    expect(noPrompt.body.error.param).toBe('prompt')
    const noModel = await post('/v1/images/variations', { body: form({ image }) })
    expect(noModel.status).toBe(400)
    expect(noModel.body.error.param).toBe('model')
    const badN = await post('/v1/images/variations', {
      body: form({ model: 'openai/dall-e-2', image, n: '0' }),
    })
    expect(badN.body.error.param).toBe('n')
    const noVariationImage = await post('/openai/v1/images/variations', {
      body: form({ model: 'openai/dall-e-2' }),
    })
    expect(noVariationImage.status).toBe(400)
    const asJson = await post('/v1/images/edits', {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'openai/gpt-image-1', prompt: 'x', image: 'https://x/y.png' }),
    })
    expect(asJson.status).toBe(415)
    expect(asJson.body.error.message).toMatch(/multipart\/form-data/)
    const broken = await post('/v1/images/variations', {
      headers: { 'content-type': 'multipart/form-data; boundary=zzz' },
      body: '--zzz\r\nbroken',
    })
    expect(broken.status).toBe(400)
    expect(broken.body.is_bifrost_error).toBe(true)
    const tooLarge = await post('/v1/images/edits', {
      body: form({
        model: 'openai/gpt-image-1',
        prompt: 'x',
        image: new File([Buffer.alloc(1_200_000, 'a')], 'big.png', { type: 'image/png' }),
      }),
    })
    expect(tooLarge.status).toBe(413)
    expect(tooLarge.body).toMatchObject({ is_bifrost_error: true, error: { type: 'invalid_request_error' } })
    expect(fake.server.requests).toHaveLength(0)
  })

  it('says so when the provider serves no image edits', async () => {
    const err = await clients['/v1'].images
      .edit({ model: 'groq/some-model', image: await png(PICTURE, 'a.png'), prompt: 'x' })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.BadRequestError)
    expect((err as InstanceType<typeof OpenAI.APIError>).message).toMatch(/groq does not serve image edits/)
    expect(fake.server.requests).toHaveLength(0)
  })

  it('streams an image edit as OpenAI’s partial-image events', async () => {
    const stream = await clients['/openai'].images.edit({
      model: 'openai/gpt-image-1',
      image: await png(PICTURE, 'cat.png'),
      prompt: 'watercolour',
      stream: true,
      partial_images: 2,
    })
    const events: OpenAI.Images.ImageEditStreamEvent[] = []
    for await (const event of stream) events.push(event)
    expect(events.map((e) => e.type)).toEqual([
      'image_edit.partial_image',
      'image_edit.partial_image',
      'image_edit.completed',
    ])
    const picture = `png:edit:watercolour:cat.png(${PICTURE.length}):${PICTURE}`
    expect(decoded(events[2].b64_json)).toBe(picture)
    expect((events[2] as OpenAI.Images.ImageEditCompletedEvent).usage.total_tokens).toBeGreaterThan(0)
    expect((await sentForm(fake.server)).get('stream')).toBe('true')
  })

  it('streams an image generation, and reports a stream cut after its first event as an error', async () => {
    const stream = await clients['/v1'].images.generate({
      model: 'openai/gpt-image-1',
      prompt: 'a lighthouse',
      stream: true,
      partial_images: 1,
    })
    const types: string[] = []
    for await (const event of stream) types.push(event.type)
    expect(types).toEqual(['image_generation.partial_image', 'image_generation.completed'])
    expect(fake.server.requests[0].body).toMatchObject({
      model: 'gpt-image-1',
      stream: true,
      partial_images: 1,
    })

    fake.server.fail({ kind: 'drop', afterEvents: 1 })
    const cut = await clients['/v1'].images.generate({
      model: 'openai/gpt-image-1',
      prompt: 'cut short',
      stream: true,
      partial_images: 2,
    })
    const seen: string[] = []
    const err = await (async () => {
      for await (const event of cut) seen.push(event.type)
    })().catch((e: unknown) => e)
    expect(seen).toEqual(['image_generation.partial_image'])
    expect(err).toBeInstanceOf(OpenAI.APIError)
    expect((err as Error).message).toMatch(/stream broke off/)
  })

  it('streams speech as base64 audio deltas, for stream_format sse and for Bifrost’s stream: true', async () => {
    const res = await clients['/openai'].audio.speech.create({
      model: 'openai/gpt-4o-mini-tts',
      voice: 'coral',
      input: 'streamed hello',
      stream_format: 'sse',
    })
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/)
    const events = await readSse(res)
    expect(events.at(-1)?.event).toBe('speech.audio.done')
    const audio = Buffer.concat(
      events
        .filter((e) => e.event === 'speech.audio.delta')
        .map((e) => Buffer.from((JSON.parse(e.data) as { audio: string }).audio, 'base64')),
    )
    expect(audio).toEqual(fakeSpeech('streamed hello', 'coral'))
    expect(fake.server.requests[0].body).toMatchObject({ model: 'gpt-4o-mini-tts', stream_format: 'sse' })

    const bifrost = await fetch(`${gw.url}/v1/audio/speech`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'openai/gpt-4o-mini-tts', voice: 'coral', input: 'again', stream: true }),
    })
    const again = await readSse(bifrost)
    expect(again.at(-1)).toMatchObject({ event: 'speech.audio.done' })
    expect(fake.server.requests[1].body).not.toHaveProperty('stream')
    // A model whose provider cannot stream it: the provider's 400, before any event.
    const refused = await clients['/v1'].audio.speech
      .create({ model: 'openai/tts-1', voice: 'coral', input: 'x', stream_format: 'sse' })
      .catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(OpenAI.BadRequestError)
  })

  it('logs edits and variations under their own request types, with file metadata and no image bytes', async () => {
    await clients['/v1'].images.edit({
      model: 'openai/gpt-image-1',
      image: await png(PICTURE, 'logged.png'),
      prompt: 'for the logs',
    })
    await clients['/v1'].images.createVariation({
      model: 'openai/dall-e-2',
      image: await png(PICTURE, 'logged-variation.png'),
    })
    // Earlier tests logged variations too (some refused): this test's own is found by its file name.
    const ownVariation = (l: any) =>
      l.object === 'image_variation' && l.request?.image?.name === 'logged-variation.png'
    let logs: any[] = []
    for (let i = 0; i < 400; i++) {
      const res = await fetch(`${gw.url}/api/logs?limit=100`)
      logs = ((await res.json()) as { logs: any[] }).logs
      if (
        logs.some(ownVariation) &&
        logs.some((l) => l.object === 'image_edit_stream') &&
        logs.some((l) => l.request?.prompt === 'for the logs')
      )
        break
      await sleep(25)
    }
    const edit = logs.find((l) => l.object === 'image_edit' && l.request?.prompt === 'for the logs')
    expect(edit).toMatchObject({
      provider: 'openai',
      model: 'gpt-image-1',
      status: 'success',
      request: {
        model: 'openai/gpt-image-1',
        image: { name: 'logged.png', type: 'image/png', bytes: PICTURE.length },
      },
    })
    expect(edit.total_tokens).toBeGreaterThan(0)
    expect(JSON.stringify(edit.request)).not.toContain('ünïcödé')
    expect(logs.find(ownVariation)).toMatchObject({
      provider: 'openai',
      status: 'success',
    })
    // The streamed edit of an earlier test: logged as a stream, with the usage of its last event.
    const streamed = logs.find((l) => l.object === 'image_edit_stream')
    expect(streamed).toMatchObject({ stream: true, status: 'success', request: { stream: 'true' } })
    expect(streamed.total_tokens).toBeGreaterThan(0)
  })
})

describe('image edits under a virtual key', () => {
  const keyed = gatewayRequiringKeys()

  it('refuses a model the key does not allow, and counts edits against the key’s request limit', async () => {
    const { value: vk } = await createVirtualKey(keyed.gw.url, {
      name: 'painter',
      rate_limit: { request_max_limit: 2, request_reset_duration: '1h' },
      provider_configs: [{ provider: 'openai', allowed_models: ['gpt-image-1'], key_ids: ['*'] }],
    })
    const c = new OpenAI({ baseURL: `${keyed.gw.url}/openai`, apiKey: vk, maxRetries: 0 })
    const anonymous = await new OpenAI({
      baseURL: `${keyed.gw.url}/v1`,
      apiKey: 'sk-x',
      maxRetries: 0,
    }).images
      .edit({ model: 'openai/gpt-image-1', image: await png(PICTURE, 'a.png'), prompt: 'x' })
      .catch((e: unknown) => e)
    expect(anonymous).toBeInstanceOf(OpenAI.AuthenticationError)
    const blocked = await c.images
      .createVariation({ model: 'openai/dall-e-2', image: await png(PICTURE, 'a.png') })
      .catch((e: unknown) => e)
    expect(blocked).toBeInstanceOf(OpenAI.PermissionDeniedError)
    const edit = async () =>
      c.images.edit({ model: 'openai/gpt-image-1', image: await png(PICTURE, 'a.png'), prompt: 'x' })
    await edit()
    await edit()
    const limited = await edit().catch((e: unknown) => e)
    expect(limited).toBeInstanceOf(OpenAI.RateLimitError)
    expect(keyed.fake.server.requests).toHaveLength(2)
    expect(keyed.fake.server.requests.every((r) => r.headers.authorization === 'Bearer sk-test')).toBe(true)
  })
})

describe('image edits on Azure OpenAI', () => {
  let azure: FakeAzure
  let gw: RunningHeimdall

  beforeAll(async () => {
    azure = await startFakeAzure({ apiKey: 'azure-secret', deployments: { painter: 'gpt-image-1' } })
    gw = await startHeimdall({
      providers: {
        azure: {
          keys: [
            {
              name: 'k',
              value: 'azure-secret',
              models: ['*'],
              azure_key_config: { endpoint: azure.url, deployments: { 'gpt-image-1': 'painter' } },
            },
          ],
        },
      },
    })
  })
  afterAll(async () => {
    await gw?.close()
    await azure?.close()
  })
  beforeEach(() => azure.resource.reset())

  it('sends an edit to its deployment, with the image-edit api-version when the key names none', async () => {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-unused', maxRetries: 0 })
    const edited = await client.images.edit({
      model: 'azure/gpt-image-1',
      image: await png(PICTURE, 'cat.png'),
      prompt: 'azure hat',
    })
    expect(decoded(edited.data?.[0].b64_json)).toBe(
      `png:edit:azure hat:cat.png(${PICTURE.length}):${PICTURE}:0`,
    )
    const sent = azure.resource.requests[0]
    expect(sent.path).toBe('/openai/deployments/painter/images/edits?api-version=2025-04-01-preview')
    expect(sent.headers['api-key']).toBe('azure-secret')

    const streamed = await client.images.edit({
      model: 'azure/gpt-image-1',
      image: await png(PICTURE, 'cat.png'),
      prompt: 'azure stream',
      stream: true,
    })
    const types: string[] = []
    for await (const event of streamed) types.push(event.type)
    expect(types).toEqual(['image_edit.completed'])
  })

  it('refuses variations, which Azure does not serve, without calling it', async () => {
    const err = await new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-unused', maxRetries: 0 }).images
      .createVariation({ model: 'azure/dall-e-2', image: await png(PICTURE, 'a.png') })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.BadRequestError)
    expect((err as Error).message).toMatch(/azure does not serve image variations/)
    expect(azure.resource.requests).toHaveLength(0)
  })

  it('serves an AzureOpenAI client’s edit on a deployment path', async () => {
    const client = new AzureOpenAI({
      endpoint: `${gw.url}/openai`,
      apiKey: 'caller-key',
      apiVersion: '2025-04-01-preview',
      deployment: 'gpt-image-1',
      maxRetries: 0,
    })
    const { data, response } = await client.images
      .edit({ model: 'ignored', image: await png(PICTURE, 'cat.png'), prompt: 'deployment path' })
      .withResponse()
    expect(response.url).toContain('/openai/openai/deployments/gpt-image-1/images/edits')
    expect(decoded(data.data?.[0].b64_json)).toMatch(/^png:edit:deployment path:cat\.png/)
    expect(azure.resource.requests[0].path.split('?')[0]).toBe('/openai/deployments/painter/images/edits')
    expect(azure.resource.requests[0].headers['api-key']).toBe('azure-secret')
  })
})
