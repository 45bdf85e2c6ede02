import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import SqliteDatabase from 'better-sqlite3'
import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startFakeBagOfWordsEmbeddings } from './fakes/bag-of-words-embeddings.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { callJson, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'
import { cacheConfig, debugOf, untilHit } from './helpers/semantic-cache.js'

const MODEL = 'openai/gpt-4o-mini'

let chat: FakeServer
let embed: FakeServer
const closers: (() => Promise<unknown>)[] = []
beforeAll(async () => {
  chat = await startFakeOpenAI()
  embed = await startFakeBagOfWordsEmbeddings()
})
afterAll(async () => {
  for (const c of closers.splice(0).reverse()) await c()
  await chat?.close()
  await embed?.close()
})
const chatCalls = () => chat.requests.filter((r) => r.path.endsWith('/chat/completions')).length

async function virtualKey(gw: RunningHeimdall, name: string, extra: object = {}) {
  const r = await callJson(gw.url, 'POST', '/api/governance/virtual-keys', {
    name,
    provider_configs: [
      { provider: 'openai', allowed_models: ['*'], key_ids: ['*'] },
      { provider: 'embedder', allowed_models: ['*'], key_ids: ['*'] },
    ],
    ...extra,
  })
  expect(r.status).toBe(200)
  return r.body.virtual_key as { id: string; value: string }
}

function client(gw: RunningHeimdall) {
  const openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-unused', maxRetries: 0 })
  return (content: string, headers: Record<string, string>) =>
    openai.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content }] }, { headers })
}

describe('semantic_cache scoping: per virtual key unless the cache key is shared', () => {
  it("one virtual key never receives another's cached answer; a shared_cache_keys key is shared", async () => {
    const gw = await startHeimdall(cacheConfig(chat.url, embed.url, { shared_cache_keys: ['faq'] }))
    closers.push(() => gw.close())
    const ask = client(gw)
    const a = await virtualKey(gw, 'team-a')
    const b = await virtualKey(gw, 'team-b')

    const asA = { 'x-bf-vk': a.value, 'x-bf-cache-key': 'team' }
    const asB = { 'x-bf-vk': b.value, 'x-bf-cache-key': 'team' }
    await ask('What is our internal roadmap?', asA)
    const hitA = await untilHit(() => ask('What is our internal roadmap?', asA), debugOf)
    expect(debugOf(hitA)?.cache_hit).toBe(true)
    const before = chatCalls()
    const byB = await ask('What is our internal roadmap?', asB)
    expect(debugOf(byB)).toMatchObject({ cache_hit: false })
    expect(chatCalls()).toBe(before + 1)

    const sharedA = { 'x-bf-vk': a.value, 'x-bf-cache-key': 'faq' }
    const sharedB = { 'x-bf-vk': b.value, 'x-bf-cache-key': 'faq' }
    await ask('What are the office hours?', sharedA)
    const hitB = await untilHit(() => ask('What are the office hours?', sharedB), debugOf)
    expect(debugOf(hitB)?.cache_hit).toBe(true)
  })

  it('a hit costs nothing and is not charged to the budget', async () => {
    const gw = await startHeimdall(cacheConfig(chat.url, embed.url))
    closers.push(() => gw.close())
    const vk = await virtualKey(gw, 'budgeted', { budgets: [{ max_limit: 1, reset_duration: '1d' }] })
    const openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-unused', maxRetries: 0 })
    const headers = { 'x-bf-vk': vk.value, 'x-bf-cache-key': 'budget', 'x-bf-cache-type': 'direct' }
    const call = () =>
      openai.chat.completions
        .create(
          { model: MODEL, messages: [{ role: 'user', content: 'How much does this cost?' }] },
          { headers },
        )
        .withResponse()
    const spent = async () =>
      (await callJson(gw.url, 'GET', `/api/governance/virtual-keys/${vk.id}`)).body.virtual_key.budgets[0]
        .current_usage as number

    const calls0 = chatCalls()
    const miss = await call()
    const missCost = Number(miss.response.headers.get('x-bifrost-cost-usd'))
    expect(missCost).toBeGreaterThan(0)
    const hit = await untilHit(call, (r) => debugOf(r.data))
    expect(debugOf(hit.data)?.cache_hit).toBe(true)
    const afterFirstHit = await spent()
    for (let i = 0; i < 3; i++) {
      const r = await call()
      expect(debugOf(r.data)?.cache_hit).toBe(true)
      expect(Number(r.response.headers.get('x-bifrost-cost-usd'))).toBe(0)
    }
    expect(await spent()).toBeCloseTo(afterFirstHit, 12)
    // Only provider calls were charged: the misses before the entry was written, each at the miss's cost.
    expect(afterFirstHit).toBeCloseTo(missCost * (chatCalls() - calls0), 12)
  })

  it('entries survive a restart (SQLite under the app dir) and the vector index is rebuilt', async () => {
    const appDir = await mkdtemp(join(tmpdir(), 'heimdall-cache-restart-'))
    closers.push(() => rm(appDir, { recursive: true, force: true }))
    const config = cacheConfig(chat.url, embed.url)
    const first = await startHeimdall(config, { appDir })
    const headers = { 'x-bf-cache-key': 'restart' }
    await client(first)('Which language is spoken in Brazil?', headers)
    await untilHit(() => client(first)('Which language is spoken in Brazil?', headers), debugOf)
    await first.close()

    const second = await startHeimdall(config, { appDir })
    closers.push(() => second.close())
    const before = chatCalls()
    const exact = await client(second)('Which language is spoken in Brazil?', headers)
    expect(debugOf(exact)).toMatchObject({ cache_hit: true, hit_type: 'direct' })
    const similar = await untilHit(
      () => client(second)('which language is spoken in brazil', headers),
      debugOf,
    )
    expect(debugOf(similar)).toMatchObject({ cache_hit: true, hit_type: 'semantic' })
    expect(chatCalls()).toBe(before)
  })

  it('a stream that broke off is never stored', async () => {
    const gw = await startHeimdall(cacheConfig(chat.url, embed.url))
    closers.push(() => gw.close())
    const openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-unused', maxRetries: 0 })
    const headers = { 'x-bf-cache-key': 'broken', 'x-bf-cache-type': 'direct' }
    const params = {
      model: MODEL,
      messages: [{ role: 'user' as const, content: 'Write a long poem about rivers' }],
      stream: true as const,
    }
    // The provider cuts the stream after 3 events, and again on the retry the gateway might make.
    chat.fail(
      { kind: 'drop', afterEvents: 3 },
      { kind: 'drop', afterEvents: 3 },
      { kind: 'drop', afterEvents: 3 },
    )
    await expect(
      (async () => {
        for await (const _ of await openai.chat.completions.create(params, { headers })) void _
      })(),
    ).rejects.toThrow()
    chat.reset()
    await new Promise((r) => setTimeout(r, 300))
    const again = await openai.chat.completions.create(
      { ...params, stream: false },
      { headers: { ...headers, 'x-bf-cache-no-store': 'true' } },
    )
    expect(debugOf(again)).toMatchObject({ cache_hit: false })
    expect(chatCalls()).toBe(1)
  })

  it('a broken cache store or a hung embedding call never fails a request: it is a miss', async () => {
    const gw = await startHeimdall(cacheConfig(chat.url, embed.url, { lookup_timeout_ms: 300 }))
    closers.push(() => gw.close())
    const ask = client(gw)
    const headers = { 'x-bf-cache-key': 'faults' }

    // The embeddings provider accepts the call and never answers: the lookup is cut, the provider answers.
    embed.fail({ kind: 'hang' })
    const hung = await ask('Is the embedding service up?', headers)
    expect(hung.choices[0].message.content).toBeTruthy()
    expect(debugOf(hung)).toMatchObject({ cache_hit: false })
    // The cut lookup's embedding call is cancelled, not left hanging on the provider.
    for (let i = 0; i < 100 && embed.openConnections > 0; i++) await new Promise((r) => setTimeout(r, 20))
    expect(embed.openConnections).toBe(0)
    embed.reset()

    // The entries table is gone from under the gateway: lookups and writes fail, requests do not.
    const db = new SqliteDatabase(join(gw.appDir, 'config.db'))
    db.exec('ALTER TABLE semantic_cache_entries RENAME TO semantic_cache_entries_away')
    try {
      for (let i = 0; i < 2; i++) {
        const r = await ask('Is the cache store up?', { ...headers, 'x-bf-cache-type': 'direct' })
        expect(r.choices[0].message.content).toBeTruthy()
        expect(debugOf(r)).toMatchObject({ cache_hit: false })
      }
    } finally {
      db.exec('ALTER TABLE semantic_cache_entries_away RENAME TO semantic_cache_entries')
      db.close()
    }
  })

  it('is turned on and off through /api/plugins without a restart, and a bad config is refused with a 400', async () => {
    const base = cacheConfig(chat.url, embed.url)
    const gw = await startHeimdall({ ...base, plugins: [] })
    closers.push(() => gw.close())
    const ask = client(gw)
    const headers = { 'x-bf-cache-key': 'api', 'x-bf-cache-type': 'direct' }
    expect(debugOf(await ask('Is the cache on?', headers))).toBeUndefined()

    const bad = await callJson(gw.url, 'PUT', '/api/plugins/semantic_cache', {
      enabled: true,
      config: { provider: 'embedder', embedding_model: 'bag-of-words' },
    })
    expect(bad.status).toBe(400)
    expect(bad.body.error.message).toContain('dimension')
    const badTtl = await callJson(gw.url, 'PUT', '/api/plugins/semantic_cache', {
      enabled: true,
      config: { ttl: 'forever' },
    })
    expect(badTtl.status).toBe(400)
    expect(badTtl.body.error.message).toContain('ttl')

    const on = await callJson(gw.url, 'PUT', '/api/plugins/semantic_cache', { enabled: true, config: {} })
    expect(on.status).toBe(200)
    await ask('Is the cache on?', headers)
    const hit = await untilHit(() => ask('Is the cache on?', headers), debugOf)
    expect(debugOf(hit)).toMatchObject({ cache_hit: true, hit_type: 'direct' })
    expect((await callJson(gw.url, 'GET', '/api/plugins/semantic_cache')).body).toMatchObject({
      name: 'semantic_cache',
      enabled: true,
      isCustom: false,
      status: { status: 'active' },
    })

    const off = await callJson(gw.url, 'PUT', '/api/plugins/semantic_cache', { enabled: false })
    expect(off.status).toBe(200)
    expect(debugOf(await ask('Is the cache on?', headers))).toBeUndefined()
  })

  it('default_cache_key caches requests without the header; exclude_system_prompt and cache_by_model: false widen a match', async () => {
    const gw = await startHeimdall(
      cacheConfig(chat.url, embed.url, {
        default_cache_key: 'everyone',
        exclude_system_prompt: true,
        cache_by_model: false,
      }),
    )
    closers.push(() => gw.close())
    const openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-unused', maxRetries: 0 })
    const headers = { 'x-bf-cache-type': 'direct' }
    const ask = (model: string, system: string) =>
      openai.chat.completions.create(
        {
          model,
          messages: [
            { role: 'system', content: system },
            { role: 'user', content: 'What is the tallest tree species?' },
          ],
        },
        { headers },
      )
    const first = await ask('openai/gpt-4o-mini', 'You are terse.')
    expect(debugOf(first)).toMatchObject({ cache_hit: false })
    const hit = await untilHit(() => ask('openai/gpt-4o', 'You are verbose and friendly.'), debugOf)
    expect(debugOf(hit)).toMatchObject({ cache_hit: true, cache_id: debugOf(first)!.cache_id })
  })
})
