import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'

/**
 * Redis for tests (REDIS_URL): each run keeps its keys under a prefix of its own, deleted at
 * teardown. Tests connect from inside the tests, never in a beforeAll hook (whose failure vitest
 * reports as skipped tests), so that an unreachable Redis FAILS every Redis test.
 */

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

/** A key prefix for this run: `<label>:<pid>-<random>:`. */
export function redisPrefix(label: string): string {
  return `${label}:${process.pid}-${randomBytes(4).toString('hex')}:`
}

/** Deletes every key under `prefix`; does nothing when Redis is down (its tests have failed already). */
export async function deleteRedisKeys(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 })
  redis.on('error', () => undefined)
  try {
    await redis.connect()
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
      if (keys.length > 0) await redis.del(...keys)
      cursor = next
    } while (cursor !== '0')
  } catch {
    // Redis is down: there is nothing to delete.
  } finally {
    redis.disconnect()
  }
}
