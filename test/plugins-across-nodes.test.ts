import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import OpenAI from 'openai'
import { afterAll, describe, expect, it } from 'vitest'
import type { ConfigFile } from '../src/core/schemas/index.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { postgresBackend } from './helpers/databases.js'
import { EXAMPLE_PLUGIN } from './helpers/example-plugin.js'
import { callJson, fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'
import { deleteRedisKeys, REDIS_URL, redisPrefix } from './helpers/redis.js'

/**
 * Two nodes sharing a PostgreSQL store and a Redis bus: a plugin created, reconfigured, disabled,
 * enabled or deleted at /api/plugins on one node takes effect on the other, without a restart.
 */
describe('plugin changes across nodes', () => {
  const db = postgresBackend('plugins-nodes')
  const prefix = redisPrefix('heimdall-plugins-nodes')
  const nodes: RunningHeimdall[] = []
  let fake: FakeServer | undefined
  let dir: string | undefined

  afterAll(async () => {
    for (const node of nodes.splice(0)) await node.close()
    await fake?.close()
    if (dir) await rm(dir, { recursive: true, force: true })
    await deleteRedisKeys(prefix)
    await db.teardown()
  })

  const answer = async (node: RunningHeimdall, content = 'hi') => {
    const openai = new OpenAI({ baseURL: `${node.url}/v1`, apiKey: 'sk-unused', maxRetries: 0 })
    const r = await openai.chat.completions.create({
      model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content }],
    })
    return r.choices[0].message.content
  }
  /** The node's answer once it is `expected`, or the last one after 10 s. */
  const answerBecomes = async (node: RunningHeimdall, expected: string, content?: string) => {
    let last = await answer(node, content)
    for (const end = Date.now() + 10_000; last !== expected && Date.now() < end; await sleep(50))
      last = await answer(node, content)
    return last
  }
  const mocker = (message: string) => ({
    rules: [{ name: 'all', responses: [{ type: 'success', content: { message } }] }],
  })

  /** Node A and node B, started once for the file; each has its own app dir (where relative plugin paths start). */
  const twoNodes = async () => {
    if (nodes.length === 2) return nodes as [RunningHeimdall, RunningHeimdall]
    fake = await startFakeOpenAI()
    dir = await mkdtemp(join(tmpdir(), 'heimdall-plugins-nodes-'))
    await writeFile(join(dir, 'example.mjs'), EXAMPLE_PLUGIN)
    const url = await db.freshUrl()
    const config: ConfigFile = {
      config_store: {
        enabled: true,
        type: 'postgres',
        config: { connection_string: url, reconcile_interval_ms: 200 },
      },
      cluster: { redis_url: REDIS_URL, prefix },
      providers: { openai: fakeProvider(fake.url) },
    }
    nodes.push(await startHeimdall(config), await startHeimdall(config))
    return nodes as [RunningHeimdall, RunningHeimdall]
  }

  it('a change made on node A is served by node B: mocker and a custom module', async () => {
    const [a, b] = await twoNodes()
    const modulePath = join(dir!, 'example.mjs')
    const onA = (method: string, path: string, body?: unknown) => callJson(a.url, method, path, body)
    expect(await answer(b)).toBe('Echo: hi')

    const created = await onA('POST', '/api/plugins', {
      name: 'mocker',
      enabled: true,
      config: mocker('first'),
    })
    expect(created.status).toBe(201)
    expect(await answerBecomes(b, 'first')).toBe('first')
    expect((await callJson(b.url, 'GET', '/api/plugins/mocker')).body).toMatchObject({
      name: 'mocker',
      enabled: true,
      status: { status: 'active' },
    })

    expect(
      (await onA('PUT', '/api/plugins/mocker', { enabled: true, config: mocker('second') })).status,
    ).toBe(200)
    expect(await answerBecomes(b, 'second')).toBe('second')

    expect((await onA('PUT', '/api/plugins/mocker', { enabled: false })).status).toBe(200)
    expect(await answerBecomes(b, 'Echo: hi')).toBe('Echo: hi')
    expect((await callJson(b.url, 'GET', '/api/plugins/mocker')).body).toMatchObject({
      enabled: false,
      status: { status: 'disabled' },
    })

    expect((await onA('PUT', '/api/plugins/mocker', { enabled: true })).status).toBe(200)
    expect(await answerBecomes(b, 'second')).toBe('second')

    expect((await onA('DELETE', '/api/plugins/mocker')).status).toBe(200)
    expect(await answerBecomes(b, 'Echo: hi')).toBe('Echo: hi')
    expect((await callJson(b.url, 'GET', '/api/plugins/mocker')).status).toBe(404)

    // A user's module, loaded from its path on node B too, then reconfigured there from node A.
    const custom = { name: 'example', enabled: true, path: modulePath, config: { suffix: ' [v1]' } }
    expect((await onA('POST', '/api/plugins', custom)).status).toBe(201)
    expect(await answerBecomes(b, 'Echo: [post] hi [v1]', '[post] hi')).toBe('Echo: [post] hi [v1]')
    const v2 = { enabled: true, config: { suffix: ' [v2]' } }
    expect((await onA('PUT', '/api/plugins/example', v2)).status).toBe(200)
    expect(await answerBecomes(b, 'Echo: [post] hi [v2]', '[post] hi')).toBe('Echo: [post] hi [v2]')
  })

  it('a change whose event was lost reaches node B through the store; a module node B lacks is an error there, not a crash', async () => {
    const [a, b] = await twoNodes()
    // Written to the store without an event, as when node B's bus connection was down.
    await a.heimdall.store.setValue('plugins', [
      { name: 'mocker', enabled: true, config: mocker('unannounced') },
    ])
    expect(await answerBecomes(b, 'unannounced')).toBe('unannounced')

    // A relative path is read from each node's own folder: this module is in node A's only.
    await writeFile(join(a.appDir, 'only-here.mjs'), EXAMPLE_PLUGIN)
    const local = { name: 'local', enabled: true, path: './only-here.mjs', config: { suffix: ' [A]' } }
    expect((await callJson(a.url, 'POST', '/api/plugins', local)).status).toBe(201)
    expect((await callJson(a.url, 'GET', '/api/plugins/local')).body.status.status).toBe('active')
    let seen: any
    for (const end = Date.now() + 10_000; Date.now() < end; await sleep(50)) {
      seen = (await callJson(b.url, 'GET', '/api/plugins/local')).body
      if (seen?.status?.status === 'error') break
    }
    expect(seen).toMatchObject({ name: 'local', status: { status: 'error' } })
    expect(seen.status.logs[0]).toContain('only-here.mjs')
    // Node B goes on serving with what it has.
    expect(await answer(b)).toBe('unannounced')
  })
})
