import { Redis } from 'ioredis'
import OpenAI from 'openai'
import { afterAll, describe, expect, it } from 'vitest'
import type { ConfigFile } from '../src/core/schemas/index.js'
import { startFakeBagOfWordsEmbeddings } from './fakes/bag-of-words-embeddings.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { postgresBackend } from './helpers/databases.js'
import { callJson, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'
import { deleteRedisKeys, REDIS_URL, redisPrefix } from './helpers/redis.js'
import { cacheConfig, debugOf, untilHit } from './helpers/semantic-cache.js'

/**
 * Two nodes sharing the cache's entries, both started before anything is cached: in the PostgreSQL
 * config store they share, or in Redis while each keeps its own SQLite config store. An entry one
 * node writes answers the other, exactly and by meaning (its vector index learns the entry from the
 * bus), and a clear on one node is seen by the other.
 */
describe.each([
  { store: 'config_store' as const, shared: 'PostgreSQL' },
  { store: 'redis' as const, shared: 'Redis' },
])('semantic_cache across nodes, entries in $shared', ({ store }) => {
  const db = postgresBackend(`semantic-cache-cluster-${store}`)
  const prefix = redisPrefix(`heimdall-semantic-cache-${store}`)
  const nodes: RunningHeimdall[] = []
  let chat: FakeServer | undefined
  let embed: FakeServer | undefined

  afterAll(async () => {
    for (const node of nodes.splice(0)) await node.close()
    await chat?.close()
    await embed?.close()
    await deleteRedisKeys(prefix)
    await db.teardown()
  })

  it("a second node answers from the first node's entry, and a clear reaches both", async () => {
    chat = await startFakeOpenAI()
    embed = await startFakeBagOfWordsEmbeddings()
    const base = cacheConfig(chat.url, embed.url, { store })
    const config: ConfigFile = {
      ...base,
      // Redis: each node its own SQLite config store, so that only Redis holds what they share.
      ...(store === 'config_store' && {
        config_store: { enabled: true, type: 'postgres', config: { connection_string: await db.freshUrl() } },
      }),
      cluster: { redis_url: REDIS_URL, prefix },
    }
    nodes.push(await startHeimdall(config), await startHeimdall(config))
    const [one, two] = nodes as [RunningHeimdall, RunningHeimdall]
    const ask = (node: RunningHeimdall, content: string, headers: Record<string, string> = {}) =>
      new OpenAI({ baseURL: `${node.url}/v1`, apiKey: 'sk-unused', maxRetries: 0 }).chat.completions.create(
        { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content }] },
        { headers: { 'x-bf-cache-key': 'cluster', ...headers } },
      )
    // Looked up, never stored: a miss here cannot turn into an exact entry of its own.
    const noStore = { 'x-bf-cache-no-store': 'true' }

    const written = await ask(one, 'What is the boiling point of water at sea level?')
    expect(debugOf(written)).toMatchObject({ cache_hit: false })
    // Until the entry's id reaches node two over the change bus, node two may find it by meaning
    // (similarity 1) rather than by its hash: wait for the exact hit.
    const exact = await untilHit(
      () => ask(two, 'What is the boiling point of water at sea level?'),
      (r) => (debugOf(r)?.hit_type === 'direct' ? debugOf(r) : undefined),
    )
    expect(debugOf(exact)).toMatchObject({
      cache_hit: true,
      hit_type: 'direct',
      cache_id: debugOf(written)!.cache_id,
    })
    if (store === 'redis') {
      // The entry lives in Redis, where the other node read it (each node's SQLite store is its own).
      const redis = new Redis(REDIS_URL)
      const stored = await redis.get(`${prefix}semantic_cache:e:${debugOf(written)!.cache_id}`)
      redis.disconnect()
      expect(JSON.parse(stored!)).toMatchObject({
        cacheKey: 'cluster',
        namespace: 'BifrostSemanticCachePlugin',
      })
    }
    const similar = await untilHit(
      () => ask(two, 'what is the boiling point of water at sea level', noStore),
      debugOf,
    )
    expect(debugOf(similar)).toMatchObject({ cache_hit: true, hit_type: 'semantic' })
    expect(similar.choices[0].message.content).toBe(written.choices[0].message.content)

    const cleared = await callJson(two.url, 'DELETE', '/api/cache/clear-by-key/cluster')
    expect(cleared.status).toBe(200)
    expect(cleared.body.cleared).toBe(1)
    const after = await ask(one, 'what is the boiling point of water at sea level', noStore)
    expect(debugOf(after)).toMatchObject({ cache_hit: false })
  })
})
