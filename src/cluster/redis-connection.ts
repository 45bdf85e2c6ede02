import { createHash } from 'node:crypto'
import type { Socket } from 'node:net'
import { Redis } from 'ioredis'
import { GatewayError } from '../core/errors.js'
import type { ClusterErrorHandler } from './types.js'

/** Namespaces every key and channel unless the deployment chooses another prefix. */
export const DEFAULT_PREFIX = 'heimdall:'

/** No command waits longer than this, connected or not: the caller decides what to do without Redis. */
export const REDIS_COMMAND_TIMEOUT_MS = 2_000

export interface RedisConnectOptions {
  /** Shown in `CLIENT LIST`. */
  name: string
  onError?: ClusterErrorHandler
}

/**
 * Opens a connection and waits until it is ready; rejects with a clear error when Redis cannot be
 * reached. Afterwards the connection reconnects on its own, and commands fail within
 * REDIS_COMMAND_TIMEOUT_MS while it is down rather than hang.
 */
export async function connectRedis(url: string, opts: RedisConnectOptions): Promise<Redis> {
  let lastError: Error | undefined
  const redis = new Redis(url, {
    lazyConnect: true,
    connectionName: opts.name,
    connectTimeout: REDIS_COMMAND_TIMEOUT_MS,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    maxRetriesPerRequest: 1,
    // TCP keep-alive probes notice a silently dropped network path, which pub/sub alone never would.
    keepAlive: 30_000,
    // A command whose reply was lost is not sent again: add() would be charged twice. reserve, settle
    // and release are idempotent by reservation id, so the caller may retry them.
    autoResendUnfulfilledCommands: false,
    // At most 0.5 s between attempts: a Redis back from a restart serves (and /health is ready) within a second.
    retryStrategy: (attempt) => Math.min(attempt * 100, 500),
  })
  redis.on('error', (err: Error) => {
    lastError = err
    opts.onError?.(err, opts.name)
  })
  try {
    await redis.connect()
  } catch (err) {
    redis.disconnect()
    const reason = (lastError ?? (err instanceof Error ? err : undefined))?.message ?? String(err)
    throw new GatewayError(
      'store_unavailable',
      `cannot connect to Redis at ${describeRedisUrl(url)}: ${reason}`,
      {
        cause: lastError ?? err,
      },
    )
  }
  return redis
}

/** The URL without its password, for messages. */
export function describeRedisUrl(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return '(unparsable REDIS_URL)'
  }
}

/** An error from a command: a script that Redis refused is a bug; anything else means Redis is unavailable. */
export function redisCommandError(err: unknown, what: string): GatewayError {
  const message = err instanceof Error ? err.message : String(err)
  if (err instanceof Error && err.name === 'ReplyError') {
    return new GatewayError('internal', `Redis refused ${what}: ${message}`, { cause: err })
  }
  return new GatewayError('store_unavailable', `Redis is unavailable (${what}: ${message})`, { cause: err })
}

/** The sockets corked until the end of this turn of the event loop. */
const corked = new WeakSet<Socket>()

/**
 * Lets the commands sent on `redis` in this turn of the event loop (every request admitted or
 * finished in one poll of the sockets) leave in one write: on loopback a write costs the sender
 * Redis's receiving too, tens of µs, more than the command. The socket is corked until the check
 * phase that follows, which runs before the loop waits for I/O again, so no command waits for
 * anything but the requests handled beside it.
 */
export function sendTogether(redis: Redis): void {
  const stream = redis.stream as Socket | undefined
  if (!stream || corked.has(stream) || redis.status !== 'ready') return
  corked.add(stream)
  stream.cork()
  setImmediate(() => {
    corked.delete(stream)
    stream.uncork()
  })
}

/** A Lua script run by its SHA, loaded on first use and again after a Redis restart. */
export class LuaScript {
  private readonly sha: string

  constructor(private readonly lua: string) {
    this.sha = createHash('sha1').update(lua).digest('hex')
  }

  async run(redis: Redis, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    sendTogether(redis)
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args)
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err
      return await redis.eval(this.lua, keys.length, ...keys, ...args)
    }
  }
}
