import OpenAI, { toFile } from 'openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startFakeOpenAIFiles, type FakeOpenAIFiles } from './fakes/openai-files.js'
import { fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

/** Two chat requests in OpenAI's batch input format. */
const BATCH_JSONL =
  [1, 2]
    .map((n) =>
      JSON.stringify({
        custom_id: `req-${n}`,
        method: 'POST',
        url: '/v1/chat/completions',
        body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `question ${n}` }] },
      }),
    )
    .join('\n') + '\n'

/** A multipart body built by hand, so a test can leave fields out or send it in any order. */
function form(fields: Record<string, string>, file?: { name: string; content: string }): FormData {
  const f = new FormData()
  for (const [k, v] of Object.entries(fields)) f.append(k, v)
  if (file) f.append('file', new Blob([file.content], { type: 'application/jsonl' }), file.name)
  return f
}

async function errorBody(res: Response): Promise<any> {
  expect(res.headers.get('content-type')).toContain('application/json')
  return res.json()
}

describe('Files and Batches APIs through the gateway, with the official OpenAI SDK', () => {
  let openai: FakeOpenAIFiles
  let groq: FakeOpenAIFiles
  let azure: FakeOpenAIFiles
  let gw: RunningHeimdall
  let client: OpenAI

  beforeAll(async () => {
    openai = await startFakeOpenAIFiles('sk-test')
    groq = await startFakeOpenAIFiles('sk-groq')
    azure = await startFakeOpenAIFiles('azure-secret')
    gw = await startHeimdall({
      client: { max_request_body_size_mb: 2 },
      providers: {
        openai: fakeProvider(openai.url, { network_config: { max_retries: 2 } }),
        // A key that lists its models still serves files and batches, which name none.
        groq: fakeProvider(groq.url, {}, [
          { name: 'g', value: 'sk-groq', models: ['llama-3.3-70b'], weight: 1 },
        ]),
        azure: {
          keys: [
            {
              name: 'az',
              value: 'azure-secret',
              models: ['*'],
              weight: 1,
              azure_key_config: { endpoint: azure.url, deployments: {}, api_version: '2025-03-01-preview' },
            },
          ],
        },
        anthropic: fakeProvider('http://127.0.0.1:9'),
        cohere: fakeProvider('http://127.0.0.1:9'),
      },
    })
    client = new OpenAI({ baseURL: `${gw.url}/openai/v1`, apiKey: 'sk-caller', maxRetries: 0 })
  })
  afterAll(async () => {
    await gw.close()
    await Promise.all([openai.close(), groq.close(), azure.close()])
  })
  beforeEach(() => {
    for (const f of [openai, groq, azure]) f.reset()
  })

  it('uploads, lists, retrieves, downloads and deletes a file on OpenAI with the provider key', async () => {
    const created = await client.files.create({
      file: await toFile(Buffer.from(BATCH_JSONL), 'requests.jsonl'),
      purpose: 'batch',
    })
    expect(created).toMatchObject({
      object: 'file',
      purpose: 'batch',
      filename: 'requests.jsonl',
      bytes: Buffer.byteLength(BATCH_JSONL),
    })
    expect(created.id).toMatch(/^file-/)
    // The upstream got the multipart body intact, with our key and not the caller's.
    expect(openai.files.get(created.id)?.content).toBe(BATCH_JSONL)
    expect(openai.requests[0].headers.authorization).toBe('Bearer sk-test')
    expect(openai.requests[0].headers['content-type']).toMatch(/^multipart\/form-data; boundary=/)

    const other = await client.files.create({
      file: await toFile(Buffer.from('{"a":1}\n'), 'notes.jsonl'),
      purpose: 'user_data',
    })
    const batchOnly = await client.files.list({ purpose: 'batch' })
    expect(batchOnly.data.map((f) => f.id)).toEqual([created.id])
    const all = await client.files.list()
    expect(all.data.map((f) => f.id).sort()).toEqual([created.id, other.id].sort())

    const { data: got, response } = await client.files.retrieve(created.id).withResponse()
    expect(got).toEqual(created)
    expect(response.headers.get('x-bifrost-provider')).toBe('openai')

    const content = await client.files.content(created.id)
    expect(await content.text()).toBe(BATCH_JSONL)

    expect(await client.files.delete(created.id)).toEqual({ id: created.id, object: 'file', deleted: true })
    const gone = await client.files.retrieve(created.id).catch((e: unknown) => e)
    expect(gone).toBeInstanceOf(OpenAI.NotFoundError)
    expect((gone as InstanceType<typeof OpenAI.NotFoundError>).message).toContain('No such File object')
    for (const r of openai.requests) expect(r.headers.authorization).toBe('Bearer sk-test')
  })

  it('creates, retrieves, lists and cancels a batch from an uploaded file', async () => {
    const input = await client.files.create({
      file: await toFile(Buffer.from(BATCH_JSONL), 'batch.jsonl'),
      purpose: 'batch',
    })
    const batch = await client.batches.create({
      input_file_id: input.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
      metadata: { job: 'nightly' },
    })
    expect(batch).toMatchObject({
      object: 'batch',
      status: 'validating',
      input_file_id: input.id,
      endpoint: '/v1/chat/completions',
      metadata: { job: 'nightly' },
      request_counts: { total: 2, completed: 0, failed: 0 },
    })
    expect(await client.batches.retrieve(batch.id)).toEqual(batch)
    const listed = await client.batches.list({ limit: 5 })
    expect(listed.data.map((b) => b.id)).toContain(batch.id)
    const cancelled = await client.batches.cancel(batch.id)
    expect(cancelled.status).toBe('cancelling')
    expect(cancelled.cancelling_at).toEqual(expect.any(Number))
    // Cancelling twice is the provider's 409, passed on.
    const again = await client.batches.cancel(batch.id).catch((e: unknown) => e)
    expect(again).toBeInstanceOf(OpenAI.ConflictError)
  })

  it('reads a finished batch’s results from its output and error files', async () => {
    const lines = ['ok-1', 'will-fail', 'ok-2'].map((id) =>
      JSON.stringify({
        custom_id: id,
        method: 'POST',
        url: '/v1/chat/completions',
        body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: id }] },
      }),
    )
    const input = await client.files.create({
      file: await toFile(Buffer.from(lines.join('\n')), 'r.jsonl'),
      purpose: 'batch',
    })
    const batch = await client.batches.create({
      input_file_id: input.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    })
    const early = await fetch(`${gw.url}/v1/batches/${batch.id}/results`)
    expect(early.status).toBe(400)
    expect((await errorBody(early)).error.message).toContain('has no results yet (status validating)')

    openai.complete(batch.id)
    const done = await client.batches.retrieve(batch.id)
    expect(done.status).toBe('completed')
    const output = await client.files.content(done.output_file_id!)
    expect((await output.text()).split('\n').filter(Boolean)).toHaveLength(2)

    const res = await fetch(`${gw.url}/v1/batches/${batch.id}/results`)
    expect(res.status).toBe(200)
    const body = (await res.json()) as { batch_id: string; results: any[]; extra_fields: unknown }
    expect(body.batch_id).toBe(batch.id)
    expect(body.extra_fields).toEqual({ request_type: 'batch_results', provider: 'openai' })
    expect(body.results.map((r) => r.custom_id)).toEqual(['ok-1', 'ok-2', 'will-fail'])
    expect(body.results[0].response).toMatchObject({ status_code: 200, request_id: 'req_0' })
    expect(body.results[0].response.body.choices[0].message.content).toBe('answer ok-1')
    expect(body.results[2].error).toEqual({ code: 'invalid_request', message: 'could not serve will-fail' })
  })

  it('sends a batch with an unknown input file back as the provider 400, in the error shape', async () => {
    const res = await fetch(`${gw.url}/v1/batches`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        input_file_id: 'file-missing',
        endpoint: '/v1/chat/completions',
        completion_window: '24h',
      }),
    })
    expect(res.status).toBe(400)
    const body = await errorBody(res)
    expect(body).toMatchObject({
      is_bifrost_error: false,
      status_code: 400,
      error: { message: 'File file-missing not found', param: 'input_file_id' },
      extra_fields: { provider: 'openai', request_type: 'batch_create' },
    })
  })

  it('picks the provider from x-model-provider, the provider query parameter or the model prefix', async () => {
    const viaHeader = new OpenAI({
      baseURL: `${gw.url}/v1`,
      apiKey: 'sk-caller',
      maxRetries: 0,
      defaultHeaders: { 'x-model-provider': 'groq' },
    })
    const file = await viaHeader.files.create({
      file: await toFile(Buffer.from(BATCH_JSONL), 'g.jsonl'),
      purpose: 'batch',
    })
    expect(groq.files.has(file.id)).toBe(true)
    expect(openai.files.has(file.id)).toBe(false)
    expect(groq.requests[0].headers.authorization).toBe('Bearer sk-groq')

    const listed = (await fetch(`${gw.url}/v1/files?provider=groq`).then((r) => r.json())) as {
      data: { id: string }[]
    }
    expect(listed.data.map((f) => f.id)).toEqual([file.id])

    const res = await fetch(`${gw.url}/v1/batches`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'groq/llama-3.1-8b-instant',
        input_file_id: file.id,
        endpoint: '/v1/chat/completions',
        completion_window: '24h',
      }),
    })
    expect(res.status).toBe(200)
    const batch = (await res.json()) as { id: string }
    expect(groq.batches.has(batch.id)).toBe(true)
    // Bifrost's own fields stay here: OpenAI would refuse them.
    expect(groq.requests.at(-1)?.body).toEqual({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    })
  })

  it('reaches Azure OpenAI files under {endpoint}/openai/files with api-version and the api-key header', async () => {
    const az = new OpenAI({
      baseURL: `${gw.url}/v1`,
      apiKey: 'sk-caller',
      maxRetries: 0,
      defaultHeaders: { 'x-model-provider': 'azure' },
    })
    const file = await az.files.create({
      file: await toFile(Buffer.from('x\n'), 'a.jsonl'),
      purpose: 'batch',
    })
    expect(azure.files.has(file.id)).toBe(true)
    const list = await az.files.list()
    expect(list.data.map((f) => f.id)).toEqual([file.id])
    for (const r of azure.requests) {
      expect(r.path).toMatch(/^\/openai\/files\?api-version=2025-03-01-preview/)
      expect(r.headers['api-key']).toBe('azure-secret')
      expect(r.headers.authorization).toBeUndefined()
    }
  })

  it('streams a large upload and its download through unchanged', async () => {
    // About 1.5 MB of distinct lines: under the 2 MB limit, far over any single chunk.
    const big = Array.from({ length: 20_000 }, (_, i) => `{"line":${i},"pad":"${'x'.repeat(56)}"}`).join('\n')
    const file = await client.files.create({
      file: await toFile(Buffer.from(big), 'big.jsonl'),
      purpose: 'batch',
    })
    expect(file.bytes).toBe(Buffer.byteLength(big))
    const res = await client.files.content(file.id)
    expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(big)))
    expect(await res.text()).toBe(big)
  })

  it('refuses an upload over the body limit with a 413 in the error shape', async () => {
    const tooBig = 'y'.repeat(3 * 1024 * 1024)
    const declared = await fetch(`${gw.url}/v1/files`, {
      method: 'POST',
      body: form({ purpose: 'batch' }, { name: 'too-big.jsonl', content: tooBig }),
    })
    expect(declared.status).toBe(413)
    expect(await errorBody(declared)).toMatchObject({
      is_bifrost_error: true,
      status_code: 413,
      error: { code: 'body_too_large' },
    })

    // Sent in chunks with no content-length: counted as it streams, cut once over the limit.
    const encoded = new Response(form({ purpose: 'batch' }, { name: 'too-big.jsonl', content: tooBig }))
    const contentType = encoded.headers.get('content-type')!
    const chunked = await fetch(`${gw.url}/v1/files`, {
      method: 'POST',
      headers: { 'content-type': contentType },
      body: encoded.body,
      duplex: 'half',
    } as RequestInit)
    expect(chunked.status).toBe(413)
    expect((await errorBody(chunked)).error.code).toBe('body_too_large')
    expect([...openai.files.values()].some((f) => f.object.filename === 'too-big.jsonl')).toBe(false)
  })

  it('answers bad requests with a 4xx in the error shape and never calls the provider', async () => {
    const noFile = await fetch(`${gw.url}/v1/files`, { method: 'POST', body: form({ purpose: 'batch' }) })
    expect(noFile.status).toBe(400)
    expect(await errorBody(noFile)).toMatchObject({
      is_bifrost_error: true,
      status_code: 400,
      error: {
        type: 'invalid_request_error',
        param: 'file',
        message: expect.stringContaining('file is required'),
      },
    })

    const notMultipart = await fetch(`${gw.url}/v1/files`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ purpose: 'batch' }),
    })
    expect(notMultipart.status).toBe(415)
    expect((await errorBody(notMultipart)).error.message).toContain('multipart/form-data')

    const unknown = await fetch(`${gw.url}/v1/files`, { headers: { 'x-model-provider': 'nope' } })
    expect(unknown.status).toBe(400)
    expect(await errorBody(unknown)).toMatchObject({
      error: { code: 'unknown_provider', param: 'provider', message: 'unknown provider "nope"' },
    })

    const notConfigured = await fetch(`${gw.url}/v1/batches?provider=mistral`)
    expect(notConfigured.status).toBe(400)
    expect((await errorBody(notConfigured)).error.code).toBe('provider_not_configured')

    // Anthropic's files are its own API's (anthropic-batches-files.test.ts); Cohere has none.
    const noFilesApi = await fetch(`${gw.url}/v1/files?provider=cohere`)
    expect(noFilesApi.status).toBe(400)
    expect((await errorBody(noFilesApi)).error.code).toBe('unsupported_operation')

    const badBatch = await fetch(`${gw.url}/v1/batches`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ endpoint: '/v1/chat/completions', completion_window: '24h' }),
    })
    expect(badBatch.status).toBe(400)
    expect((await errorBody(badBatch)).error.param).toBe('input_file_id')

    expect(openai.requests).toHaveLength(0)
  })

  it('passes a missing purpose sent after the file to the provider, whose 400 comes back', async () => {
    const f = new FormData()
    f.append('file', new Blob(['{}\n']), 'p.jsonl')
    const res = await fetch(`${gw.url}/v1/files`, { method: 'POST', body: f })
    expect(res.status).toBe(400)
    expect(await errorBody(res)).toMatchObject({
      is_bifrost_error: false,
      error: { message: "'purpose' is a required property", param: 'purpose' },
    })
  })

  it('retries a list on a provider 503 like any request', async () => {
    openai.fail(503)
    const res = await fetch(`${gw.url}/openai/files`)
    expect(res.status).toBe(200)
    expect(((await res.json()) as { object: string }).object).toBe('list')
    expect(openai.requests).toHaveLength(2)
  })
})

describe('Files API under governance', () => {
  it('requires a virtual key when governance does, and serves the call with one', async () => {
    const fake = await startFakeOpenAIFiles('sk-test')
    const gw = await startHeimdall({
      client: { enforce_auth_on_inference: true },
      providers: { openai: fakeProvider(fake.url) },
    })
    try {
      const refused = await fetch(`${gw.url}/v1/files`)
      expect(refused.status).toBe(401)
      expect(await refused.json()).toMatchObject({ type: 'virtual_key_required', status_code: 401 })
      expect(fake.requests).toHaveLength(0)

      const created = await fetch(`${gw.url}/api/governance/virtual-keys`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          name: 'files-vk',
          provider_configs: [{ provider: 'openai', allowed_models: ['*'], key_ids: ['*'] }],
        }),
      })
      expect(created.status).toBe(200)
      const { virtual_key: vk } = (await created.json()) as { virtual_key: { value: string } }
      const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: vk.value, maxRetries: 0 })
      const file = await client.files.create({
        file: await toFile(Buffer.from('{}\n'), 'v.jsonl'),
        purpose: 'batch',
      })
      expect(fake.files.has(file.id)).toBe(true)
      expect(fake.requests[0].headers.authorization).toBe('Bearer sk-test')
    } finally {
      await gw.close()
      await fake.close()
    }
  })
})
