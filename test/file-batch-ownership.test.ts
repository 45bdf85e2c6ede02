import OpenAI, { toFile } from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ConfigFile } from '../src/core/schemas/index.js'
import { startFakeOpenAIFiles, type FakeOpenAIFiles } from './fakes/openai-files.js'
import { postgresBackend } from './helpers/databases.js'
import { adminVirtualKey, fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

const ADMIN = `Basic ${Buffer.from('admin:owner-test-password').toString('base64')}`

/** OpenAI's batch input: `n` chat requests. */
function batchInput(n = 2): string {
  return (
    Array.from({ length: n }, (_, i) =>
      JSON.stringify({
        custom_id: `req-${i}`,
        method: 'POST',
        url: '/v1/chat/completions',
        body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `question ${i}` }] },
      }),
    ).join('\n') + '\n'
  )
}

/** The SDK's error for a call, or a failure when the call succeeded. */
async function refusal(call: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  const outcome = await call.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(outcome).toBeInstanceOf(OpenAI.APIError)
  return outcome as InstanceType<typeof OpenAI.APIError>
}

/** The config stores to run on: SQLite in the server's app dir, and a PostgreSQL schema of its own. */
const pg = postgresBackend('file-owners')
const STORES = [
  { kind: 'sqlite', section: async () => ({ enabled: true, type: 'sqlite', config: {} }) },
  {
    kind: 'postgres',
    section: async () => ({
      enabled: true,
      type: 'postgres',
      config: { connection_string: await pg.freshUrl() },
    }),
  },
]

afterAll(() => pg.teardown())

describe.each(STORES)(
  'files and batches belong to the virtual key that created them ($kind store)',
  (backend) => {
    let fake: FakeOpenAIFiles
    let gw: RunningHeimdall
    let keyA: OpenAI
    let keyB: OpenAI
    let keyless: OpenAI
    let admin: OpenAI

    const virtualKey = (name: string) => adminVirtualKey(gw.url, name, 'openai', ADMIN)

    const upload = async (client: OpenAI, name: string, content = batchInput()) =>
      client.files.create({ file: await toFile(Buffer.from(content), name), purpose: 'batch' })
    const batchFrom = (client: OpenAI, fileId: string) =>
      client.batches.create({
        input_file_id: fileId,
        endpoint: '/v1/chat/completions',
        completion_window: '24h',
      })
    /** Every id a client lists, all pages read. */
    async function listedFiles(client: OpenAI): Promise<string[]> {
      const ids: string[] = []
      for await (const f of client.files.list()) ids.push(f.id)
      return ids
    }
    async function listedBatches(client: OpenAI, limit?: number): Promise<string[]> {
      const ids: string[] = []
      for await (const b of client.batches.list(limit === undefined ? {} : { limit })) ids.push(b.id)
      return ids
    }
    /** The provider requests that named `id`, made after `from`. */
    const reached = (id: string, from: number) => fake.requests.slice(from).filter((r) => r.path.includes(id))

    beforeAll(async () => {
      fake = await startFakeOpenAIFiles('sk-test')
      gw = await startHeimdall({
        auth_config: { is_enabled: true, admin_username: 'admin', admin_password: 'owner-test-password' },
        config_store: (await backend.section()) as ConfigFile['config_store'],
        providers: { openai: fakeProvider(fake.url) },
      } as ConfigFile)
      // Key A through OpenAI's drop-in route, key B and the rest through Bifrost's /v1.
      keyA = new OpenAI({
        baseURL: `${gw.url}/openai/v1`,
        apiKey: await virtualKey('owner-a'),
        maxRetries: 0,
      })
      keyB = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: await virtualKey('owner-b'), maxRetries: 0 })
      keyless = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-no-virtual-key', maxRetries: 0 })
      admin = new OpenAI({
        baseURL: `${gw.url}/v1`,
        apiKey: 'unused',
        maxRetries: 0,
        defaultHeaders: { authorization: ADMIN },
      })
    })
    afterAll(async () => {
      await gw?.close()
      await fake?.close()
    })

    it('another key can neither list, read, download, delete or cancel them, nor batch from the file', async () => {
      const file = await upload(keyA, 'a.jsonl')
      const batch = await batchFrom(keyA, file.id)
      const own = await upload(keyB, 'b.jsonl')
      const from = fake.requests.length

      expect(await listedFiles(keyB)).toEqual([own.id])
      expect(await listedBatches(keyB)).toEqual([])

      for (const call of [
        () => keyB.files.retrieve(file.id),
        () => keyB.files.content(file.id),
        () => keyB.files.delete(file.id),
        () => batchFrom(keyB, file.id),
      ]) {
        const e = await refusal(call())
        expect(e.status).toBe(404)
        expect(e.message).toContain(`No such File object: ${file.id}`)
      }
      for (const call of [() => keyB.batches.retrieve(batch.id), () => keyB.batches.cancel(batch.id)]) {
        const e = await refusal(call())
        expect(e.status).toBe(404)
        expect(e.message).toContain(`No batch found with id '${batch.id}'`)
      }
      // Refused here: the provider never saw B ask for A's objects, and they are intact.
      expect(reached(file.id, from)).toEqual([])
      expect(reached(batch.id, from)).toEqual([])
      expect(fake.files.has(file.id)).toBe(true)
      expect(fake.batches.get(batch.id)?.status).toBe('validating')
      expect(fake.batches.size).toBe(1)

      // The 404 is the gateway's error body, as for any missing object.
      const raw = await fetch(`${gw.url}/v1/files/${file.id}`, {
        headers: { authorization: `Bearer ${keyB.apiKey}` },
      })
      expect(raw.status).toBe(404)
      expect(await raw.json()).toMatchObject({
        status_code: 404,
        error: { type: 'invalid_request_error', message: `No such File object: ${file.id}` },
        extra_fields: { provider: 'openai', request_type: 'file_retrieve' },
      })

      // A does all of it.
      expect(await listedFiles(keyA)).toEqual([file.id])
      expect(await listedBatches(keyA)).toEqual([batch.id])
      expect((await keyA.files.retrieve(file.id)).id).toBe(file.id)
      expect(await (await keyA.files.content(file.id)).text()).toBe(batchInput())
      expect((await keyA.batches.retrieve(batch.id)).id).toBe(batch.id)
      expect((await keyA.batches.cancel(batch.id)).status).toBe('cancelling')
      expect((await batchFrom(keyA, file.id)).input_file_id).toBe(file.id)
      expect(await keyA.files.delete(file.id)).toEqual({ id: file.id, object: 'file', deleted: true })
      expect(await refusal(keyA.files.retrieve(file.id))).toBeInstanceOf(OpenAI.NotFoundError)
    })

    it("a batch's output files are its key's: downloads and results are refused to others", async () => {
      const input = await upload(keyA, 'out.jsonl', batchInput(3))
      const batch = await batchFrom(keyA, input.id)
      fake.complete(batch.id)
      const outputId = fake.batches.get(batch.id)?.output_file_id as string
      // Not yet seen through the gateway: hidden from callers without a virtual key too.
      expect(await listedFiles(keyless)).not.toContain(outputId)
      expect((await refusal(keyless.files.content(outputId))).status).toBe(404)

      const done = await keyA.batches.retrieve(batch.id)
      expect(done.output_file_id).toBe(outputId)
      expect((await (await keyA.files.content(outputId)).text()).trim().split('\n')).toHaveLength(3)
      expect(await listedFiles(keyA)).toContain(outputId)

      for (const client of [keyB, keyless]) {
        expect(await listedFiles(client)).not.toContain(outputId)
        expect((await refusal(client.files.content(outputId))).status).toBe(404)
        expect((await refusal(client.files.retrieve(outputId))).status).toBe(404)
      }
      const results = (client: OpenAI) =>
        fetch(`${gw.url}/v1/batches/${batch.id}/results`, {
          headers: { authorization: `Bearer ${client.apiKey}` },
        })
      expect((await results(keyB)).status).toBe(404)
      const mine = await results(keyA)
      expect(mine.status).toBe(200)
      expect(((await mine.json()) as { results: unknown[] }).results).toHaveLength(3)
    })

    it('a list pages through the caller’s own batches only, with after, limit and has_more', async () => {
      const fileA = await upload(keyA, 'pa.jsonl')
      const fileB = await upload(keyB, 'pb.jsonl')
      const before = new Set(await listedBatches(keyA))
      const mine: string[] = []
      for (let i = 0; i < 3; i++) {
        mine.unshift((await batchFrom(keyA, fileA.id)).id)
        await batchFrom(keyB, fileB.id)
        await batchFrom(keyB, fileB.id)
      }
      const first = await keyA.batches.list({ limit: 2 })
      expect(first.data.map((b) => b.id)).toEqual(mine.slice(0, 2))
      expect(first.has_more).toBe(true)
      const second = await keyA.batches.list({ limit: 2, after: mine[1] })
      expect(second.data.map((b) => b.id).filter((id) => !before.has(id))).toEqual([mine[2]])
      // Every page read by the SDK: A's batches, newest first, none of B's.
      expect((await listedBatches(keyA, 2)).filter((id) => !before.has(id))).toEqual(mine)
      expect(await listedBatches(keyB)).toHaveLength(6)

      const bad = await fetch(`${gw.url}/v1/batches?limit=0`, {
        headers: { authorization: `Bearer ${keyA.apiKey}` },
      })
      expect(bad.status).toBe(400)
      expect(await bad.json()).toMatchObject({ status_code: 400, error: { param: 'limit' } })
    })

    it('a caller without a virtual key sees only what was made without one; the admin sees everything', async () => {
      const fromKey = await upload(keyA, 'k.jsonl')
      const anonymous = await upload(keyless, 'anon.jsonl')
      // A file made on the provider account before creators were recorded (or outside the gateway).
      const legacy = new FormData()
      legacy.append('purpose', 'batch')
      legacy.append('file', new Blob([batchInput()]), 'legacy.jsonl')
      const old = (await fetch(`${fake.url}/v1/files`, {
        method: 'POST',
        headers: { authorization: 'Bearer sk-test' },
        body: legacy,
      }).then((r) => r.json())) as { id: string }

      const seenByKeyless = await listedFiles(keyless)
      expect(seenByKeyless).toEqual(expect.arrayContaining([anonymous.id, old.id]))
      expect(seenByKeyless).not.toContain(fromKey.id)
      expect((await refusal(keyless.files.retrieve(fromKey.id))).status).toBe(404)
      expect((await refusal(batchFrom(keyless, fromKey.id))).status).toBe(404)
      expect((await batchFrom(keyless, old.id)).input_file_id).toBe(old.id)

      for (const id of [anonymous.id, old.id]) {
        expect((await refusal(keyA.files.retrieve(id))).status).toBe(404)
      }
      expect(await listedFiles(keyA)).not.toContain(old.id)

      const all = await listedFiles(admin)
      expect(all).toEqual(expect.arrayContaining([fromKey.id, anonymous.id, old.id]))
      expect((await admin.files.retrieve(fromKey.id)).id).toBe(fromKey.id)
      // A dashboard session token, given as the SDK's API key, is the admin too.
      const login = await fetch(`${gw.url}/api/session/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password: 'owner-test-password' }),
      })
      const { token } = (await login.json()) as { token: string }
      const session = new OpenAI({ baseURL: `${gw.url}/openai/v1`, apiKey: token, maxRetries: 0 })
      expect(await listedFiles(session)).toEqual(expect.arrayContaining([fromKey.id, anonymous.id, old.id]))
      // Wrong admin credentials are no admin: the caller is one without a virtual key.
      const wrong = await fetch(`${gw.url}/v1/files/${fromKey.id}`, {
        headers: { authorization: `Basic ${Buffer.from('admin:wrong').toString('base64')}` },
      })
      expect(wrong.status).toBe(404)
    })
  },
)
