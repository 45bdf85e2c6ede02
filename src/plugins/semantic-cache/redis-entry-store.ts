import { Redis } from 'ioredis'
import type { CacheEntries, CacheEntry } from './entry-store.js'

/** Ids are read from Redis this many at a time (MGET, EXISTS). */
const BATCH = 500

/**
 * Entries in Redis, shared by every node: each entry a JSON string that expires by itself (PX),
 * a set of every id (to rebuild a node's vector index and to notice expired entries) and a set per
 * cache key (to clear a key). A connection that is down fails a command at once (no offline
 * queue) and a hung one within `commandTimeoutMs`: the lookup is then a miss.
 */
export class RedisEntryStore implements CacheEntries {
  private readonly p: string

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.p = `${prefix}semantic_cache:`
  }

  static open(url: string, prefix: string, commandTimeoutMs: number): RedisEntryStore {
    const redis = new Redis(url, {
      connectionName: 'heimdall-semantic-cache',
      connectTimeout: 2000,
      commandTimeout: commandTimeoutMs,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
    })
    // Failures surface as failed commands (a miss, a lost write); the connection retries by itself.
    redis.on('error', () => undefined)
    return new RedisEntryStore(redis, prefix)
  }

  private entryKey(id: string): string {
    return `${this.p}e:${id}`
  }

  async put(e: CacheEntry): Promise<void> {
    const ttl = Math.max(1, Math.round(e.expiresAt - Date.now()))
    await this.redis
      .multi()
      .set(this.entryKey(e.id), JSON.stringify(e), 'PX', ttl)
      .sadd(`${this.p}ids`, e.id)
      .sadd(`${this.p}k:${e.cacheKey}`, e.id)
      // A key's set lives as long as its longest-lived entry.
      .pexpire(`${this.p}k:${e.cacheKey}`, ttl, 'NX')
      .pexpire(`${this.p}k:${e.cacheKey}`, ttl, 'GT')
      .exec()
  }

  async get(id: string, now = Date.now()): Promise<CacheEntry | undefined> {
    const text = await this.redis.get(this.entryKey(id))
    if (text === null) return undefined
    const e = JSON.parse(text) as CacheEntry
    return e.expiresAt > now ? e : undefined
  }

  /** Every live entry, read a batch at a time; ids whose entry expired are dropped from the set. */
  private async *live(now = Date.now()): AsyncGenerator<CacheEntry> {
    const ids = await this.redis.smembers(`${this.p}ids`)
    for (let i = 0; i < ids.length; i += BATCH) {
      const batch = ids.slice(i, i + BATCH)
      const texts = await this.redis.mget(batch.map((id) => this.entryKey(id)))
      for (const text of texts) {
        if (text === null) continue
        const e = JSON.parse(text) as CacheEntry
        if (e.expiresAt > now) yield e
      }
    }
  }

  async withEmbeddings(namespace: string, now = Date.now()): Promise<CacheEntry[]> {
    const out: CacheEntry[] = []
    for await (const e of this.live(now)) if (e.namespace === namespace && e.embedding) out.push(e)
    return out
  }

  /** Every namespace's ids: the set is shared (a lookup of another namespace's id is a miss). */
  async liveIds(): Promise<string[]> {
    return await this.redis.smembers(`${this.p}ids`)
  }

  async delete(id: string): Promise<boolean> {
    const [[, n] = []] =
      (await this.redis.multi().del(this.entryKey(id)).srem(`${this.p}ids`, id).exec()) ?? []
    return Number(n) > 0
  }

  async deleteByKey(cacheKey: string): Promise<string[]> {
    const setKey = `${this.p}k:${cacheKey}`
    const ids = await this.redis.smembers(setKey)
    const gone: string[] = []
    for (let i = 0; i < ids.length; i += BATCH) {
      const batch = ids.slice(i, i + BATCH)
      const tx = this.redis.multi()
      for (const id of batch) tx.del(this.entryKey(id))
      tx.srem(`${this.p}ids`, ...batch)
      const results = (await tx.exec()) ?? []
      batch.forEach((id, j) => Number(results[j]?.[1]) > 0 && gone.push(id))
    }
    await this.redis.del(setKey)
    return gone
  }

  /** Redis expires entries by itself: this finds the ids whose entry is gone, so that every node unindexes them. */
  async deleteExpired(): Promise<string[]> {
    const ids = await this.redis.smembers(`${this.p}ids`)
    const gone: string[] = []
    for (let i = 0; i < ids.length; i += BATCH) {
      const batch = ids.slice(i, i + BATCH)
      const texts = await this.redis.mget(batch.map((id) => this.entryKey(id)))
      batch.forEach((id, j) => texts[j] === null && gone.push(id))
    }
    if (gone.length) await this.redis.srem(`${this.p}ids`, ...gone)
    return gone
  }

  async deleteNamespace(namespace: string): Promise<void> {
    const ids: string[] = []
    for await (const e of this.live()) if (e.namespace === namespace) ids.push(e.id)
    for (let i = 0; i < ids.length; i += BATCH) {
      const batch = ids.slice(i, i + BATCH)
      await this.redis
        .multi()
        .del(...batch.map((id) => this.entryKey(id)))
        .srem(`${this.p}ids`, ...batch)
        .exec()
    }
  }

  async close(): Promise<void> {
    this.redis.disconnect()
  }
}
