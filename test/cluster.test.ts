import net from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { GatewayError } from '../src/core/errors.js'
import {
  MemoryChangeBus,
  MemoryCounterStore,
  RedisChangeBus,
  RedisCounterStore,
  createCluster,
  windowExpiryMs,
  type ChangeBus,
  type CounterStore,
  type LimitCheck,
} from '../src/cluster/index.js'
import { deleteRedisKeys, REDIS_URL, redisPrefix } from './helpers/redis.js'

const PREFIX = redisPrefix('heimdall-test')
const MINUTE = 60_000
const TTL = 60_000

/**
 * One backend per describe block. Connections open inside the tests (not in a beforeAll hook,
 * whose failure vitest reports as skipped tests), so that an unreachable Redis fails every Redis test.
 */
interface Backend {
  kind: 'memory' | 'redis'
  /** A node's counter store; `nodes` > 1 gives stores on separate connections, as separate nodes have. */
  counters(nodes?: number): Promise<CounterStore[]>
  /** Two nodes' buses (the same bus twice in memory, where there is one node). */
  buses(onError?: (e: Error) => void): Promise<[ChangeBus, ChangeBus]>
  teardown(): Promise<void>
}

function memoryBackend(): Backend {
  const opened: { close(): Promise<void> }[] = []
  return {
    kind: 'memory',
    counters: async () => {
      const store = new MemoryCounterStore()
      opened.push(store)
      return [store]
    },
    buses: async (onError) => {
      const bus = new MemoryChangeBus(onError)
      opened.push(bus)
      return [bus, bus]
    },
    teardown: async () => {
      await Promise.all(opened.map((o) => o.close()))
    },
  }
}

function redisBackend(): Backend {
  const opened: { close(): Promise<void> }[] = []
  let shared: Promise<CounterStore> | undefined
  return {
    kind: 'redis',
    counters: async (nodes = 1) => {
      shared ??= RedisCounterStore.connect(REDIS_URL, { prefix: PREFIX }).then((s) => {
        opened.push(s)
        return s
      })
      const stores = [await shared]
      for (let i = 1; i < nodes; i++) {
        const s = await RedisCounterStore.connect(REDIS_URL, { prefix: PREFIX })
        opened.push(s)
        stores.push(s)
      }
      return stores
    },
    buses: async (onError) => {
      const a = await RedisChangeBus.connect(REDIS_URL, { prefix: PREFIX, onError })
      opened.push(a)
      const b = await RedisChangeBus.connect(REDIS_URL, { prefix: PREFIX, onError })
      opened.push(b)
      return [a, b]
    },
    teardown: async () => {
      await Promise.all(opened.map((o) => o.close()))
      await deleteRedisKeys(PREFIX)
    },
  }
}

let counterSeq = 0
/** A counter of its own for each test, so that tests never share usage. */
function counter(): string {
  return `c${++counterSeq}`
}

const W0 = Date.UTC(2025, 0, 1)
function check(c: string, limit: number, amount: number, windowStart = W0, windowMs = MINUTE): LimitCheck {
  return { counter: c, windowStart, windowMs, limit, amount }
}

async function inBatches<T>(n: number, size: number, f: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = []
  for (let start = 0; start < n; start += size) {
    const batch = Array.from({ length: Math.min(size, n - start) }, (_, k) => f(start + k))
    out.push(...(await Promise.all(batch)))
  }
  return out
}

const backends = [memoryBackend(), redisBackend()]
afterAll(async () => {
  await Promise.all(backends.map((b) => b.teardown()))
})

describe.each(backends)('cluster counters ($kind)', (backend) => {
  it('admits below the limit and refuses once usage reaches it', async () => {
    const [store] = await backend.counters()
    const c = counter()
    const ids: string[] = []
    for (let i = 0; i < 3; i++) {
      const r = await store.reserve([check(c, 3, 1)], { ttlMs: TTL })
      expect(r).toMatchObject({ ok: true, reserved: [1] })
      if (r.ok) ids.push(r.reservationId)
    }
    expect(await store.reserve([check(c, 3, 1)], { ttlMs: TTL })).toEqual({
      ok: false,
      index: 0,
      used: 0,
      reserved: 3,
      limit: 3,
    })
    for (const id of ids) await store.settle(id, [1])
    expect(await store.read(c, W0)).toEqual({ used: 3, reserved: 0 })
    expect(await store.reserve([check(c, 3, 1)], { ttlMs: TTL })).toMatchObject({
      ok: false,
      used: 3,
      reserved: 0,
    })
  })

  it('caps a hold at what remains below the limit, so a small budget still admits', async () => {
    const [store] = await backend.counters()
    const c = counter()
    await store.reset(c, W0, MINUTE, 0.9)
    const r = await store.reserve([check(c, 1.0, 5)], { ttlMs: TTL })
    expect(r).toMatchObject({ ok: true, reserved: [0.1] })
    expect(await store.read(c, W0)).toEqual({ used: 0.9, reserved: 0.1 })
    expect(await store.reserve([check(c, 1.0, 0.01)], { ttlMs: TTL })).toMatchObject({ ok: false, index: 0 })

    const small = counter()
    expect(await store.reserve([check(small, 0.001, 0.5)], { ttlMs: TTL })).toMatchObject({
      ok: true,
      reserved: [0.001],
    })
  })

  it('accepts an amount of 0', async () => {
    const [store] = await backend.counters()
    const c = counter()
    const r = await store.reserve([check(c, 1, 0)], { ttlMs: TTL })
    expect(r).toMatchObject({ ok: true, reserved: [0] })
    if (r.ok) await store.settle(r.reservationId, [0.25])
    expect(await store.read(c, W0)).toEqual({ used: 0.25, reserved: 0 })
  })

  it('reserves all checks or none, and names the first that refused', async () => {
    const [store] = await backend.counters()
    const [key, team, customer] = [counter(), counter(), counter()]
    await store.add(team, W0, MINUTE, 5)
    await store.add(customer, W0, MINUTE, 5)
    const refused = await store.reserve([check(key, 10, 1), check(team, 5, 1), check(customer, 5, 1)], {
      ttlMs: TTL,
    })
    expect(refused).toEqual({ ok: false, index: 1, used: 5, reserved: 0, limit: 5 })
    expect(await store.read(key, W0)).toEqual({ used: 0, reserved: 0 })

    const ok = await store.reserve([check(key, 10, 2), check(team, 100, 3), check(customer, 100, 4)], {
      ttlMs: TTL,
    })
    expect(ok).toMatchObject({ ok: true, reserved: [2, 3, 4] })
    expect(await store.read(team, W0)).toEqual({ used: 5, reserved: 3 })
  })

  it('counts a counter named twice in one reservation against itself', async () => {
    const [store] = await backend.counters()
    const c = counter()
    const r = await store.reserve([check(c, 1, 0.6), check(c, 1, 0.6)], { ttlMs: TTL })
    expect(r).toMatchObject({ ok: true, reserved: [0.6, 0.4] })
    expect(await store.reserve([check(c, 1, 0.6), check(c, 1, 0.6)], { ttlMs: TTL })).toMatchObject({
      ok: false,
      index: 0,
      reserved: 1,
    })
    if (r.ok) await store.settle(r.reservationId, [0.5, 0.5])
    expect(await store.read(c, W0)).toEqual({ used: 1, reserved: 0 })
  })

  it('settles with the actual amounts, once, even beyond the limit', async () => {
    const [store] = await backend.counters()
    const c = counter()
    const r = await store.reserve([check(c, 1, 0.5)], { ttlMs: TTL })
    if (!r.ok) throw new Error('refused')
    await store.settle(r.reservationId, [0.7])
    expect(await store.read(c, W0)).toEqual({ used: 0.7, reserved: 0 })
    await store.settle(r.reservationId, [0.7])
    await store.release(r.reservationId)
    expect(await store.read(c, W0)).toEqual({ used: 0.7, reserved: 0 })

    // The bounded overshoot: what a request in flight really cost is charged in full.
    const late = await store.reserve([check(c, 1, 0.2)], { ttlMs: TTL })
    expect(late).toMatchObject({ ok: true, reserved: [0.2] })
    if (late.ok) await store.settle(late.reservationId, [0.6])
    expect(await store.read(c, W0)).toEqual({ used: 1.3, reserved: 0 })
    expect(await store.reserve([check(c, 1, 0.01)], { ttlMs: TTL })).toMatchObject({ ok: false, used: 1.3 })
  })

  it('releases a reservation without charging it', async () => {
    const [store] = await backend.counters()
    const c = counter()
    const r = await store.reserve([check(c, 2, 2)], { ttlMs: TTL })
    if (!r.ok) throw new Error('refused')
    expect(await store.reserve([check(c, 2, 1)], { ttlMs: TTL })).toMatchObject({ ok: false })
    await store.release(r.reservationId)
    expect(await store.read(c, W0)).toEqual({ used: 0, reserved: 0 })
    await store.settle(r.reservationId, [2])
    expect(await store.read(c, W0)).toEqual({ used: 0, reserved: 0 })
    expect(await store.reserve([check(c, 2, 1)], { ttlMs: TTL })).toMatchObject({ ok: true })
  })

  it('returns the same holds when a reservation id is reserved again', async () => {
    const [store] = await backend.counters()
    const c = counter()
    const first = await store.reserve([check(c, 10, 4)], { ttlMs: TTL, reservationId: 'retry-1' })
    const again = await store.reserve([check(c, 10, 4)], { ttlMs: TTL, reservationId: 'retry-1' })
    expect(first).toEqual({ ok: true, reservationId: 'retry-1', reserved: [4], remaining: [6] })
    // A repeated id returns the same holds; the room left is no longer known then.
    expect(again).toMatchObject({ ok: true, reservationId: 'retry-1', reserved: [4] })
    expect(await store.read(c, W0)).toEqual({ used: 0, reserved: 4 })
  })

  it('lets leaked holds expire after their ttl, and still charges a late settle', async () => {
    const [store] = await backend.counters()
    const c = counter()
    const leaked = await store.reserve([check(c, 1, 0.7)], { ttlMs: 150 })
    const live = await store.reserve([check(c, 1, 0.3)], { ttlMs: TTL })
    expect([leaked.ok, live.ok]).toEqual([true, true])
    expect(await store.reserve([check(c, 1, 0.1)], { ttlMs: TTL })).toMatchObject({ ok: false, reserved: 1 })
    await sleep(300)
    expect(await store.read(c, W0)).toEqual({ used: 0, reserved: 0.3 })
    const next = await store.reserve([check(c, 1, 0.4)], { ttlMs: TTL })
    expect(next).toMatchObject({ ok: true, reserved: [0.4] })
    // The leaked request did finish after all: its cost counts, its expired hold does not.
    if (leaked.ok) await store.settle(leaked.reservationId, [0.5])
    expect(await store.read(c, W0)).toEqual({ used: 0.5, reserved: 0.7 })
    if (live.ok) await store.release(live.reservationId)
    if (next.ok) await store.release(next.reservationId)
    expect(await store.read(c, W0)).toEqual({ used: 0.5, reserved: 0 })
  })

  it('starts every new window from zero', async () => {
    const [store] = await backend.counters()
    const c = counter()
    await store.add(c, W0, MINUTE, 10)
    expect(await store.reserve([check(c, 10, 1)], { ttlMs: TTL })).toMatchObject({ ok: false })
    const w1 = W0 + MINUTE
    expect(await store.read(c, w1)).toEqual({ used: 0, reserved: 0 })
    expect(await store.reserve([check(c, 10, 1, w1)], { ttlMs: TTL })).toMatchObject({ ok: true })
    expect(await store.read(c, W0)).toEqual({ used: 10, reserved: 0 })
  })

  it('resets usage and keeps the holds of requests in flight', async () => {
    const [store] = await backend.counters()
    const c = counter()
    await store.add(c, W0, MINUTE, 7)
    const r = await store.reserve([check(c, 10, 2)], { ttlMs: TTL })
    await store.reset(c, W0, MINUTE)
    expect(await store.read(c, W0)).toEqual({ used: 0, reserved: 2 })
    if (r.ok) await store.settle(r.reservationId, [1.5])
    expect(await store.read(c, W0)).toEqual({ used: 1.5, reserved: 0 })
    await store.add(c, W0, MINUTE, -0.5)
    expect(await store.read(c, W0)).toEqual({ used: 1, reserved: 0 })
  })

  it('adds 10,000 settles of 0.000123 to exactly 1.23', async () => {
    const [store] = await backend.counters()
    const c = counter()
    await inBatches(10_000, 500, async () => {
      const r = await store.reserve([check(c, 100, 0.000123)], { ttlMs: TTL })
      if (!r.ok) throw new Error('refused')
      await store.settle(r.reservationId, [0.000123])
    })
    expect(await store.read(c, W0)).toEqual({ used: 1.23, reserved: 0 })
  })

  it('admits exactly the limit of 200 concurrent requests across three nodes', async () => {
    const nodes = await backend.counters(backend.kind === 'redis' ? 3 : 1)
    const c = counter()
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        nodes[i % nodes.length].reserve([check(c, 50, 1)], { ttlMs: TTL }),
      ),
    )
    expect(results.filter((r) => r.ok)).toHaveLength(50)
    expect(await nodes[0].read(c, W0)).toEqual({ used: 0, reserved: 50 })
  })

  it('never spends a budget beyond what was in flight when it ran out', async () => {
    const nodes = await backend.counters(backend.kind === 'redis' ? 3 : 1)
    const budget = counter()
    let settled = 0
    await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const node = nodes[i % nodes.length]
        const r = await node.reserve([check(budget, 0.25, 0.01, W0, 30 * 24 * 3_600_000)], { ttlMs: TTL })
        if (!r.ok) return
        await sleep(Math.random() * 20)
        await node.settle(r.reservationId, [0.01])
        settled++
      }),
    )
    expect(settled).toBe(25)
    expect(await nodes[0].read(budget, W0)).toEqual({ used: 0.25, reserved: 0 })
  })

  it('bounds the overshoot of underestimated requests by what was in flight', async () => {
    const [store] = await backend.counters()
    const budget = counter()
    let admitted = 0
    // Ten requests at a time, each estimated at 0.001 and costing 0.01.
    for (let round = 0; round < 10; round++) {
      const rs = await Promise.all(
        Array.from({ length: 10 }, () => store.reserve([check(budget, 0.05, 0.001)], { ttlMs: TTL })),
      )
      const ok = rs.filter((r) => r.ok)
      admitted += ok.length
      await Promise.all(ok.map((r) => store.settle(r.reservationId, [0.01])))
    }
    const { used } = await store.read(budget, W0)
    // The budget ran out during a round of at most 10 in flight.
    expect(used).toBeGreaterThanOrEqual(0.05)
    expect(used).toBeLessThanOrEqual(0.05 + 10 * 0.01)
    expect(admitted).toBeLessThanOrEqual(15)
  })

  it('rejects amounts that are not finite', async () => {
    const [store] = await backend.counters()
    await expect(store.reserve([check(counter(), 1, Number.NaN)], { ttlMs: TTL })).rejects.toThrow(
      GatewayError,
    )
    await expect(store.reserve([check(counter(), 1, 1)], { ttlMs: 0 })).rejects.toThrow(/ttlMs/)
    await expect(store.settle('x', [-1])).rejects.toThrow(/negative/)
  })

  it('counts without refusing when the limit is Infinity', async () => {
    const [store] = await backend.counters()
    const c = counter()
    const r = await store.reserve([check(c, Infinity, 1e6)], { ttlMs: TTL })
    expect(r).toMatchObject({ ok: true, reserved: [1e6] })
    if (r.ok) await store.settle(r.reservationId, [2e6])
    expect(await store.read(c, W0)).toEqual({ used: 2e6, reserved: 0 })
  })
})

describe.each(backends)('cluster change bus ($kind)', (backend) => {
  it('delivers a message to every node, the publisher included, within a second', async () => {
    const [a, b] = await backend.buses()
    const topic = `t-${counter()}`
    const atA: unknown[] = []
    const atB = new Promise<unknown>((resolve) => b.subscribe(topic, resolve))
    a.subscribe(topic, (m) => atA.push(m))
    const sent = { kind: 'virtual_key', id: 'vk-1', at: 1 }
    await a.publish(topic, sent)
    const received = await Promise.race([atB, sleep(1000).then(() => 'timeout')])
    expect(received).toEqual(sent)
    expect(received).not.toBe(sent)
    await expect.poll(() => atA, { timeout: 1000 }).toEqual([sent])
  })

  it('delivers asynchronously, after publish returns', async () => {
    const [a] = await backend.buses()
    const topic = `t-${counter()}`
    const got: unknown[] = []
    a.subscribe(topic, (m) => got.push(m))
    await a.publish(topic, 1)
    expect(got).toEqual([])
    await expect.poll(() => got, { timeout: 1000 }).toEqual([1])
  })

  it('stops delivering to a handler once unsubscribed', async () => {
    const [a, b] = await backend.buses()
    const topic = `t-${counter()}`
    const gone: unknown[] = []
    const kept: unknown[] = []
    const unsubscribe = b.subscribe(topic, (m) => gone.push(m))
    b.subscribe(topic, (m) => kept.push(m))
    await a.publish(topic, 'one')
    await expect.poll(() => kept, { timeout: 1000 }).toEqual(['one'])
    unsubscribe()
    await a.publish(topic, 'two')
    await a.publish(topic, 'three')
    await expect.poll(() => kept, { timeout: 1000 }).toEqual(['one', 'two', 'three'])
    expect(gone).toEqual(['one'])
  })

  it('keeps delivering to other handlers when one throws', async () => {
    const errors: Error[] = []
    const [a, b] = await backend.buses((e) => errors.push(e))
    const topic = `t-${counter()}`
    const got: unknown[] = []
    b.subscribe(topic, () => {
      throw new Error('handler failed')
    })
    b.subscribe(topic, (m) => got.push(m))
    await a.publish(topic, { n: 1 })
    await expect.poll(() => got, { timeout: 1000 }).toEqual([{ n: 1 }])
    expect(errors.map((e) => e.message)).toContain('handler failed')
  })
})

/** A TCP proxy in front of Redis that a test can cut and restore, to play a Redis outage. */
class RedisOutage {
  private server: net.Server | undefined
  private readonly sockets = new Set<net.Socket>()
  port = 0

  async start(): Promise<string> {
    const target = new URL(REDIS_URL)
    this.server = net.createServer((client) => {
      const upstream = net.connect(Number(target.port || 6379), target.hostname)
      for (const s of [client, upstream]) {
        this.sockets.add(s)
        s.on('close', () => this.sockets.delete(s))
        s.on('error', () => undefined)
      }
      client.pipe(upstream)
      upstream.pipe(client)
    })
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve))
    this.port = (this.server.address() as net.AddressInfo).port
    const url = new URL(REDIS_URL)
    url.hostname = '127.0.0.1'
    url.port = String(this.port)
    return url.toString()
  }

  async cut(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server?.close(() => resolve())
      for (const s of this.sockets) s.destroy()
    })
  }
}

describe('cluster on Redis', () => {
  it('chooses memory without a Redis URL and Redis with one', async () => {
    const memory = await createCluster({})
    expect(memory.kind).toBe('memory')
    await memory.close()
    const redis = await createCluster({ redisUrl: REDIS_URL, prefix: PREFIX })
    try {
      expect(redis.kind).toBe('redis')
      const c = counter()
      await redis.counters.add(c, W0, MINUTE, 1)
      expect(await redis.counters.read(c, W0)).toEqual({ used: 1, reserved: 0 })
    } finally {
      await redis.close()
    }
  })

  it('fails at start with a clear error when Redis cannot be reached', async () => {
    // Nothing listens on a port that a closed server just released.
    const outage = new RedisOutage()
    const url = await outage.start()
    await outage.cut()
    const started = Date.now()
    await expect(createCluster({ redisUrl: url.replace('//', '//:secret@') })).rejects.toThrow(
      /cannot connect to Redis at redis:\/\/:\*\*\*@127\.0\.0\.1/,
    )
    expect(Date.now() - started).toBeLessThan(5_000)
  })

  it('rejects a reservation promptly while Redis is away, and recovers when it is back', async () => {
    const outage = new RedisOutage()
    const url = await outage.start()
    const store = await RedisCounterStore.connect(url, { prefix: PREFIX })
    try {
      const c = counter()
      expect(await store.reserve([check(c, 10, 1)], { ttlMs: TTL })).toMatchObject({ ok: true })
      await outage.cut()
      const started = Date.now()
      await expect(store.reserve([check(c, 10, 1)], { ttlMs: TTL })).rejects.toThrow(/Redis is unavailable/)
      expect(Date.now() - started).toBeLessThan(3_000)
      await outage.start()
      await expect
        .poll(
          () =>
            store.reserve([check(c, 10, 1)], { ttlMs: TTL }).then(
              (r) => r.ok,
              () => false,
            ),
          {
            timeout: 8_000,
            interval: 200,
          },
        )
        .toBe(true)
      expect(await store.read(c, W0)).toEqual({ used: 0, reserved: 2 })
    } finally {
      await store.close()
      await outage.cut()
    }
  })

  it('tells the caller to reload after the bus reconnects, and delivers again', async () => {
    const outage = new RedisOutage()
    const url = await outage.start()
    const bus = await RedisChangeBus.connect(url, { prefix: PREFIX })
    const publisher = await RedisChangeBus.connect(REDIS_URL, { prefix: PREFIX })
    try {
      let reconnects = 0
      bus.onReconnect(() => reconnects++)
      const topic = `t-${counter()}`
      const got: unknown[] = []
      bus.subscribe(topic, (m) => got.push(m))
      await outage.cut()
      await sleep(100)
      await outage.start()
      await expect.poll(() => reconnects, { timeout: 8_000 }).toBe(1)
      await publisher.publish(topic, 'after')
      await expect.poll(() => got, { timeout: 1_000 }).toEqual(['after'])
    } finally {
      await bus.close()
      await publisher.close()
      await outage.cut()
    }
  })

  it('expires window data after the window and its margin, and keeps no stale hold total', async () => {
    const [store] = await backends[1].counters()
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 })
    redis.on('error', () => undefined)
    try {
      const c = counter()
      const r = await store.reserve([check(c, 10, 1)], { ttlMs: 100 })
      const hash = `${PREFIX}w:${c}:${W0}`
      const pttl = await redis.pttl(hash)
      expect(pttl).toBeGreaterThan(windowExpiryMs(MINUTE) - 5_000)
      expect(pttl).toBeLessThanOrEqual(windowExpiryMs(MINUTE))
      expect(await redis.pttl(`${PREFIX}rsv:${r.ok ? r.reservationId : ''}`)).toBeGreaterThan(0)
      await sleep(200)
      await store.read(c, W0)
      expect(await redis.hgetall(hash)).toEqual({})
      expect(await redis.exists(`${PREFIX}wr:${c}:${W0}`)).toBe(0)
    } finally {
      redis.disconnect()
    }
  })

  it('refuses a reserve that reaches Redis after its id was released (a stalled reserve landing late)', async () => {
    const [store] = await backends[1].counters()
    const c = counter()
    const id = `late-${counter()}`
    await store.release(id)
    await expect(store.reserve([check(c, 10, 3)], { ttlMs: TTL, reservationId: id })).rejects.toMatchObject({
      code: 'store_unavailable',
    })
    expect(await store.read(c, W0)).toEqual({ used: 0, reserved: 0 })
  })

  it('seeds the counters from the durable store when Redis lost them, before admitting, and never lowers a figure', async () => {
    const prefix = `${PREFIX}reseed-${counter()}:`
    const store = await RedisCounterStore.connect(REDIS_URL, { prefix })
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 })
    redis.on('error', () => undefined)
    try {
      const c = counter()
      let seeded = 0
      let stored = 7
      store.onReset(async () => {
        seeded++
        return [{ counter: c, windowStart: W0, windowMs: MINUTE, used: stored }]
      })
      const first = await store.reserve([check(c, 10, 1)], { ttlMs: TTL })
      expect(first).toMatchObject({ ok: true, remaining: [2] })
      expect(seeded).toBe(1)
      if (first.ok) await store.settle(first.reservationId, [1])
      expect((await store.read(c, W0)).used).toBe(8)
      // Redis loses the epoch only: a seed with a smaller stored figure leaves the counter as it is.
      await redis.del(`${prefix}epoch`)
      stored = 5
      const second = await store.reserve([check(c, 10, 1)], { ttlMs: TTL })
      expect(second).toMatchObject({ ok: true, remaining: [1] })
      expect(seeded).toBe(2)
      // Once seeded, reserves run as one script again.
      await store.reserve([check(c, 10, 1)], { ttlMs: TTL })
      expect(seeded).toBe(2)
    } finally {
      redis.disconnect()
      await store.close()
      await deleteRedisKeys(prefix)
    }
  })

  it('charges a settle whose reservation Redis lost to the windows it was reserved in, once', async () => {
    const [store] = await backends[1].counters()
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 })
    redis.on('error', () => undefined)
    try {
      const c = counter()
      const checks = [check(c, 10, 2)]
      const r = await store.reserve(checks, { ttlMs: TTL })
      if (!r.ok) throw new Error('refused')
      // Redis restarted empty: the record and the window are gone.
      await redis.del(`${PREFIX}rsv:${r.reservationId}`, `${PREFIX}w:${c}:${W0}`, `${PREFIX}wr:${c}:${W0}`)
      await store.settle(r.reservationId, [3], checks)
      await store.settle(r.reservationId, [3], checks)
      expect(await store.read(c, W0)).toEqual({ used: 3, reserved: 0 })
    } finally {
      redis.disconnect()
    }
  })
})
