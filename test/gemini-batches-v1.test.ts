import OpenAI, { toFile } from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startFakeGeminiBatches, type FakeGeminiBatches } from './fakes/gemini-batches.js'
import { fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

const GEMINI = { query: { provider: 'gemini' } }

/** Bifrost's inline batch requests for Gemini: OpenAI chat bodies, keyed by custom_id. */
const BATCH = {
  endpoint: '/v1/chat/completions',
  completion_window: '24h',
  model: 'gemini/gemini-2.5-flash',
  requests: [1, 2].map((n) => ({
    custom_id: `req-${n}`,
    body: { model: 'gemini-2.5-flash', messages: [{ role: 'user', content: `question ${n}` }] },
  })),
} as unknown as OpenAI.BatchCreateParams

describe('/v1/batches with provider gemini: Gemini Batch API', () => {
  let fake: FakeGeminiBatches
  let gw: RunningHeimdall
  let client: OpenAI

  beforeAll(async () => {
    fake = await startFakeGeminiBatches('g-key')
    gw = await startHeimdall({
      providers: {
        gemini: fakeProvider(fake.url, {}, [{ name: 'g', value: 'g-key', models: ['*'], weight: 1 }]),
      },
    })
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-unused', maxRetries: 0 })
  })
  afterAll(async () => {
    await gw.close()
    await fake.close()
  })

  it('creates a batch from inline chat requests, reads, lists, and answers its results as chat completions', async () => {
    const batch = await client.batches.create(BATCH)
    expect(batch.id).toMatch(/^batches\/\w+$/)
    expect(batch).toMatchObject({ object: 'batch', status: 'validating', request_counts: { total: 2 } })
    const sent = fake.server.requests.find((r) => r.method === 'POST')!
    expect(sent.path).toBe('/v1beta/models/gemini-2.5-flash:batchGenerateContent')
    expect(sent.body.batch.inputConfig.requests.requests).toEqual([
      {
        request: expect.objectContaining({ contents: [{ role: 'user', parts: [{ text: 'question 1' }] }] }),
        metadata: { key: 'req-1' },
      },
      {
        request: expect.objectContaining({ contents: [{ role: 'user', parts: [{ text: 'question 2' }] }] }),
        metadata: { key: 'req-2' },
      },
    ])

    expect((await client.batches.retrieve(batch.id, GEMINI)).status).toBe('validating')
    const list = await client.batches.list({ provider: 'gemini' } as OpenAI.BatchListParams)
    expect(list.data.map((b) => b.id)).toContain(batch.id)

    const early = await fetch(`${gw.url}/v1/batches/${encodeURIComponent(batch.id)}/results?provider=gemini`)
    expect(early.status).toBe(400)

    fake.complete(batch.id)
    const done = await client.batches.retrieve(batch.id, GEMINI)
    expect(done).toMatchObject({ status: 'completed', request_counts: { total: 2, completed: 2, failed: 0 } })
    const res = await fetch(`${gw.url}/v1/batches/${encodeURIComponent(batch.id)}/results?provider=gemini`)
    expect(res.status).toBe(200)
    const results = (await res.json()) as {
      batch_id: string
      results: { custom_id: string; response: { status_code: number; body: OpenAI.ChatCompletion } }[]
    }
    expect(results.batch_id).toBe(batch.id)
    expect(
      results.results.map((r) => [
        r.custom_id,
        r.response.status_code,
        r.response.body.choices[0].message.content,
      ]),
    ).toEqual([
      ['req-1', 200, 'Echo: question 1'],
      ['req-2', 200, 'Echo: question 2'],
    ])
  })

  it('cancels a batch; a batch naming a Gemini file goes with input_config.file_name', async () => {
    const fromFile = await client.batches.create({
      ...BATCH,
      requests: undefined,
      input_file_id: 'files/abc123',
    } as unknown as OpenAI.BatchCreateParams)
    expect(fromFile.input_file_id).toBe('files/abc123')
    const cancelled = await client.batches.cancel(fromFile.id, GEMINI)
    expect(cancelled.status).toBe('cancelled')
  })

  it('uploads, reads, lists and deletes Gemini files; a batch from one; a request without messages is a 400', async () => {
    const jsonl = '{"key":"a","request":{"contents":[{"parts":[{"text":"hi"}]}]}}\n'
    const file = await client.files.create({
      file: await toFile(Buffer.from(jsonl), 'requests.jsonl', { type: 'application/jsonl' }),
      purpose: 'batch',
      // @ts-expect-error: Bifrost's provider field, after the file part as the SDK sends it
      provider: 'gemini',
    })
    expect(file).toMatchObject({
      object: 'file',
      bytes: jsonl.length,
      filename: 'requests.jsonl',
      status: 'processed',
    })
    expect(file.id).toMatch(/^files\//)
    expect((await client.files.retrieve(file.id, GEMINI)).bytes).toBe(jsonl.length)
    const listed = await client.files.list({ provider: 'gemini' } as OpenAI.FileListParams)
    expect(listed.data.map((f) => f.id)).toContain(file.id)
    const content = await fetch(`${gw.url}/v1/files/${encodeURIComponent(file.id)}/content?provider=gemini`)
    expect(content.status).toBe(400)

    const batch = await client.batches.create({
      ...BATCH,
      requests: undefined,
      input_file_id: file.id,
    } as unknown as OpenAI.BatchCreateParams)
    expect(batch.input_file_id).toBe(file.id)

    expect(await client.files.delete(file.id, GEMINI)).toMatchObject({ id: file.id, deleted: true })
    const bad = client.batches.create({
      ...BATCH,
      requests: [{ custom_id: 'x', body: { model: 'gemini-2.5-flash' } }],
    } as unknown as OpenAI.BatchCreateParams)
    await expect(bad).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/messages/) })
  })
})
