import OpenAI, { toFile } from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startFakeOpenAIFiles, type FakeOpenAIFiles } from './fakes/openai-files.js'
import { fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

const LINE = JSON.stringify({
  custom_id: 'req-1',
  method: 'POST',
  url: '/v1/chat/completions',
  body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] },
})

const uploadsTo = (fake: FakeOpenAIFiles) =>
  fake.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/files')).length

/** The OpenAI SDK writes the file part first: a `provider` field it carries comes after the file. */
describe('POST /v1/files: a provider field after the file part', () => {
  let openai: FakeOpenAIFiles
  let groq: FakeOpenAIFiles
  let gw: RunningHeimdall
  let client: OpenAI

  beforeAll(async () => {
    openai = await startFakeOpenAIFiles('sk-test')
    groq = await startFakeOpenAIFiles('sk-groq')
    gw = await startHeimdall({
      client: { max_request_body_size_mb: 8 },
      providers: {
        openai: fakeProvider(openai.url),
        groq: fakeProvider(groq.url, {}, [{ name: 'g', value: 'sk-groq', models: ['*'], weight: 1 }]),
      },
    })
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-unused', maxRetries: 0 })
  })
  afterAll(async () => {
    await gw.close()
    await openai.close()
    await groq.close()
  })

  it('goes to the provider it names, small (held in memory) and large (spooled to a temporary file)', async () => {
    const small = LINE + '\n'
    const large = (LINE + '\n').repeat(Math.ceil((5 * 1024 * 1024) / (LINE.length + 1)))
    for (const content of [small, large]) {
      const before = { openai: uploadsTo(openai), groq: uploadsTo(groq) }
      const created = await client.files.create({
        file: await toFile(Buffer.from(content), 'requests.jsonl'),
        purpose: 'batch',
        // @ts-expect-error: Bifrost's provider field, which OpenAI's SDK does not type
        provider: 'groq',
      })
      expect(created.bytes).toBe(Buffer.byteLength(content))
      expect(uploadsTo(groq)).toBe(before.groq + 1)
      expect(uploadsTo(openai)).toBe(before.openai)
      const fetched = await client.files.retrieve(created.id, { query: { provider: 'groq' } })
      expect(fetched.bytes).toBe(Buffer.byteLength(content))
    }
  })

  it('without a provider field the upload still goes to OpenAI, and an unknown provider after the file is a 400', async () => {
    const before = uploadsTo(openai)
    const created = await client.files.create({
      file: await toFile(Buffer.from(LINE + '\n'), 'requests.jsonl'),
      purpose: 'batch',
    })
    expect(created.purpose).toBe('batch')
    expect(uploadsTo(openai)).toBe(before + 1)
    const refused = client.files.create({
      file: await toFile(Buffer.from(LINE + '\n'), 'requests.jsonl'),
      purpose: 'batch',
      // @ts-expect-error: as above
      provider: 'no-such-provider',
    })
    await expect(refused).rejects.toMatchObject({ status: 400 })
  })
})
