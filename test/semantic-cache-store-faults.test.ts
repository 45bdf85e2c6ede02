import OpenAI from 'openai'
import { afterAll, describe, expect, it } from 'vitest'
import { startFakeBagOfWordsEmbeddings } from './fakes/bag-of-words-embeddings.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'
import { killOwnRedises, startOwnRedis, type OwnRedis } from './helpers/redis-server.js'
import { cacheConfig, debugOf, untilHit } from './helpers/semantic-cache.js'

/**
 * The cache's Redis (a test's own redis-server) frozen with SIGSTOP, then killed: every request is
 * still answered by the provider, within the lookup timeout, and the cache serves again once Redis
 * is back.
 */
const LOOKUP_TIMEOUT_MS = 300

describe('semantic_cache with a frozen or stopped Redis store', () => {
  let chat: FakeServer | undefined
  let embed: FakeServer | undefined
  let redis: OwnRedis | undefined
  let gw: RunningHeimdall | undefined

  afterAll(async () => {
    redis?.thaw()
    await gw?.close()
    await chat?.close()
    await embed?.close()
    await redis?.stop()
    await killOwnRedises()
  })

  it('a request never waits on a broken store beyond the lookup timeout', async () => {
    chat = await startFakeOpenAI()
    embed = await startFakeBagOfWordsEmbeddings()
    redis = await startOwnRedis()
    gw = await startHeimdall(
      cacheConfig(chat.url, embed.url, {
        store: 'redis',
        redis_url: redis.url,
        lookup_timeout_ms: LOOKUP_TIMEOUT_MS,
      }),
    )
    const openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-unused', maxRetries: 0 })
    const headers = { 'x-bf-cache-key': 'faults', 'x-bf-cache-type': 'direct' }
    const ask = async (content: string) => {
      const t0 = performance.now()
      const r = await openai.chat.completions.create(
        { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content }] },
        { headers },
      )
      return { r, ms: performance.now() - t0 }
    }

    await ask('Is the store up?')
    const up = await untilHit(
      () => ask('Is the store up?'),
      (a) => debugOf(a.r),
    )
    expect(debugOf(up.r)).toMatchObject({ cache_hit: true, hit_type: 'direct' })

    // Frozen: the connection stays open and nothing answers. The lookup gives up, the provider answers.
    redis.freeze()
    for (const q of ['Is the store up?', 'Is the store frozen?']) {
      const frozen = await ask(q)
      expect(frozen.r.choices[0].message.content).toBeTruthy()
      expect(debugOf(frozen.r)).toMatchObject({ cache_hit: false })
      // The lookup timeout plus the fake provider's answer, with room for a loaded CI machine.
      expect(frozen.ms).toBeLessThan(LOOKUP_TIMEOUT_MS + 1500)
    }
    redis.thaw()

    // Killed: commands fail at once; nothing waits for a reconnection.
    await redis.down()
    const down = await ask('Is the store down?')
    expect(debugOf(down.r)).toMatchObject({ cache_hit: false })
    expect(down.ms).toBeLessThan(LOOKUP_TIMEOUT_MS + 1500)

    // Back (empty): entries are written and served again.
    await redis.up()
    const end = Date.now() + 10_000
    let again = await ask('Is the store back?')
    while (!debugOf(again.r)?.cache_hit && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 50))
      again = await ask('Is the store back?')
    }
    expect(debugOf(again.r)).toMatchObject({ cache_hit: true, hit_type: 'direct' })
  })
})
