import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startFakeOpenAIFiles, type FakeOpenAIFiles } from './fakes/openai-files.js'
import { fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

/** Bifrost's inline batch requests, as its clients send them to POST /v1/batches. */
const REQUESTS = [1, 2].map((n) => ({
  custom_id: `req-${n}`,
  body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `question ${n}` }] },
}))

describe('POST /v1/batches with inline requests (OpenAI-format providers)', () => {
  let openai: FakeOpenAIFiles
  let gw: RunningHeimdall

  beforeAll(async () => {
    openai = await startFakeOpenAIFiles('sk-test')
    gw = await startHeimdall({ providers: { openai: fakeProvider(openai.url) } })
  })
  afterAll(async () => {
    await gw.close()
    await openai.close()
  })

  for (const prefix of ['/v1', '/openai/v1']) {
    it(`${prefix}: the requests become an uploaded JSONL batch file, then the batch`, async () => {
      const client = new OpenAI({ baseURL: `${gw.url}${prefix}`, apiKey: 'sk-unused', maxRetries: 0 })
      const batch = await client.batches.create({
        endpoint: '/v1/chat/completions',
        // @ts-expect-error: Bifrost's inline requests, which OpenAI's SDK does not type
        requests: REQUESTS,
      })
      expect(batch.status).toBe('validating')
      expect(batch.request_counts?.total).toBe(2)
      expect(batch.completion_window).toBe('24h')
      // The caller reads the uploaded input file like any of its own.
      const file = await client.files.retrieve(batch.input_file_id)
      expect(file.purpose).toBe('batch')
      const lines = (await (await client.files.content(batch.input_file_id)).text())
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>)
      expect(lines).toEqual(
        REQUESTS.map((r) => ({
          custom_id: r.custom_id,
          method: 'POST',
          url: '/v1/chat/completions',
          body: r.body,
        })),
      )
    })
  }

  it('refuses requests without a body, or with an input file too, with a 400 before anything is uploaded', async () => {
    const uploads = openai.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/files')).length
    for (const body of [
      { endpoint: '/v1/chat/completions', requests: [{ custom_id: 'a' }] },
      { endpoint: '/v1/chat/completions', input_file_id: 'file-x', requests: REQUESTS },
    ]) {
      const res = await fetch(`${gw.url}/v1/batches`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
      expect(res.status).toBe(400)
      const err = (await res.json()) as { error: { message: string } }
      expect(err.error.message).toMatch(/requests\[0\]\.body is required|either input_file_id or requests/)
    }
    expect(openai.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/files')).length).toBe(
      uploads,
    )
  })
})
