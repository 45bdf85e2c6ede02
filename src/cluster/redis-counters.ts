import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import {
  RECORD_GRACE_MS,
  checkAmount,
  checkLimitCheck,
  checkTtl,
  checkWindow,
  fromUnits,
  toUnits,
  windowExpiryMs,
} from './amounts.js'
import { CHARGE_LUA, READ_LUA, RESERVE_LUA, SETTLE_LUA } from './counter-scripts.js'
import { DEFAULT_PREFIX, LuaScript, connectRedis, redisCommandError } from './redis-connection.js'
import type {
  ClusterErrorHandler,
  CounterStore,
  CounterUsage,
  LimitCheck,
  ReserveOptions,
  ReserveResult,
} from './types.js'

const reserveScript = new LuaScript(RESERVE_LUA)
const settleScript = new LuaScript(SETTLE_LUA)
const readScript = new LuaScript(READ_LUA)
const chargeScript = new LuaScript(CHARGE_LUA)

export interface RedisCounterStoreOptions {
  /** Namespaces every key; defaults to `heimdall:`. */
  prefix?: string
  onError?: ClusterErrorHandler
}

/**
 * Counters shared by every node through one Redis. Each call is one Lua script, so a reservation
 * across several limits is atomic even when many nodes reserve at once. Needs a single Redis
 * primary (or Sentinel): scripts derive key names, which Redis Cluster does not allow.
 */
export class RedisCounterStore implements CounterStore {
  private readonly prefix: string

  constructor(
    private readonly redis: Redis,
    opts: { prefix?: string } = {},
  ) {
    this.prefix = opts.prefix ?? DEFAULT_PREFIX
  }

  /** Opens a connection of its own; fails with a clear error when Redis cannot be reached. */
  static async connect(url: string, opts: RedisCounterStoreOptions = {}): Promise<RedisCounterStore> {
    const redis = await connectRedis(url, { name: 'heimdall-counters', onError: opts.onError })
    return new RedisCounterStore(redis, opts)
  }

  async reserve(checks: readonly LimitCheck[], opts: ReserveOptions): Promise<ReserveResult> {
    checks.forEach(checkLimitCheck)
    checkTtl(opts.ttlMs)
    const reservationId = opts.reservationId ?? randomUUID()
    if (checks.length === 0) return { ok: true, reservationId, reserved: [] }
    const keys = [this.recordKey(reservationId)]
    const args = [
      reservationId,
      String(Math.ceil(opts.ttlMs)),
      String(Math.ceil(opts.ttlMs + RECORD_GRACE_MS)),
    ]
    for (const c of checks) {
      keys.push(this.hashKey(c.counter, c.windowStart), this.holdsKey(c.counter, c.windowStart))
      args.push(
        c.limit === Infinity ? '' : toUnits(c.limit).toString(),
        toUnits(c.amount).toString(),
        String(windowExpiryMs(c.windowMs)),
      )
    }
    const reply = (await this.run(reserveScript, keys, args, 'the reservation')) as (string | number)[]
    if (reply[0] === 1) {
      const n = checks.length
      const remaining =
        reply.length > n + 1
          ? reply.slice(n + 1).map((s) => (s === '' ? Infinity : fromUnits(BigInt(s))))
          : undefined
      return {
        ok: true,
        reservationId,
        reserved: reply.slice(1, n + 1).map((s) => fromUnits(BigInt(s))),
        remaining,
      }
    }
    const index = Number(reply[1]) - 1
    return {
      ok: false,
      index,
      used: fromUnits(BigInt(reply[2])),
      reserved: fromUnits(BigInt(reply[3])),
      limit: checks[index].limit,
    }
  }

  async settle(reservationId: string, actual: readonly number[]): Promise<void> {
    actual.forEach((a, i) => checkAmount(`actual[${i}]`, a))
    const args = [reservationId, ...actual.map((a) => toUnits(a).toString())]
    await this.run(settleScript, [this.recordKey(reservationId)], args, 'the settlement')
  }

  async release(reservationId: string): Promise<void> {
    await this.run(settleScript, [this.recordKey(reservationId)], [reservationId], 'the release')
  }

  async read(counter: string, windowStart: number): Promise<CounterUsage> {
    checkWindow(counter, windowStart)
    const keys = [this.hashKey(counter, windowStart), this.holdsKey(counter, windowStart)]
    const reply = (await this.run(readScript, keys, [], 'the read')) as [string, string]
    const reserved = BigInt(reply[1])
    return { used: fromUnits(BigInt(reply[0])), reserved: fromUnits(reserved > 0n ? reserved : 0n) }
  }

  async add(counter: string, windowStart: number, windowMs: number, amount: number): Promise<void> {
    checkWindow(counter, windowStart, windowMs)
    checkAmount('amount', amount, true)
    const args = ['add', toUnits(amount).toString(), String(windowExpiryMs(windowMs))]
    await this.run(chargeScript, [this.hashKey(counter, windowStart)], args, 'the charge')
  }

  async reset(counter: string, windowStart: number, windowMs: number, used = 0): Promise<void> {
    checkWindow(counter, windowStart, windowMs)
    checkAmount('used', used, true)
    const args = ['set', toUnits(used).toString(), String(windowExpiryMs(windowMs))]
    await this.run(chargeScript, [this.hashKey(counter, windowStart)], args, 'the reset')
  }

  /** Readiness: rejects at once while the connection is down, else when PING fails (bounded by the command timeout). */
  async ping(): Promise<void> {
    try {
      if (this.redis.status !== 'ready') throw new Error(`connection ${this.redis.status}`)
      await this.redis.ping()
    } catch (err) {
      throw redisCommandError(err, 'PING')
    }
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect())
  }

  private async run(script: LuaScript, keys: string[], args: string[], what: string): Promise<unknown> {
    try {
      return await script.run(this.redis, keys, args)
    } catch (err) {
      throw redisCommandError(err, what)
    }
  }

  private hashKey(counter: string, windowStart: number): string {
    return `${this.prefix}w:${counter}:${windowStart}`
  }

  private holdsKey(counter: string, windowStart: number): string {
    return `${this.prefix}wr:${counter}:${windowStart}`
  }

  private recordKey(reservationId: string): string {
    return `${this.prefix}rsv:${reservationId}`
  }
}
