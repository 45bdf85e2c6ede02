import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startFakeBagOfWordsEmbeddings } from './fakes/bag-of-words-embeddings.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { callJson, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'
import { cacheConfig, debugOf, type CacheDebug } from './helpers/semantic-cache.js'

/**
 * A response-cache hit made no provider call: its log entry says so (cache_debug, a cache_hit_types
 * filter, the money it saved), it costs $0 in the x-bifrost-cost-usd header, the log, /metrics and
 * the budget alike, streamed or not; a semantic hit costs only its embedding call, logged on its own.
 */
const MODEL = 'openai/gpt-4o-mini'

let chat: FakeServer
let embed: FakeServer
let gw: RunningHeimdall
let vk: { id: string; value: string }
let openai: OpenAI

beforeAll(async () => {
  chat = await startFakeOpenAI()
  embed = await startFakeBagOfWordsEmbeddings()
  // A priced embedding model: a semantic lookup's own cost is visible.
  gw = await startHeimdall(cacheConfig(chat.url, embed.url, { embedding_model: 'text-embedding-3-small' }))
  const r = await callJson(gw.url, 'POST', '/api/governance/virtual-keys', {
    name: 'cache-costs',
    provider_configs: [
      { provider: 'openai', allowed_models: ['*'], key_ids: ['*'] },
      { provider: 'embedder', allowed_models: ['*'], key_ids: ['*'] },
    ],
    budgets: [{ max_limit: 5, reset_duration: '1d' }],
  })
  expect(r.status).toBe(200)
  vk = r.body.virtual_key
  openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-unused', maxRetries: 0 })
})
afterAll(async () => {
  await gw?.close()
  await chat?.close()
  await embed?.close()
})

const chatCalls = () => chat.requests.filter((r) => r.path.endsWith('/chat/completions')).length
const spent = async () =>
  (await callJson(gw.url, 'GET', `/api/governance/virtual-keys/${vk.id}`)).body.virtual_key.budgets[0]
    .current_usage as number

async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${gw.url}/metrics`)).text()
  let sum = 0
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
      sum += Number(line.split(' ').at(-1))
  }
  return sum
}

interface Answer {
  cost: number
  requestId: string
  debug?: CacheDebug
  text: string
}

async function ask(content: string, stream: boolean, headers: Record<string, string>): Promise<Answer> {
  const all = { 'x-bf-vk': vk.value, ...headers }
  const messages = [{ role: 'user' as const, content }]
  if (!stream) {
    const { data, response } = await openai.chat.completions
      .create({ model: MODEL, messages }, { headers: all })
      .withResponse()
    return {
      cost: Number(response.headers.get('x-bifrost-cost-usd')),
      requestId: response.headers.get('x-request-id') ?? '',
      debug: debugOf(data),
      text: data.choices[0].message.content ?? '',
    }
  }
  const { data, response } = await openai.chat.completions
    .create(
      { model: MODEL, messages, stream: true, stream_options: { include_usage: true } },
      { headers: all },
    )
    .withResponse()
  let text = ''
  let last: unknown
  for await (const chunk of data) {
    text += chunk.choices[0]?.delta?.content ?? ''
    last = chunk
  }
  // A stream's cost is known at its end: the header carries the estimate of admission, the log the cost.
  return {
    cost: Number.NaN,
    requestId: response.headers.get('x-request-id') ?? '',
    debug: debugOf(last),
    text,
  }
}

async function logged(query: string): Promise<any[]> {
  const end = Date.now() + 5000
  for (;;) {
    const r = await callJson(gw.url, 'GET', `/api/logs?${query}`)
    expect(r.status).toBe(200)
    const logs = r.body.logs as any[]
    if (logs.length > 0 || Date.now() > end) return logs
    await new Promise((res) => setTimeout(res, 25))
  }
}

async function entryOf(content: string, wanted: (e: any) => boolean): Promise<any> {
  const end = Date.now() + 5000
  for (;;) {
    const logs = await logged(`content_search=${encodeURIComponent(content)}&limit=100`)
    const e = logs.find(wanted)
    if (e || Date.now() > end) return e
    await new Promise((res) => setTimeout(res, 25))
  }
}

describe('a response-cache hit is logged as a hit, costs nothing and is not charged', () => {
  for (const stream of [false, true]) {
    it(`exact hit, ${stream ? 'streamed' : 'not streamed'}: $0 in the header, log, /metrics and budget`, async () => {
      const content = `What is the cost of caching, ${stream ? 'streamed' : 'plain'}?`
      const headers = { 'x-bf-cache-key': 'costs', 'x-bf-cache-type': 'direct' }
      const miss = await ask(content, stream, headers)
      expect(miss.debug).toMatchObject({ cache_hit: false })
      const missEntry = await entryOf(content, (e) => e.cache_debug?.cache_hit === false)
      expect(missEntry.cost).toBeGreaterThan(0)
      if (!stream) expect(missEntry.cost).toBeCloseTo(miss.cost, 9)

      // Wait for the entry (written off the request path), then measure one hit alone.
      for (let i = 0; i < 200; i++) {
        const before = chatCalls()
        await ask(content, stream, headers)
        if (chatCalls() === before) break
        await new Promise((r) => setTimeout(r, 25))
      }
      const [budget0, cost0, hits0, calls0] = [
        await spent(),
        await metric('heimdall_cost_usd_total'),
        await metric('heimdall_cache_hits_total', { hit_type: 'direct' }),
        chatCalls(),
      ]
      const hit = await ask(content, stream, headers)
      expect(hit.debug).toMatchObject({ cache_hit: true, hit_type: 'direct' })
      expect(hit.text).toBe(miss.text)
      if (!stream) expect(hit.cost).toBe(0)
      expect(chatCalls()).toBe(calls0)

      const hitEntry = await entryOf(content, (e) => e.id === hit.requestId)
      expect(hitEntry).toMatchObject({
        status: 'success',
        stream,
        cost: 0,
        cache_debug: { cache_hit: true, hit_type: 'direct', cache_id: hit.debug!.cache_id },
      })
      // The money saved is what the provider call cost.
      expect(hitEntry.cache_saved_cost).toBeCloseTo(missEntry.cost, 9)
      expect(hitEntry.total_tokens).toBe(missEntry.total_tokens)
      expect(await spent()).toBeCloseTo(budget0, 12)
      expect(await metric('heimdall_cost_usd_total')).toBeCloseTo(cost0, 12)
      expect(await metric('heimdall_cache_hits_total', { hit_type: 'direct' })).toBe(hits0 + 1)

      const direct = await logged(`cache_hit_types=direct&content_search=${encodeURIComponent(content)}`)
      expect(direct.length).toBeGreaterThan(0)
      expect(direct.every((e) => e.cache_debug?.hit_type === 'direct' && e.cost === 0)).toBe(true)
      expect(direct.map((e) => e.id)).toContain(hit.requestId)
    })
  }

  it('a semantic hit costs only its embedding call, charged to the budget and logged as an embedding', async () => {
    const headers = { 'x-bf-cache-key': 'meaning' }
    await ask('Which planet has the most moons?', false, headers)
    let hit: Answer | undefined
    let budget0 = 0
    let embedCost0 = 0
    for (let i = 0; i < 200; i++) {
      budget0 = await spent()
      embedCost0 = await metric('heimdall_cost_usd_total', { provider: 'embedder' })
      // Looked up, not stored: a miss here cannot become an exact entry of its own.
      hit = await ask('which planet has the MOST moons', false, { ...headers, 'x-bf-cache-no-store': 'true' })
      if (hit.debug?.cache_hit) break
      await new Promise((r) => setTimeout(r, 25))
    }
    expect(hit!.debug).toMatchObject({
      cache_hit: true,
      hit_type: 'semantic',
      model_used: 'text-embedding-3-small',
    })
    expect(hit!.cost).toBe(0)
    const embedded = (await metric('heimdall_cost_usd_total', { provider: 'embedder' })) - embedCost0
    expect(embedded).toBeGreaterThan(0)
    // The budget grew by the embedding call alone, as /metrics counts it.
    expect((await spent()) - budget0).toBeCloseTo(embedded, 12)

    const entry = await entryOf('which planet has the MOST moons', (e) => e.id === hit!.requestId)
    expect(entry).toMatchObject({ cost: 0, cache_debug: { cache_hit: true, hit_type: 'semantic' } })
    const semantic = await logged('cache_hit_types=semantic')
    expect(semantic.map((e) => e.id)).toContain(hit!.requestId)
    const stats = await callJson(gw.url, 'GET', '/api/logs/stats')
    expect(stats.body.cache_hits).toBeGreaterThanOrEqual(3)
    expect(stats.body.cache_hit_rate).toBeGreaterThan(0)
    expect(stats.body.cache_saved_cost).toBeGreaterThan(0)
  })

  it('a cache_hit_types value other than direct or semantic is a 400 naming the filter', async () => {
    const r = await callJson(gw.url, 'GET', '/api/logs?cache_hit_types=exact')
    expect(r.status).toBe(400)
    expect(r.body.error.param).toBe('cache_hit_types')
  })
})
