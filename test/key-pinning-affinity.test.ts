import { setTimeout as sleep } from 'node:timers/promises'
import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ConfigFile } from '../src/core/schemas/index.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { postgresBackend } from './helpers/databases.js'
import { callJson, fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'
import { deleteRedisKeys, REDIS_URL, redisPrefix } from './helpers/redis.js'

/**
 * Key pinning (`x-bf-api-key`, `x-bf-api-key-id`) and session affinity (`x-bf-session-id`) with the
 * official OpenAI SDK against fake providers: which provider key served is read from the
 * Authorization header each fake received.
 */

let openai: FakeServer
let groq: FakeServer

const providers = () => ({
  openai: fakeProvider(openai.url, {}, [
    { id: 'oa-1', name: 'oa-one', value: 'sk-oa-1', models: ['*'], weight: 1 },
    { id: 'oa-2', name: 'oa-two', value: 'sk-oa-2', models: ['*'], weight: 1 },
  ]),
  groq: fakeProvider(groq.url, {}, [
    { id: 'gq-1', name: 'gq-one', value: 'sk-gq-1', models: ['*'], weight: 1 },
  ]),
})

/** Which provider and key served each request sent since the fakes were last reset. */
function servedBy(): string[] {
  const all = [
    ...openai.requests.map((r) => ({ at: r, who: `openai:${String(r.headers.authorization).slice(7)}` })),
    ...groq.requests.map((r) => ({ at: r, who: `groq:${String(r.headers.authorization).slice(7)}` })),
  ]
  return all.map((x) => x.who)
}

async function chat(
  node: RunningHeimdall,
  headers: Record<string, string>,
  opts: { apiKey?: string; fallbacks?: string[] } = {},
): Promise<string> {
  openai.reset()
  groq.reset()
  const sdk = new OpenAI({
    baseURL: `${node.url}/v1`,
    apiKey: opts.apiKey ?? 'unused',
    defaultHeaders: headers,
    maxRetries: 0,
  })
  await sdk.chat.completions.create({
    model: 'openai/gpt-4o-mini',
    messages: [{ role: 'user', content: 'hi' }],
    ...(opts.fallbacks ? { fallbacks: opts.fallbacks } : {}),
  } as never)
  // The last upstream call is the one that served.
  return servedBy().at(-1)!
}

async function refused(node: RunningHeimdall, headers: Record<string, string>, apiKey?: string) {
  const res = await fetch(`${node.url}/v1/chat/completions`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
      ...headers,
    },
    body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
  })
  return { status: res.status, body: (await res.json()) as { error: { message: string; param?: string } } }
}

beforeAll(async () => {
  openai = await startFakeOpenAI()
  groq = await startFakeOpenAI()
})

afterAll(async () => {
  await openai?.close()
  await groq?.close()
})

describe('key pinning', () => {
  let gw: RunningHeimdall
  beforeAll(async () => {
    gw = await startHeimdall({ providers: providers() })
  })
  afterAll(() => gw?.close())

  it('x-bf-api-key picks a key by name and x-bf-api-key-id by id, every time', async () => {
    for (let i = 0; i < 8; i++) expect(await chat(gw, { 'x-bf-api-key': 'oa-two' })).toBe('openai:sk-oa-2')
    for (let i = 0; i < 8; i++) expect(await chat(gw, { 'x-bf-api-key-id': 'oa-1' })).toBe('openai:sk-oa-1')
  })

  it('refuses a key the provider does not have with a 400 naming the header', async () => {
    const byName = await refused(gw, { 'x-bf-api-key': 'nope' })
    expect(byName.status).toBe(400)
    expect(byName.body.error.param).toBe('x-bf-api-key')
    expect(byName.body.error.message).toContain('provider openai has no key named "nope"')
    const byId = await refused(gw, { 'x-bf-api-key-id': 'gq-1' })
    expect(byId.status).toBe(400)
    expect(byId.body.error.param).toBe('x-bf-api-key-id')
  })

  it("allows only keys inside the virtual key's key_ids", async () => {
    const created = await callJson(gw.url, 'POST', '/api/governance/virtual-keys', {
      name: 'only-oa-1',
      provider_configs: [{ provider: 'openai', allowed_models: ['*'], key_ids: ['oa-1'] }],
    })
    expect(created.status).toBe(200)
    const vk = created.body.virtual_key.value as string
    expect(await chat(gw, { 'x-bf-api-key': 'oa-one' }, { apiKey: vk })).toBe('openai:sk-oa-1')
    openai.reset()
    const out = await refused(gw, { 'x-bf-api-key': 'oa-two' }, vk)
    expect(out.status).toBe(403)
    expect(out.body.error.message).toContain('not in its key_ids')
    expect(out.body.error.param).toBe('x-bf-api-key')
    expect(openai.requests).toHaveLength(0)
  })
})

describe('session affinity on one node', () => {
  let gw: RunningHeimdall
  beforeAll(async () => {
    gw = await startHeimdall({ providers: providers() })
  })
  afterAll(() => gw?.close())

  it('keeps a session on the key it first got', async () => {
    for (const session of ['s-a', 's-b', 's-c']) {
      const first = await chat(gw, { 'x-bf-session-id': session })
      for (let i = 0; i < 8; i++) expect(await chat(gw, { 'x-bf-session-id': session })).toBe(first)
    }
  })

  it('pins a streamed session too, and names the key in the stream response headers', async () => {
    const headers = { 'x-bf-session-id': 'streamed' }
    const sdk = new OpenAI({
      baseURL: `${gw.url}/v1`,
      apiKey: 'unused',
      defaultHeaders: headers,
      maxRetries: 0,
    })
    openai.reset()
    const { data: stream, response } = await sdk.chat.completions
      .create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], stream: true })
      .withResponse()
    for await (const _ of stream) void _
    const first = servedBy().at(-1)!
    const keyName = first === 'openai:sk-oa-1' ? 'oa-one' : 'oa-two'
    expect(response.headers.get('x-bifrost-routing-info-key')).toBe(keyName)
    for (let i = 0; i < 6; i++) expect(await chat(gw, headers)).toBe(first)
  })

  it('fails over once when the pinned target fails, and the session follows', async () => {
    const session = { 'x-bf-session-id': 'follow-me', 'x-bf-session-ttl': '60' }
    const fallbacks = ['groq/gpt-4o-mini']
    expect(await chat(gw, session, { fallbacks })).toMatch(/^openai:/)
    // The pinned key fails, then openai's other choice: groq serves, and the session moves there.
    openai.reset()
    groq.reset()
    openai.fail({ kind: 'status', status: 500 }, { kind: 'status', status: 500 })
    const sdk = new OpenAI({
      baseURL: `${gw.url}/v1`,
      apiKey: 'unused',
      defaultHeaders: session,
      maxRetries: 0,
    })
    const { response } = await sdk.chat.completions
      .create({
        model: 'openai/gpt-4o-mini',
        messages: [{ role: 'user', content: 'hi' }],
        fallbacks,
      } as never)
      .withResponse()
    expect(openai.requests).toHaveLength(2)
    expect(groq.requests).toHaveLength(1)
    expect(response.headers.get('x-bifrost-routing-info-session-pinned')).toBe('true')
    for (let i = 0; i < 5; i++) expect(await chat(gw, session, { fallbacks })).toBe('groq:sk-gq-1')
  })

  it('routes a session that asks for another model afresh', async () => {
    const session = { 'x-bf-session-id': 'model-change' }
    expect(await chat(gw, session)).toMatch(/^openai:/)
    openai.reset()
    const sdk = new OpenAI({
      baseURL: `${gw.url}/v1`,
      apiKey: 'unused',
      defaultHeaders: session,
      maxRetries: 0,
    })
    await sdk.chat.completions.create({ model: 'groq/llama', messages: [{ role: 'user', content: 'hi' }] })
    expect(groq.requests.at(-1)?.body).toMatchObject({ model: 'llama' })
  })
})

describe('across two nodes (PostgreSQL store, Redis bus)', () => {
  const db = postgresBackend('routing-affinity')
  const prefix = redisPrefix('heimdall-routing')
  const nodes: RunningHeimdall[] = []

  afterAll(async () => {
    for (const node of nodes.splice(0)) await node.close()
    await deleteRedisKeys(prefix)
    await db.teardown()
  })

  it('a rule written on one node routes on the other, and a session keeps its key on both', async () => {
    const config: ConfigFile = {
      providers: providers(),
      config_store: { enabled: true, type: 'postgres', config: { connection_string: await db.freshUrl() } },
      cluster: { redis_url: REDIS_URL, prefix },
    }
    nodes.push(await startHeimdall(config), await startHeimdall(config))
    const [one, two] = nodes as [RunningHeimdall, RunningHeimdall]

    const created = await callJson(one.url, 'POST', '/api/routing/rules', {
      name: 'to-groq',
      scope: 'global',
      priority: 0,
      cel_expression: 'headers["x-route"] == "groq"',
      targets: [{ provider: 'groq', weight: 1 }],
    })
    expect(created.status).toBe(200)
    let onTwo = ''
    for (let i = 0; i < 40 && onTwo !== 'groq:sk-gq-1'; i++) {
      onTwo = await chat(two, { 'x-route': 'groq' })
      if (onTwo !== 'groq:sk-gq-1') await sleep(50)
    }
    expect(onTwo).toBe('groq:sk-gq-1')
    const listed = await callJson(two.url, 'GET', '/api/routing/rules')
    expect(listed.body.rules.map((r: { id: string }) => r.id)).toEqual([created.body.rule.id])

    // Sessions: each pinned on node one, then served on node two by the same key.
    for (const session of ['x1', 'x2', 'x3', 'x4']) {
      const headers = { 'x-bf-session-id': session }
      const first = await chat(one, headers)
      await sleep(100)
      for (let i = 0; i < 4; i++) {
        expect(await chat(two, headers)).toBe(first)
        expect(await chat(one, headers)).toBe(first)
      }
    }
  })
})
