import OpenAI, { toFile } from 'openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { ConfigFile } from '../src/core/schemas/index.js'
import { startFakeContainers, type FakeContainers } from './fakes/openai-containers.js'
import { adminVirtualKey, fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

const ADMIN = `Basic ${Buffer.from('admin:containers-test-password').toString('base64')}`

/** The SDK's error for a call, or a failure when the call succeeded. */
async function refusal(call: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  const outcome = await call.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(outcome).toBeInstanceOf(OpenAI.APIError)
  return outcome as InstanceType<typeof OpenAI.APIError>
}

/**
 * OpenAI's Containers API through the gateway with the official OpenAI SDK, on `/v1` and on the
 * OpenAI drop-in `/openai/v1`: containers and their files are created, listed, read, downloaded and
 * deleted on the provider with the gateway's key; a container is its creator's virtual key's alone.
 */
describe('Containers API through the gateway', () => {
  let fake: FakeContainers
  let gw: RunningHeimdall
  let keyA: OpenAI
  let keyB: OpenAI

  const virtualKey = (name: string) => adminVirtualKey(gw.url, name, 'openai', ADMIN)

  beforeAll(async () => {
    fake = await startFakeContainers()
    gw = await startHeimdall({
      auth_config: { is_enabled: true, admin_username: 'admin', admin_password: 'containers-test-password' },
      providers: { openai: fakeProvider(fake.url) },
    } as ConfigFile)
    keyA = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: await virtualKey('box-a'), maxRetries: 0 })
    keyB = new OpenAI({ baseURL: `${gw.url}/openai/v1`, apiKey: await virtualKey('box-b'), maxRetries: 0 })
  })
  afterAll(async () => {
    await gw?.close()
    await fake?.close()
  })
  beforeEach(() => fake.server.reset())

  it('creates a container, adds, lists, reads, downloads and deletes a file, then deletes the container', async () => {
    const box = await keyA.containers.create({ name: 'sandbox' })
    expect(box).toMatchObject({ object: 'container', name: 'sandbox', status: 'running' })
    expect(box.id).toMatch(/^cntr_/)
    expect(fake.server.requests[0].headers.authorization).toBe('Bearer sk-test')

    const file = await keyA.containers.files.create(box.id, {
      file: await toFile(Buffer.from('print(42)\n'), 'run.py'),
    })
    expect(file).toMatchObject({
      object: 'container.file',
      container_id: box.id,
      path: '/mnt/data/run.py',
      bytes: 10,
    })

    const listed: string[] = []
    for await (const f of keyA.containers.files.list(box.id)) listed.push(f.id)
    expect(listed).toEqual([file.id])
    expect(await keyA.containers.files.retrieve(file.id, { container_id: box.id })).toMatchObject({
      id: file.id,
    })
    const content = await keyA.containers.files.content.retrieve(file.id, { container_id: box.id })
    expect(await content.text()).toBe('print(42)\n')

    await keyA.containers.files.delete(file.id, { container_id: box.id })
    expect(fake.files.get(box.id)?.size).toBe(0)

    const boxes: string[] = []
    for await (const c of keyA.containers.list()) boxes.push(c.id)
    expect(boxes).toContain(box.id)
    expect(await keyA.containers.retrieve(box.id)).toMatchObject({ id: box.id, name: 'sandbox' })
    await keyA.containers.delete(box.id)
    expect((await refusal(keyA.containers.retrieve(box.id))).status).toBe(404)
  })

  it('keeps a container and its files from another virtual key, on /openai/v1 too', async () => {
    const box = await keyA.containers.create({ name: 'private' })
    const file = await keyA.containers.files.create(box.id, { file_id: 'file-abc' })
    const own = await keyB.containers.create({ name: 'mine' })
    const from = fake.server.requests.length

    const seenByB: string[] = []
    for await (const c of keyB.containers.list()) seenByB.push(c.id)
    expect(seenByB).toEqual([own.id])
    const refused = await refusal(keyB.containers.retrieve(box.id))
    expect(refused.status).toBe(404)
    expect(refused.message).toContain(`Container with id '${box.id}' not found.`)
    expect((await refusal(keyB.containers.files.list(box.id).then((p) => p.data))).status).toBe(404)
    expect((await refusal(keyB.containers.files.retrieve(file.id, { container_id: box.id }))).status).toBe(
      404,
    )
    expect((await refusal(keyB.containers.delete(box.id))).status).toBe(404)
    // Only the list reached the provider; the container is still there.
    expect(fake.server.requests.slice(from).every((r) => r.path.startsWith('/v1/containers?'))).toBe(true)
    expect(fake.containers.has(box.id)).toBe(true)
  })

  it('answers bad input with OpenAI-shaped 400s', async () => {
    const noName = await fetch(`${gw.url}/v1/containers`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: ADMIN },
      body: JSON.stringify({}),
    })
    expect(noName.status).toBe(400)
    expect(await noName.json()).toMatchObject({ error: { param: 'name' } })
    const badLimit = await fetch(`${gw.url}/v1/containers?limit=0`, { headers: { authorization: ADMIN } })
    expect(badLimit.status).toBe(400)
    expect(fake.server.requests).toHaveLength(0)
  })
})
