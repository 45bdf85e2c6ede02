import { afterAll, describe, expect, it } from 'vitest'
import {
  MemoryCounterStore,
  RedisCounterStore,
  RECORD_GRACE_MS,
  type CounterStore,
  type LimitCheck,
} from '../src/cluster/index.js'
import { deleteRedisKeys, REDIS_URL, redisPrefix } from './helpers/redis.js'

/**
 * The ends of a reservation that arrive out of order behave the same on both counter stores: a
 * reserve landing after its id was released holds nothing, a settle whose record is gone charges
 * once. On Redis, every node learns of counters seeded again after a loss, with the time the seed
 * read the store, so that it can add back what the seed missed.
 */

const PREFIX = redisPrefix('heimdall-late-finish')
const W0 = Date.UTC(2025, 0, 1)
const MINUTE = 60_000
const TTL = 60_000
afterAll(() => deleteRedisKeys(PREFIX))

let seq = 0
const check = (limit: number, amount: number): LimitCheck => ({
  counter: `late-${++seq}`,
  windowStart: W0,
  windowMs: MINUTE,
  limit,
  amount,
})

const stores: { kind: string; open: (now?: () => number) => Promise<CounterStore> }[] = [
  { kind: 'memory', open: async (now) => new MemoryCounterStore({ now }) },
  { kind: 'redis', open: async () => RedisCounterStore.connect(REDIS_URL, { prefix: PREFIX }) },
]

describe.each(stores)('$kind counters, ends arriving out of order', ({ kind, open }) => {
  it('a reserve that lands after its id was released (its caller gave up) holds nothing', async () => {
    const store = await open()
    try {
      const c = check(10, 3)
      await store.release('gave-up-' + kind)
      await expect(
        store.reserve([c], { ttlMs: TTL, reservationId: 'gave-up-' + kind }),
      ).rejects.toMatchObject({
        code: 'store_unavailable',
      })
      expect(await store.read(c.counter, W0)).toEqual({ used: 0, reserved: 0 })
    } finally {
      await store.close()
    }
  })

  it('a settle after its hold expired still charges, once; a second settle of the id does nothing', async () => {
    let now = Date.now()
    const store = await open(() => now)
    try {
      const c = check(10, 2)
      const r = await store.reserve([c], { ttlMs: 1000 })
      if (!r.ok) throw new Error('refused')
      await store.settle(r.reservationId, [3], [c])
      await store.settle(r.reservationId, [3], [c])
      expect(await store.read(c.counter, W0)).toEqual({ used: 3, reserved: 0 })
      if (kind === 'memory') {
        // The record itself expired (the request outlived its hold and the grace): charged to the checks, once.
        const d = check(10, 2)
        const late = await store.reserve([d], { ttlMs: 1000 })
        if (!late.ok) throw new Error('refused')
        now += 1000 + RECORD_GRACE_MS + 1
        await store.settle(late.reservationId, [4], [d])
        await store.settle(late.reservationId, [4], [d])
        expect(await store.read(d.counter, W0)).toEqual({ used: 4, reserved: 0 })
      }
    } finally {
      await store.close()
    }
  })
})

describe('Redis counters seeded again after a loss', () => {
  it('tell every node once, with the time the seed began reading the store, and never on first sight', async () => {
    const prefix = `${PREFIX}epoch-${++seq}:`
    const [a, b] = await Promise.all([
      RedisCounterStore.connect(REDIS_URL, { prefix }),
      RedisCounterStore.connect(REDIS_URL, { prefix }),
    ])
    try {
      const heard: { node: string; at: number }[] = []
      for (const [node, s] of [['a', a] as const, ['b', b] as const]) {
        s.onReset(async () => [])
        s.onReseeded((at) => heard.push({ node, at }))
      }
      const c = check(100, 1)
      for (const s of [a, b]) {
        const r = await s.reserve([c], { ttlMs: TTL })
        if (r.ok) await s.settle(r.reservationId, [1], [c])
      }
      // Both learnt the first epoch; neither was told of a loss.
      expect(heard).toEqual([])

      // Redis restarted empty.
      await deleteRedisKeys(prefix)
      const before = Date.now()
      const r = await a.reserve([c], { ttlMs: TTL })
      const after = Date.now()
      expect(r.ok).toBe(true)
      // A, which seeded, was told by the time its reserve answered.
      const seeded = heard.find((h) => h.node === 'a')
      expect(seeded).toBeDefined()
      expect(seeded!.at).toBeGreaterThanOrEqual(before)
      expect(seeded!.at).toBeLessThanOrEqual(after)
      // B hears of it on its next call, or within its periodic check (1 s) when it makes none (which
      // may fall while A's seed is still answering): once, with the same time.
      const deadline = Date.now() + 3000
      while (heard.length < 2 && Date.now() < deadline) await new Promise((d) => setTimeout(d, 50))
      expect([...heard].sort((x, y) => x.node.localeCompare(y.node))).toEqual([
        { node: 'a', at: seeded!.at },
        { node: 'b', at: seeded!.at },
      ])
      // A settle of B's in the lost epoch charges the new one (its record is gone), once.
      if (r.ok) await b.settle(r.reservationId, [1], [c])
      expect((await a.read(c.counter, W0)).used).toBe(1)
      expect(heard).toHaveLength(2)
    } finally {
      await Promise.all([a.close(), b.close()])
      await deleteRedisKeys(prefix)
    }
  })
})
