import Anthropic, { toFile } from '@anthropic-ai/sdk'
import OpenAI, { toFile as toOpenAIFile } from 'openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { ConfigFile } from '../src/core/schemas/index.js'
import { startFakeAnthropic } from './fakes/anthropic.js'
import type { FakeServer } from './fakes/server.js'
import { adminVirtualKey, fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

/**
 * Anthropic's Message Batches and Files APIs under `/anthropic`, with the official Anthropic SDK,
 * served by the Anthropic provider's own APIs; each batch and file belongs to the virtual key that
 * created it.
 */
const ADMIN = `Basic ${Buffer.from('admin:anthropic-objects-pw').toString('base64')}`
const CLAUDE = 'claude-sonnet-4-5-20250929'

let anthropic: FakeServer
let gw: RunningHeimdall
let keyA: Anthropic
let keyB: Anthropic

const virtualKey = (name: string) => adminVirtualKey(gw.url, name, 'anthropic', ADMIN)

async function refusal(call: Promise<unknown>): Promise<InstanceType<typeof Anthropic.APIError>> {
  const outcome = await call.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(outcome).toBeInstanceOf(Anthropic.APIError)
  return outcome as InstanceType<typeof Anthropic.APIError>
}

beforeAll(async () => {
  anthropic = await startFakeAnthropic()
  gw = await startHeimdall({
    auth_config: { is_enabled: true, admin_username: 'admin', admin_password: 'anthropic-objects-pw' },
    config_store: { enabled: true, type: 'sqlite', config: {} },
    providers: { anthropic: fakeProvider(anthropic.url) },
  } as ConfigFile)
  const base = `${gw.url}/anthropic`
  keyA = new Anthropic({ baseURL: base, apiKey: await virtualKey('anthropic-a'), maxRetries: 0 })
  keyB = new Anthropic({ baseURL: base, apiKey: await virtualKey('anthropic-b'), maxRetries: 0 })
})
afterAll(async () => {
  await gw?.close()
  await anthropic?.close()
})
beforeEach(() => anthropic.reset())

describe('Message Batches through /anthropic', () => {
  it('creates, lists, retrieves a batch and streams its JSONL results through the gateway', async () => {
    const created = await keyA.messages.batches.create({
      requests: [
        {
          custom_id: 'ok-1',
          params: { model: CLAUDE, max_tokens: 50, messages: [{ role: 'user', content: 'first' }] },
        },
        // The fake refuses a Messages body without messages: that request errors, the batch does not.
        { custom_id: 'bad-2', params: { model: CLAUDE, max_tokens: 50, messages: [] } },
      ],
    })
    expect(created.type).toBe('message_batch')
    expect(created.id).toMatch(/^msgbatch_/)
    expect(created.processing_status).toBe('in_progress')
    expect(created.request_counts.processing).toBe(2)
    expect(anthropic.requests[0].path).toBe('/v1/messages/batches')
    expect(anthropic.requests[0].headers['x-api-key']).toBe('sk-test')

    const listed: string[] = []
    for await (const b of keyA.messages.batches.list({ limit: 5 })) listed.push(b.id)
    expect(listed).toContain(created.id)

    const ended = await keyA.messages.batches.retrieve(created.id)
    expect(ended.processing_status).toBe('ended')
    expect(ended.request_counts).toMatchObject({ succeeded: 1, errored: 1 })
    // The SDK reads the results where results_url says: this gateway, not Anthropic.
    expect(ended.results_url).toBe(`${gw.url}/anthropic/v1/messages/batches/${created.id}/results`)

    const results: Anthropic.Messages.MessageBatchIndividualResponse[] = []
    for await (const r of await keyA.messages.batches.results(created.id)) results.push(r)
    expect(results.map((r) => r.custom_id)).toEqual(['ok-1', 'bad-2'])
    const ok = results[0].result
    expect(ok.type).toBe('succeeded')
    if (ok.type === 'succeeded')
      expect(ok.message.content[0]).toMatchObject({ type: 'text', text: 'Echo: first' })
    expect(results[1].result.type).toBe('errored')
  })

  it('cancels a batch in progress', async () => {
    const created = await keyA.messages.batches.create({
      requests: [
        {
          custom_id: 'c-1',
          params: { model: CLAUDE, max_tokens: 50, messages: [{ role: 'user', content: 'x' }] },
        },
      ],
    })
    const canceling = await keyA.messages.batches.cancel(created.id)
    expect(canceling.processing_status).toBe('canceling')
    expect(canceling.cancel_initiated_at).toBeTruthy()
    const ended = await keyA.messages.batches.retrieve(created.id)
    expect(ended.request_counts.canceled).toBe(1)
  })

  it('answers a batch without requests with a 400 in Anthropic’s shape, before reaching Anthropic', async () => {
    const e = await refusal(keyA.messages.batches.create({ requests: [] }))
    expect(e).toBeInstanceOf(Anthropic.BadRequestError)
    expect(e.error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } })
    expect(anthropic.requests).toHaveLength(0)
  })
})

describe('Files through /anthropic', () => {
  it('uploads, lists, describes, downloads and deletes a file with the Files API beta', async () => {
    const uploaded = await keyA.beta.files.upload({
      file: await toFile(Buffer.from('hello from a file\n'), 'notes.txt', { type: 'text/plain' }),
    })
    expect(uploaded).toMatchObject({ type: 'file', filename: 'notes.txt', size_bytes: 18 })
    const sent = anthropic.requests[0]
    expect(sent.path).toBe('/v1/files')
    expect(String(sent.headers['anthropic-beta'])).toContain('files-api-2025-04-14')

    const ids: string[] = []
    for await (const f of keyA.beta.files.list()) ids.push(f.id)
    expect(ids).toContain(uploaded.id)

    const meta = await keyA.beta.files.retrieveMetadata(uploaded.id)
    expect(meta.mime_type).toBe('text/plain')
    const content = await keyA.beta.files.download(uploaded.id)
    expect(await content.text()).toBe('hello from a file\n')

    const deleted = await keyA.beta.files.delete(uploaded.id)
    expect(deleted).toEqual({ id: uploaded.id, type: 'file_deleted' })
    expect((await refusal(keyA.beta.files.retrieveMetadata(uploaded.id))).status).toBe(404)
  })
})

describe('ownership on /anthropic', () => {
  it('another virtual key neither lists nor reads, downloads, deletes or cancels them', async () => {
    const file = await keyA.beta.files.upload({ file: await toFile(Buffer.from('mine'), 'a.txt') })
    const batch = await keyA.messages.batches.create({
      requests: [
        {
          custom_id: 'o-1',
          params: { model: CLAUDE, max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] },
        },
      ],
    })
    const files: string[] = []
    for await (const f of keyB.beta.files.list()) files.push(f.id)
    expect(files).not.toContain(file.id)
    const batches: string[] = []
    for await (const b of keyB.messages.batches.list()) batches.push(b.id)
    expect(batches).not.toContain(batch.id)

    const from = anthropic.requests.length
    for (const call of [
      () => keyB.beta.files.retrieveMetadata(file.id),
      () => keyB.beta.files.download(file.id),
      () => keyB.beta.files.delete(file.id),
      () => keyB.messages.batches.retrieve(batch.id),
      () => keyB.messages.batches.cancel(batch.id),
    ]) {
      const e = await refusal(call())
      expect(e).toBeInstanceOf(Anthropic.NotFoundError)
      expect(e.error).toMatchObject({ type: 'error', error: { type: 'not_found_error' } })
    }
    // Refused at the gateway: Anthropic never saw these calls.
    expect(
      anthropic.requests.slice(from).filter((r) => r.path.includes(file.id) || r.path.includes(batch.id)),
    ).toEqual([])
    expect((await keyA.beta.files.retrieveMetadata(file.id)).id).toBe(file.id)
  })
})

describe('/v1/files and /v1/batches with provider anthropic, through the OpenAI SDK', () => {
  it('serves files and inline batches from Anthropic’s own APIs, in Bifrost’s shapes', async () => {
    const openai = new OpenAI({
      baseURL: `${gw.url}/v1`,
      apiKey: await virtualKey('anthropic-v1'),
      maxRetries: 0,
    })
    const asAnthropic = { query: { provider: 'anthropic' } }
    const file = await openai.files.create(
      {
        file: await toOpenAIFile(Buffer.from('v1 upload'), 'v1.txt', { type: 'text/plain' }),
        purpose: 'user_data',
      },
      asAnthropic,
    )
    expect(file).toMatchObject({ object: 'file', bytes: 9, filename: 'v1.txt', status: 'processed' })
    expect(file.id).toMatch(/^file_/)
    // Only the file part reaches Anthropic, which refuses form fields it does not know (purpose).
    expect(anthropic.requests[0].path).toBe('/v1/files')
    expect((await openai.files.retrieve(file.id, asAnthropic)).filename).toBe('v1.txt')
    const listed = await openai.files.list({}, asAnthropic)
    expect(listed.data.map((f) => f.id)).toContain(file.id)
    expect(await (await openai.files.content(file.id, asAnthropic)).text()).toBe('v1 upload')

    const batch = (await openai.batches.create(
      {
        requests: [
          {
            custom_id: 'v1-a',
            params: { model: CLAUDE, max_tokens: 30, messages: [{ role: 'user', content: 'alpha' }] },
          },
        ],
      } as never,
      asAnthropic,
    )) as unknown as Record<string, unknown>
    expect(batch).toMatchObject({ object: 'batch', status: 'in_progress', processing_status: 'in_progress' })
    const sentBatch = anthropic.requests.find((r) => r.path === '/v1/messages/batches')
    expect(sentBatch?.body).toEqual({
      requests: [
        {
          custom_id: 'v1-a',
          params: { model: CLAUDE, max_tokens: 30, messages: [{ role: 'user', content: 'alpha' }] },
        },
      ],
    })
    const id = batch.id as string
    const ended = (await openai.batches.retrieve(id, asAnthropic)) as unknown as Record<string, unknown>
    expect(ended).toMatchObject({ status: 'ended', request_counts: { total: 1, completed: 1, failed: 0 } })
    const results = await fetch(`${gw.url}/v1/batches/${id}/results?provider=anthropic`, {
      headers: { authorization: `Bearer ${openai.apiKey}` },
    })
    expect(results.status).toBe(200)
    const body = (await results.json()) as { results: { custom_id: string; response?: { body?: any } }[] }
    expect(body.results).toHaveLength(1)
    expect(body.results[0].custom_id).toBe('v1-a')
    expect(body.results[0].response?.body?.content?.[0]?.text).toBe('Echo: alpha')

    // Another key sees neither.
    const other = new OpenAI({
      baseURL: `${gw.url}/v1`,
      apiKey: await virtualKey('anthropic-v1-b'),
      maxRetries: 0,
    })
    await expect(other.files.retrieve(file.id, asAnthropic)).rejects.toMatchObject({ status: 404 })
    await expect(other.batches.retrieve(id, asAnthropic)).rejects.toMatchObject({ status: 404 })

    expect(await openai.files.delete(file.id, asAnthropic)).toMatchObject({ id: file.id, deleted: true })
  })

  it('refuses a batch from an input file for Anthropic with a 400, as Bifrost does', async () => {
    const openai = new OpenAI({
      baseURL: `${gw.url}/v1`,
      apiKey: await virtualKey('anthropic-v1-c'),
      maxRetries: 0,
    })
    const asAnthropic = { query: { provider: 'anthropic' } }
    const input = await openai.files.create(
      { file: await toOpenAIFile(Buffer.from('{}\n'), 'in.jsonl'), purpose: 'batch' },
      asAnthropic,
    )
    const err = await openai.batches
      .create(
        { input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' },
        asAnthropic,
      )
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.BadRequestError)
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).message).toContain('inline')
  })
})
