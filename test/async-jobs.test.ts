import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startFakeOpenAIWithMedia } from './fakes/azure.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { createVirtualKey, fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

/**
 * Async inference as a user calls it (raw requests: the OpenAI SDK has no async routes): a job is
 * accepted with 202, polled until it answers 200 with the synchronous route's own answer, belongs
 * to the key that sent it, is refused when the key's budget is spent, and expires with its TTL.
 */

const MODEL = 'openai/gpt-4o-mini'
let fake: FakeServer
let gw: RunningHeimdall

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${gw.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  })
  return { status: res.status, body: (await res.json()) as any }
}

async function poll(path: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${gw.url}${path}`, { headers })
  return { status: res.status, body: (await res.json()) as any }
}

/** Polls until the job has its outcome (bounded). */
async function outcome(path: string, headers: Record<string, string> = {}) {
  return outcomeAt(gw.url, path, headers)
}

async function outcomeAt(base: string, path: string, headers: Record<string, string> = {}) {
  for (let i = 0; i < 200; i++) {
    const res = await fetch(`${base}${path}`, { headers })
    const r = { status: res.status, body: (await res.json()) as any }
    if (r.status !== 202) return r
    expect(['pending', 'processing']).toContain(r.body.status)
    await sleep(25)
  }
  throw new Error(`job ${path} never finished`)
}

const createKey = (body: Record<string, unknown> = {}) => createVirtualKey(gw.url, body)

const chatBody = (content: string) => ({ model: MODEL, messages: [{ role: 'user', content }] })

beforeAll(async () => {
  fake = await startFakeOpenAI()
  gw = await startHeimdall({
    providers: { openai: fakeProvider(fake.url) },
    client: { async_job_result_ttl: 600 } as never,
    logs_store: { enabled: true, type: 'sqlite', config: {}, flush_interval_ms: 10 } as never,
  })
})

afterAll(async () => {
  await gw?.close()
  await fake?.close()
})

describe('async inference', () => {
  it('chat: 202 with a pending job, then 200 with the chat completion, logged under the job id', async () => {
    const key = await createKey()
    const auth = { authorization: `Bearer ${key.value}` }
    fake.latencyMs = 150
    const accepted = await post('/v1/async/chat/completions', chatBody('hello async'), auth)
    fake.latencyMs = 0
    expect(accepted.status).toBe(202)
    expect(accepted.body).toMatchObject({ status: 'pending', request_type: 'chat_completion', model: MODEL })
    expect(accepted.body.id).toMatch(/^[0-9a-f-]{36}$/)
    const first = await poll(`/v1/async/chat/completions/${accepted.body.id}`, auth)
    expect(first.status).toBe(202)
    const done = await outcome(`/v1/async/chat/completions/${accepted.body.id}`, auth)
    expect(done.status).toBe(200)
    expect(done.body.status).toBe('completed')
    expect(done.body.status_code).toBe(200)
    expect(done.body.result.object).toBe('chat.completion')
    expect(done.body.result.choices[0].message.content).toEqual(expect.any(String))
    expect(Date.parse(done.body.expires_at) - Date.parse(done.body.completed_at)).toBe(600_000)
    // The provider saw the caller's request, made once.
    const calls = fake.requests.filter((r) => r.body?.messages?.[0]?.content === 'hello async')
    expect(calls).toHaveLength(1)
    let entry: any
    for (let i = 0; i < 200 && !entry; i++) {
      const logs = (await poll('/api/logs?limit=100')).body.logs as any[]
      entry = logs.find((l) => l.client_request_id === accepted.body.id)
      if (!entry) await sleep(25)
    }
    expect(entry).toMatchObject({ status: 'success', virtual_key_id: key.id })
  })

  it('embeddings: 202, then 200 with the embedding list', async () => {
    const key = await createKey()
    const auth = { 'x-bf-vk': key.value }
    const accepted = await post(
      '/v1/async/embeddings',
      { model: 'openai/text-embedding-3-small', input: ['a', 'b'] },
      auth,
    )
    expect(accepted.status).toBe(202)
    const done = await outcome(`/v1/async/embeddings/${accepted.body.id}`, auth)
    expect(done.status).toBe(200)
    expect(done.body.result.object).toBe('list')
    expect(done.body.result.data).toHaveLength(2)
    expect(done.body.result.data[0].embedding.length).toBeGreaterThan(0)
    // Polled on another route's path, the job is not found.
    expect((await poll(`/v1/async/chat/completions/${accepted.body.id}`, auth)).status).toBe(404)
  })

  it('images: 202, then 200 with the images response', async () => {
    const media = await startFakeOpenAIWithMedia()
    const node = await startHeimdall({ providers: { openai: fakeProvider(media.server.url) } })
    try {
      const res = await fetch(`${node.url}/v1/async/images/generations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'openai/dall-e-3', prompt: 'a lighthouse', n: 2 }),
      })
      expect(res.status).toBe(202)
      const job = (await res.json()) as { id: string; request_type: string }
      expect(job.request_type).toBe('image_generation')
      const done = await outcomeAt(node.url, `/v1/async/images/generations/${job.id}`)
      expect(done.status).toBe(200)
      expect(done.body.result.data).toEqual([
        expect.objectContaining({ url: 'https://images.fake/a%20lighthouse/0.png' }),
        expect.objectContaining({ url: 'https://images.fake/a%20lighthouse/1.png' }),
      ])
    } finally {
      await node.close()
      await media.close()
    }
  })

  it('audio: an upload (multipart) transcribed, and speech kept as its bytes in base64', async () => {
    const media = await startFakeOpenAIWithMedia()
    const node = await startHeimdall({ providers: { openai: fakeProvider(media.server.url) } })
    try {
      const form = new FormData()
      form.set('model', 'openai/whisper-1')
      form.set('file', new Blob([Buffer.from('RIFF-fake-audio-bytes')], { type: 'audio/wav' }), 'note.wav')
      const res = await fetch(`${node.url}/v1/async/audio/transcriptions`, { method: 'POST', body: form })
      expect(res.status).toBe(202)
      const job = (await res.json()) as { id: string; request_type: string }
      expect(job.request_type).toBe('transcription')
      const done = await outcomeAt(node.url, `/v1/async/audio/transcriptions/${job.id}`)
      expect(done.status).toBe(200)
      expect(done.body.result.text).toBe('heard 21 bytes of note.wav: RIFF-fake-audio-bytes')
      // Speech: the audio bytes, in base64, as the synchronous route sends them.
      const speech = { model: 'openai/tts-1', input: 'hello there', voice: 'alloy' }
      const spoken = await fetch(`${node.url}/v1/async/audio/speech`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(speech),
      })
      expect(spoken.status).toBe(202)
      const said = await outcomeAt(node.url, `/v1/async/audio/speech/${((await spoken.json()) as any).id}`)
      const direct = await fetch(`${node.url}/v1/audio/speech`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(speech),
      })
      const audio = Buffer.from(await direct.arrayBuffer())
      expect(audio.length).toBeGreaterThan(0)
      expect(Buffer.from(said.body.result.audio, 'base64').equals(audio)).toBe(true)
      const sse = await fetch(`${node.url}/v1/async/audio/speech`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...speech, stream_format: 'sse' }),
      })
      expect(sse.status).toBe(400)
      expect(((await sse.json()) as any).error.param).toBe('stream_format')
      // A form without a model, and a JSON body where an upload is due, are refused at once.
      const noModel = new FormData()
      noModel.set('file', new Blob([Buffer.from('x')]), 'x.wav')
      const missing = await fetch(`${node.url}/v1/async/audio/transcriptions`, {
        method: 'POST',
        body: noModel,
      })
      expect(missing.status).toBe(400)
      expect(((await missing.json()) as any).error.param).toBe('model')
      const json = await fetch(`${node.url}/v1/async/images/edits`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'openai/gpt-image-1', prompt: 'x' }),
      })
      expect(json.status).toBe(415)
    } finally {
      await node.close()
      await media.close()
    }
  })

  it("another key's job, and a job polled without a key, read as not found", async () => {
    const owner = await createKey()
    const other = await createKey()
    const accepted = await post('/v1/async/chat/completions', chatBody('mine'), { 'x-bf-vk': owner.value })
    expect(accepted.status).toBe(202)
    const path = `/v1/async/chat/completions/${accepted.body.id}`
    await outcome(path, { 'x-bf-vk': owner.value })
    const stranger = await poll(path, { 'x-bf-vk': other.value })
    expect(stranger.status).toBe(404)
    expect(stranger.body).toMatchObject({ is_bifrost_error: true, error: { type: 'not_found_error' } })
    expect((await poll(path)).status).toBe(404)
    expect((await poll(`/v1/async/chat/completions/no-such-job`, { 'x-bf-vk': owner.value })).status).toBe(
      404,
    )
  })

  it('a job whose provider call fails answers 200 with the error in Bifrost shape', async () => {
    const key = await createKey()
    fake.fail({
      kind: 'status',
      status: 400,
      body: JSON.stringify({ error: { message: 'bad thing', type: 'invalid_request_error' } }),
    })
    const accepted = await post('/v1/async/chat/completions', chatBody('will fail'), { 'x-bf-vk': key.value })
    const done = await outcome(`/v1/async/chat/completions/${accepted.body.id}`, { 'x-bf-vk': key.value })
    expect(done.status).toBe(200)
    expect(done.body.status).toBe('failed')
    expect(done.body.status_code).toBe(400)
    expect(done.body.error).toMatchObject({
      is_bifrost_error: expect.any(Boolean),
      error: { message: expect.stringContaining('bad thing') },
    })
    expect(done.body.result).toBeUndefined()
  })

  it('the result expires after x-bf-async-job-result-ttl seconds', async () => {
    const key = await createKey()
    const auth = { 'x-bf-vk': key.value, 'x-bf-async-job-result-ttl': '1' }
    const accepted = await post('/v1/async/chat/completions', chatBody('short-lived'), auth)
    const path = `/v1/async/chat/completions/${accepted.body.id}`
    const done = await outcome(path, { 'x-bf-vk': key.value })
    expect(done.status).toBe(200)
    expect(Date.parse(done.body.expires_at) - Date.parse(done.body.completed_at)).toBe(1000)
    await sleep(Date.parse(done.body.expires_at) - Date.now() + 50)
    expect((await poll(path, { 'x-bf-vk': key.value })).status).toBe(404)
  })

  it('a spent budget refuses the job at submission with 402, and nothing reaches the provider', async () => {
    const key = await createKey({ budgets: [{ max_limit: 0.000001, reset_duration: '1d' }] })
    const auth = { 'x-bf-vk': key.value }
    const first = await post('/v1/async/chat/completions', chatBody('spend it'), auth)
    expect(first.status).toBe(202)
    expect((await outcome(`/v1/async/chat/completions/${first.body.id}`, auth)).body.status).toBe('completed')
    const before = fake.requests.length
    const refused = await post('/v1/async/chat/completions', chatBody('over budget'), auth)
    expect(refused.status).toBe(402)
    expect(refused.body).toMatchObject({ is_bifrost_error: true, error: { type: 'budget_exceeded' } })
    expect(refused.body.error.message).toContain('budget exceeded')
    await sleep(100)
    expect(fake.requests.length).toBe(before)
  })

  it('refuses streaming, a missing model and an unknown key with clear 4xx', async () => {
    const stream = await post('/v1/async/chat/completions', { ...chatBody('x'), stream: true })
    expect(stream.status).toBe(400)
    expect(stream.body.error.message).toMatch(/stream is not supported/)
    const noModel = await post('/v1/async/embeddings', { input: 'x' })
    expect(noModel.status).toBe(400)
    expect(noModel.body.error.param).toBe('model')
    const notJson = await post('/v1/async/chat/completions', [1, 2])
    expect(notJson.status).toBe(400)
    const longTtl = await post('/v1/async/chat/completions', chatBody('x'), {
      'x-bf-async-job-result-ttl': '99999999999999',
    })
    expect(longTtl.status).toBe(400)
    expect(longTtl.body.error.param).toBe('x-bf-async-job-result-ttl')
    const unknown = await post('/v1/async/chat/completions', chatBody('x'), { 'x-bf-vk': 'sk-bf-nope' })
    expect(unknown.status).toBe(401)
    expect(unknown.body.error.type).toBe('virtual_key_not_found')
  })

  it('shutdown lets the running job finish and leaves the waiting one queued for the next start', async () => {
    const appDir = await mkdtemp(join(tmpdir(), 'heimdall-async-shutdown-'))
    const config = {
      providers: { openai: fakeProvider(fake.url) },
      async_jobs: { concurrency: 1 },
      client: { shutdown_timeout_seconds: 5 },
    } as never
    let node = await startHeimdall(config, { appDir })
    try {
      const submitTo = async (content: string) => {
        const res = await fetch(`${node.url}/v1/async/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(chatBody(content)),
        })
        expect(res.status).toBe(202)
        return ((await res.json()) as { id: string }).id
      }
      fake.latencyMs = 400
      const running = await submitTo('running at shutdown')
      const waiting = await submitTo('waiting at shutdown')
      const state = async (id: string) =>
        ((await (await fetch(`${node.url}/v1/async/chat/completions/${id}`)).json()) as any).status
      for (let i = 0; i < 100 && (await state(running)) !== 'processing'; i++) await sleep(10)
      expect(await state(running)).toBe('processing')
      expect(await state(waiting)).toBe('pending')
      await node.close()
      fake.latencyMs = 0
      expect(
        fake.requests.filter((r) => r.body?.messages?.[0]?.content === 'waiting at shutdown'),
      ).toHaveLength(0)
      node = await startHeimdall(config, { appDir })
      const ran = await outcomeAt(node.url, `/v1/async/chat/completions/${running}`)
      expect(ran.body.status).toBe('completed')
      const resumed = await outcomeAt(node.url, `/v1/async/chat/completions/${waiting}`)
      expect(resumed.body.status).toBe('completed')
      // Each ran once: the running one before the shutdown ended, the waiting one after the restart.
      for (const content of ['running at shutdown', 'waiting at shutdown'])
        expect(fake.requests.filter((r) => r.body?.messages?.[0]?.content === content)).toHaveLength(1)
    } finally {
      fake.latencyMs = 0
      await node.close()
      await rm(appDir, { recursive: true, force: true })
    }
  })
})
