import type { Redis } from 'ioredis'
import { DEFAULT_PREFIX, connectRedis, redisCommandError } from './redis-connection.js'
import type { ClusterErrorHandler } from './types.js'

/**
 * Small records that expire, shared by every node (kept in Redis with several): state a node that
 * starts later must learn, such as the provider circuits open now. Not for the request path.
 */
export interface SharedRecords {
  /** Keeps `value` under (namespace, id) for `ttlMs`, replacing what was there. */
  put(namespace: string, id: string, value: unknown, ttlMs: number): Promise<void>
  delete(namespace: string, ids: readonly string[]): Promise<void>
  /** The namespace's records that have not expired. */
  list(namespace: string): Promise<{ id: string; value: unknown }[]>
  close(): Promise<void>
}

const HASH_TTL_MS = 24 * 60 * 60 * 1000

interface Stored {
  value: unknown
  expiresAt: number
}

/** The records of a single node. */
export class MemorySharedRecords implements SharedRecords {
  private readonly spaces = new Map<string, Map<string, Stored>>()

  async put(namespace: string, id: string, value: unknown, ttlMs: number): Promise<void> {
    let space = this.spaces.get(namespace)
    if (!space) this.spaces.set(namespace, (space = new Map()))
    space.set(id, { value: structuredClone(value), expiresAt: Date.now() + ttlMs })
  }

  async delete(namespace: string, ids: readonly string[]): Promise<void> {
    for (const id of ids) this.spaces.get(namespace)?.delete(id)
  }

  async list(namespace: string): Promise<{ id: string; value: unknown }[]> {
    const now = Date.now()
    const out: { id: string; value: unknown }[] = []
    for (const [id, r] of this.spaces.get(namespace) ?? []) {
      if (r.expiresAt > now) out.push({ id, value: structuredClone(r.value) })
      else this.spaces.get(namespace)?.delete(id)
    }
    return out
  }

  async close(): Promise<void> {
    this.spaces.clear()
  }
}

/**
 * Records in one Redis hash per namespace (`<prefix>records:<namespace>`), each field a JSON
 * `{value, expiresAt}`: a reader skips and removes expired fields, and the hash itself expires
 * a day after its last write.
 */
export class RedisSharedRecords implements SharedRecords {
  private constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  static async connect(
    url: string,
    opts: { prefix?: string; onError?: ClusterErrorHandler } = {},
  ): Promise<RedisSharedRecords> {
    const redis = await connectRedis(url, { name: 'heimdall-records', onError: opts.onError })
    return new RedisSharedRecords(redis, `${opts.prefix ?? DEFAULT_PREFIX}records:`)
  }

  async put(namespace: string, id: string, value: unknown, ttlMs: number): Promise<void> {
    const key = this.prefix + namespace
    const ms = Math.max(1, Math.ceil(ttlMs))
    const stored: Stored = { value, expiresAt: Date.now() + ms }
    try {
      // Fields cannot expire on their own (before Redis 7.4): the hash goes a day after its last write.
      await this.redis
        .multi()
        .hset(key, id, JSON.stringify(stored))
        .pexpire(key, Math.max(ms, HASH_TTL_MS))
        .exec()
    } catch (err) {
      throw redisCommandError(err, `storing a ${namespace} record`)
    }
  }

  async delete(namespace: string, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return
    try {
      await this.redis.hdel(this.prefix + namespace, ...ids)
    } catch (err) {
      throw redisCommandError(err, `deleting ${namespace} records`)
    }
  }

  async list(namespace: string): Promise<{ id: string; value: unknown }[]> {
    let all: Record<string, string>
    try {
      all = await this.redis.hgetall(this.prefix + namespace)
    } catch (err) {
      throw redisCommandError(err, `reading ${namespace} records`)
    }
    const now = Date.now()
    const out: { id: string; value: unknown }[] = []
    const expired: string[] = []
    for (const [id, raw] of Object.entries(all)) {
      let stored: Stored | undefined
      try {
        stored = JSON.parse(raw) as Stored
      } catch {
        stored = undefined
      }
      if (stored && typeof stored.expiresAt === 'number' && stored.expiresAt > now)
        out.push({ id, value: stored.value })
      else expired.push(id)
    }
    if (expired.length > 0) await this.delete(namespace, expired).catch(() => undefined)
    return out
  }

  async close(): Promise<void> {
    await this.redis.quit().then(
      () => undefined,
      () => this.redis.disconnect(),
    )
  }
}
