import { ApiError, GoogleGenAI, type File as GeminiFile, type Model } from '@google/genai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { ConfigFile } from '../src/core/schemas/index.js'
import { geminiFilesOf } from './fakes/gemini-files.js'
import { startFakeGemini } from './fakes/gemini.js'
import { startFakeOpenAIFiles, type FakeOpenAIFiles } from './fakes/openai-files.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { adminVirtualKey, fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

/**
 * `/genai/v1beta/models` and Gemini's Files API under `/genai`, with the official `@google/genai`
 * SDK: the configured providers' models in Google's paged list, and a file uploaded through
 * Google's resumable protocol (its upload URL pointing back at the gateway), read, listed and
 * deleted on the Gemini provider with the gateway's key.
 */
let gemini: FakeServer
let openai: FakeServer
let groqFiles: FakeOpenAIFiles
let gw: RunningHeimdall
let ai: GoogleGenAI

beforeAll(async () => {
  ;[gemini, openai, groqFiles] = await Promise.all([
    startFakeGemini(),
    startFakeOpenAI(),
    startFakeOpenAIFiles('sk-groq'),
  ])
  gw = await startHeimdall({
    providers: {
      gemini: fakeProvider(gemini.url, {}, [{ name: 'g', value: 'gemini-key', models: ['*'], weight: 1 }]),
      openai: fakeProvider(openai.url),
      groq: fakeProvider(groqFiles.url, {}, [{ name: 'q', value: 'sk-groq', models: ['*'], weight: 1 }]),
    },
  })
  ai = new GoogleGenAI({
    apiKey: 'AIza-unused',
    httpOptions: { baseUrl: `${gw.url}/genai`, retryOptions: { attempts: 1 } },
  })
})
afterAll(async () => {
  await gw?.close()
  await Promise.all([gemini?.close(), openai?.close(), groqFiles?.close()])
})
beforeEach(() => {
  gemini.reset()
  openai.reset()
})

describe('GET /genai/v1beta/models and /genai/v1beta/models/{model}', () => {
  it('lists every configured provider’s models in Google’s format, page by page', async () => {
    const seen: Model[] = []
    const pager = await ai.models.list({ config: { pageSize: 2 } })
    expect(pager.page).toHaveLength(2)
    for await (const m of pager) seen.push(m)
    const names = seen.map((m) => m.name)
    expect(names).toContain('models/gemini-2.5-flash')
    expect(names).toContain('models/gpt-4o-mini')
    expect(new Set(names).size).toBe(names.length)
    const flash = seen.find((m) => m.name === 'models/gemini-2.5-flash')
    expect(flash?.supportedActions).toContain('generateContent')
    expect(flash?.inputTokenLimit).toBeGreaterThan(0)
  })

  it('gives one model’s metadata (models.get), the name alone for a model not listed, and lists under /litellm too', async () => {
    const flash = await ai.models.get({ model: 'gemini-2.5-flash' })
    expect(flash).toMatchObject({ name: 'models/gemini-2.5-flash', displayName: 'gemini 2.5 flash' })
    expect(flash.outputTokenLimit).toBeGreaterThan(0)
    const unknown = await ai.models.get({ model: 'models/not-listed' })
    expect(unknown.name).toBe('models/not-listed')
    const framework = await fetch(`${gw.url}/litellm/v1beta/models?pageSize=1`)
    expect(framework.status).toBe(200)
    const page = (await framework.json()) as { models: unknown[]; nextPageToken?: string }
    expect(page.models).toHaveLength(1)
    expect(page.nextPageToken).toBeTruthy()
  })

  it('refuses a pageToken it did not give with a 400 in Google’s shape', async () => {
    const res = await fetch(`${gw.url}/genai/v1beta/models?pageToken=bm9wZQ`)
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: { code: 400, status: 'INVALID_ARGUMENT' } })
  })
})

describe('Gemini Files API through /genai', () => {
  it('uploads with the resumable protocol, then gets, lists and deletes the file', async () => {
    const uploaded: GeminiFile = await ai.files.upload({
      file: new Blob(['hello, file'], { type: 'text/plain' }),
      config: { displayName: 'notes.txt' },
    })
    expect(uploaded.name).toMatch(/^files\/\w+$/)
    expect(uploaded).toMatchObject({ displayName: 'notes.txt', mimeType: 'text/plain', sizeBytes: '11' })
    // Upstream: one upload, with the gateway's key, holding the caller's bytes.
    const up = gemini.requests.filter((r) => r.path.startsWith('/upload/'))
    expect(up).toHaveLength(1)
    expect(up[0].headers['x-goog-api-key']).toBe('gemini-key')
    expect(geminiFilesOf(gemini.url).get(uploaded.name!)?.content).toBe('hello, file')

    const got = await ai.files.get({ name: uploaded.name! })
    expect(got).toMatchObject({ name: uploaded.name, state: 'ACTIVE', sizeBytes: '11' })

    const listed: string[] = []
    for await (const f of await ai.files.list({ config: { pageSize: 10 } })) listed.push(f.name!)
    expect(listed).toContain(uploaded.name)

    await ai.files.delete({ name: uploaded.name! })
    const gone = await ai.files.get({ name: uploaded.name! }).catch((e: unknown) => e)
    expect(gone).toBeInstanceOf(ApiError)
    expect((gone as ApiError).status).toBe(403)
  })

  it('serves an OpenAI-compatible provider’s files in Gemini’s shape when x-model-provider names it', async () => {
    const viaGroq = new GoogleGenAI({
      apiKey: 'AIza-unused',
      httpOptions: {
        baseUrl: `${gw.url}/genai`,
        headers: { 'x-model-provider': 'groq' },
        retryOptions: { attempts: 1 },
      },
    })
    const up = await viaGroq.files.upload({
      file: new Blob(['{"a":1}\n'], { type: 'application/jsonl' }),
      config: { displayName: 'batch.jsonl' },
    })
    expect(up).toMatchObject({ displayName: 'batch.jsonl', sizeBytes: '8', state: 'ACTIVE' })
    // Upstream: an OpenAI upload for batches, with the provider's key.
    const stored = groqFiles.files.get(up.name!)
    expect(stored?.object).toMatchObject({ filename: 'batch.jsonl', purpose: 'batch' })
    expect(stored?.content).toBe('{"a":1}\n')
    expect(await viaGroq.files.get({ name: up.name! })).toMatchObject({ name: up.name, sizeBytes: '8' })
    const listed: string[] = []
    for await (const f of await viaGroq.files.list()) listed.push(f.name!)
    expect(listed).toContain(up.name)
    await viaGroq.files.delete({ name: up.name! })
    expect(groqFiles.files.has(up.name!)).toBe(false)
    expect(gemini.requests).toHaveLength(0)
  })

  it('answers the upload start with an upload URL on the gateway, and refuses unknown sessions and protocols', async () => {
    const start = await fetch(`${gw.url}/genai/upload/v1beta/files`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-goog-upload-protocol': 'resumable',
        'x-goog-upload-command': 'start',
        'x-goog-upload-header-content-length': '3',
        'x-goog-upload-header-content-type': 'text/plain',
      },
      body: JSON.stringify({ file: { displayName: 'abc' } }),
    })
    expect(start.status).toBe(200)
    const url = start.headers.get('x-goog-upload-url')!
    expect(url.startsWith(`${gw.url}/genai/upload/v1beta/files?upload_id=`)).toBe(true)
    expect(start.headers.get('x-goog-upload-status')).toBe('active')

    // Bytes past the announced size are refused, and the session with them.
    const tooMuch = await fetch(url, {
      method: 'POST',
      headers: { 'x-goog-upload-command': 'upload, finalize', 'x-goog-upload-offset': '0' },
      body: 'abcdef',
    })
    expect(tooMuch.status).toBe(413)
    const unknown = await fetch(url, {
      method: 'POST',
      headers: { 'x-goog-upload-command': 'upload, finalize', 'x-goog-upload-offset': '0' },
      body: 'abc',
    })
    expect(unknown.status).toBe(404)
    expect(await unknown.json()).toMatchObject({ error: { code: 404, status: 'NOT_FOUND' } })

    const noProtocol = await fetch(`${gw.url}/genai/upload/v1beta/files`, { method: 'POST', body: 'x' })
    expect(noProtocol.status).toBe(400)
    expect(await noProtocol.json()).toMatchObject({ error: { code: 400, status: 'INVALID_ARGUMENT' } })
    expect(gemini.requests).toHaveLength(0)
  })
})

describe('Gemini files belong to the virtual key that uploaded them', () => {
  const ADMIN = `Basic ${Buffer.from('admin:genai-files-password').toString('base64')}`
  let guarded: RunningHeimdall

  const virtualKey = (name: string) => adminVirtualKey(guarded.url, name, 'gemini', ADMIN)
  const client = (apiKey: string) =>
    new GoogleGenAI({
      apiKey,
      httpOptions: { baseUrl: `${guarded.url}/genai`, retryOptions: { attempts: 1 } },
    })

  beforeAll(async () => {
    guarded = await startHeimdall({
      auth_config: { is_enabled: true, admin_username: 'admin', admin_password: 'genai-files-password' },
      providers: {
        gemini: fakeProvider(gemini.url, {}, [{ name: 'g', value: 'gemini-key', models: ['*'], weight: 1 }]),
      },
    } as ConfigFile)
  })
  afterAll(() => guarded?.close())

  it('another key neither lists, reads nor deletes it', async () => {
    const [a, b] = [client(await virtualKey('genai-a')), client(await virtualKey('genai-b'))]
    const file = await a.files.upload({ file: new Blob(['secret'], { type: 'text/plain' }) })
    const own = await b.files.upload({ file: new Blob(['mine'], { type: 'text/plain' }) })

    const seenByB: string[] = []
    for await (const f of await b.files.list()) seenByB.push(f.name!)
    expect(seenByB).toContain(own.name)
    expect(seenByB).not.toContain(file.name)
    for (const call of [b.files.get({ name: file.name! }), b.files.delete({ name: file.name! })]) {
      const refused = await call.catch((e: unknown) => e)
      expect(refused).toBeInstanceOf(ApiError)
      expect((refused as ApiError).status).toBe(404)
    }
    expect(geminiFilesOf(gemini.url).has(file.name!)).toBe(true)
    expect(await a.files.get({ name: file.name! })).toMatchObject({ name: file.name })
  })
})
