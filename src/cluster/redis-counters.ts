import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import { GatewayError } from '../core/errors.js'
import * as amounts from './amounts.js'
import { CHARGE_LUA, READ_LUA, RESERVE_LUA, SEED_LUA, SETTLE_LUA } from './counter-scripts.js'
import { DEFAULT_PREFIX, LuaScript, connectRedis, redisCommandError } from './redis-connection.js'
import type {
  ClusterErrorHandler,
  CounterSeed,
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
const seedScript = new LuaScript(SEED_LUA)

/** A settle or release that failed (Redis stalled or away) is sent again this often, until it lands. */
const FINISH_RETRY_MS = 1_000
/** Unfinished settles and releases kept for retry at most; beyond, their holds simply expire. */
const MAX_FINISH_RETRIES = 100_000
/** How often a node looks for counters lost or seeded again, when no call of its own has told it. */
const EPOCH_CHECK_MS = 500
/**
 * How long a node that found the counters lost waits before reading the store to seed them: every
 * node notices the loss within EPOCH_CHECK_MS (plus a reconnect) and writes its unwritten usage back.
 */
const SEED_DELAY_MS = 1_500

/** An epoch is `<ms the seed began reading the store>:<uuid>`; older ones were a bare uuid. */
function seededAtOf(epoch: string): number {
  const at = Number(epoch.slice(0, epoch.indexOf(':')))
  return Number.isFinite(at) && at > 0 ? at : Date.now()
}

interface PendingFinish {
  keys: string[]
  args: string[]
  /** Past this, the holds have expired anyway: stop trying. */
  until: number
}

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
  private seeds: () => Promise<CounterSeed[]> = async () => []
  private reseeding: Promise<void> | undefined
  private readonly unfinished = new Map<string, PendingFinish>()
  private retryTimer: NodeJS.Timeout | undefined
  /** The seeding of the counters this node last saw ('' before its first call). */
  private epoch = ''
  private reseeded: (seededAt: number) => void = () => undefined
  private lost: () => void = () => undefined
  /** Whether the loss of the epoch this node knows was reported to `lost` already. */
  private lossReported = false
  private readonly epochTimer: NodeJS.Timeout
  private checkingEpoch = false

  constructor(
    private readonly redis: Redis,
    opts: { prefix?: string } = {},
  ) {
    this.prefix = opts.prefix ?? DEFAULT_PREFIX
    this.epochTimer = setInterval(() => void this.checkEpoch(), EPOCH_CHECK_MS)
    this.epochTimer.unref()
  }

  /** Opens a connection of its own; fails with a clear error when Redis cannot be reached. */
  static async connect(url: string, opts: RedisCounterStoreOptions = {}): Promise<RedisCounterStore> {
    const redis = await connectRedis(url, { name: 'heimdall-counters', onError: opts.onError })
    return new RedisCounterStore(redis, opts)
  }

  async reserve(checks: readonly LimitCheck[], opts: ReserveOptions): Promise<ReserveResult> {
    checks.forEach(amounts.checkLimitCheck)
    amounts.checkTtl(opts.ttlMs)
    const reservationId = opts.reservationId ?? randomUUID()
    if (checks.length === 0) return { ok: true, reservationId, reserved: [] }
    const keys = [this.recordKey(reservationId), this.releasedKey(reservationId), this.epochKey()]
    const args = [
      reservationId,
      String(Math.ceil(opts.ttlMs)),
      String(Math.ceil(opts.ttlMs + amounts.RECORD_GRACE_MS)),
      this.epoch,
    ]
    for (const c of checks) {
      keys.push(this.hashKey(c.counter, c.windowStart), this.holdsKey(c.counter, c.windowStart))
      args.push(
        c.limit === Infinity ? '' : amounts.toUnits(c.limit).toString(),
        amounts.toUnits(c.amount).toString(),
        String(amounts.windowExpiryMs(c.windowMs)),
      )
    }
    const reply = await this.runInEpoch(reserveScript, keys, args, 3, 'the reservation')
    if (reply[0] === -1 || reply[0] === -2 || reply[0] === -3) {
      const why =
        reply[0] === -2
          ? 'saw this reservation released already'
          : 'lost its counters again while they were seeded'
      throw new GatewayError('store_unavailable', `Redis ${why}`)
    }
    if (reply[0] === 1) {
      const n = checks.length
      const remaining =
        reply.length > n + 1
          ? reply.slice(n + 1).map((s) => (s === '' ? Infinity : amounts.fromUnits(BigInt(s))))
          : undefined
      return {
        ok: true,
        reservationId,
        reserved: reply.slice(1, n + 1).map((s) => amounts.fromUnits(BigInt(s))),
        remaining,
      }
    }
    const index = Number(reply[1]) - 1
    return {
      ok: false,
      index,
      used: amounts.fromUnits(BigInt(reply[2])),
      reserved: amounts.fromUnits(BigInt(reply[3])),
      limit: checks[index].limit,
    }
  }

  async settle(
    reservationId: string,
    actual: readonly number[],
    checks?: readonly LimitCheck[],
  ): Promise<void> {
    amounts.checkActuals(actual)
    const keys = this.finishKeys(reservationId)
    const args = [
      reservationId,
      String(amounts.RECORD_GRACE_MS),
      this.epoch,
      ...actual.map((a) => amounts.toUnits(a).toString()),
    ]
    if (checks && checks.length === actual.length) {
      checks.forEach((c) => keys.push(this.hashKey(c.counter, c.windowStart)))
      checks.forEach((c) => args.push(String(amounts.windowExpiryMs(c.windowMs))))
    }
    await this.finish(reservationId, keys, args, 'the settlement')
  }

  async release(reservationId: string): Promise<void> {
    const args = [reservationId, String(amounts.RECORD_GRACE_MS), '']
    await this.finish(reservationId, this.finishKeys(reservationId), args, 'the release')
  }

  onReset(seeds: () => Promise<CounterSeed[]>): void {
    this.seeds = seeds
  }

  onReseeded(handler: (seededAt: number) => void): void {
    this.reseeded = handler
  }

  onLost(handler: () => void): void {
    this.lost = handler
  }

  async read(counter: string, windowStart: number): Promise<CounterUsage> {
    amounts.checkWindow(counter, windowStart)
    const keys = [this.hashKey(counter, windowStart), this.holdsKey(counter, windowStart)]
    const reply = (await this.run(readScript, keys, [], 'the read')) as [string, string]
    const reserved = BigInt(reply[1])
    return {
      used: amounts.fromUnits(BigInt(reply[0])),
      reserved: amounts.fromUnits(reserved > 0n ? reserved : 0n),
    }
  }

  async add(counter: string, windowStart: number, windowMs: number, amount: number): Promise<void> {
    amounts.checkWindow(counter, windowStart, windowMs)
    amounts.checkAmount('amount', amount, true)
    const args = ['add', amounts.toUnits(amount).toString(), String(amounts.windowExpiryMs(windowMs))]
    await this.run(chargeScript, [this.hashKey(counter, windowStart)], args, 'the charge')
  }

  async reset(counter: string, windowStart: number, windowMs: number, used = 0): Promise<void> {
    amounts.checkWindow(counter, windowStart, windowMs)
    amounts.checkAmount('used', used, true)
    const args = ['set', amounts.toUnits(used).toString(), String(amounts.windowExpiryMs(windowMs))]
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
    clearInterval(this.epochTimer)
    if (this.retryTimer) clearInterval(this.retryTimer)
    this.unfinished.clear()
    await this.redis.quit().catch(() => this.redis.disconnect())
  }

  /**
   * Settles or releases; when Redis does not answer, tries again in the background until it does,
   * so that a stall leaves no hold behind once Redis is back (both are idempotent by id).
   */
  private async finish(reservationId: string, keys: string[], args: string[], what: string): Promise<void> {
    try {
      const reply = await this.runInEpoch(settleScript, keys, args, 2, what)
      if (reply[0] === -1 || reply[0] === -3)
        throw new GatewayError('store_unavailable', `Redis lost its counters again while they were seeded`)
      this.unfinished.delete(reservationId)
    } catch (err) {
      if (err instanceof GatewayError && err.code === 'store_unavailable')
        this.retryLater(reservationId, keys, args)
      throw err
    }
  }

  private retryLater(reservationId: string, keys: string[], args: string[]): void {
    if (this.unfinished.size >= MAX_FINISH_RETRIES && !this.unfinished.has(reservationId)) return
    this.unfinished.set(reservationId, { keys, args, until: Date.now() + amounts.RECORD_GRACE_MS })
    if (this.retryTimer) return
    this.retryTimer = setInterval(() => void this.retryUnfinished(), FINISH_RETRY_MS)
    this.retryTimer.unref()
  }

  private async retryUnfinished(): Promise<void> {
    const now = Date.now()
    for (const [id, p] of [...this.unfinished]) {
      if (p.until <= now) {
        this.unfinished.delete(id)
        continue
      }
      try {
        const reply = (await settleScript.run(this.redis, p.keys, p.args)) as (string | number)[]
        // Missing epoch: not seeded yet, try later. Another epoch: the charge is added back with the
        // rest of what this node charged before the seeding (onReseeded), and the holds are gone.
        if (reply[0] === -3) this.sawEpoch(String(reply[1]))
        if (reply[0] !== -1) this.unfinished.delete(id)
      } catch {
        // Still away: the next tick tries again.
        return
      }
    }
    if (this.unfinished.size === 0 && this.retryTimer) {
      clearInterval(this.retryTimer)
      this.retryTimer = undefined
    }
  }

  /**
   * Runs a reserve or settle script in the epoch this node knows: seeds the counters when Redis lost
   * them (-1), learns of a seeding by another node (-3), and runs it again, a few times at most.
   * `epochArg` is the index of the epoch in `args`.
   */
  private async runInEpoch(
    script: LuaScript,
    keys: string[],
    args: string[],
    epochArg: number,
    what: string,
  ): Promise<(string | number)[]> {
    let reply: (string | number)[] = [-1]
    for (let attempt = 0; attempt < 3; attempt++) {
      reply = (await this.run(script, keys, args, what)) as (string | number)[]
      if (reply[0] === -1) await this.reseed()
      else if (reply[0] === -3) this.sawEpoch(String(reply[1]))
      else return reply
      // A release ('' here) checks no epoch, so never gets here.
      args[epochArg] = this.epoch
    }
    return reply
  }

  /**
   * A seeding this node had not seen: what it charged before, and had not written to the store
   * when the seed read it, is missing from the counters; its onReseeded handler adds it back.
   * Settles still waiting for a retry belong to the lost epoch: dropped (their holds are gone,
   * their charges are among what is added back).
   */
  private sawEpoch(epoch: string): void {
    if (epoch === this.epoch) return
    const first = this.epoch === ''
    this.epoch = epoch
    this.lossReported = false
    for (const [id, p] of this.unfinished)
      if (p.args[2] !== '' && p.args[2] !== epoch) this.unfinished.delete(id)
    if (!first) this.reseeded(seededAtOf(epoch))
  }

  private async checkEpoch(): Promise<void> {
    if (this.checkingEpoch || this.epoch === '' || this.redis.status !== 'ready') return
    this.checkingEpoch = true
    try {
      const epoch = await this.redis.get(this.epochKey())
      if (epoch) this.sawEpoch(epoch)
      else this.reportLoss()
    } catch {
      // Redis away: the next call or check finds out.
    } finally {
      this.checkingEpoch = false
    }
  }

  /** Once per loss: the node writes what it has not written back yet, for the seed to find it. */
  private reportLoss(): void {
    if (this.epoch === '' || this.lossReported) return
    this.lossReported = true
    this.lost()
  }

  /**
   * One seeding at a time per node; the script lets only the first node's seed through. A node
   * that knew the counters waits SEED_DELAY_MS first, for every node to write its usage back.
   */
  private reseed(): Promise<void> {
    this.reseeding ??= (async () => {
      try {
        if (this.epoch !== '') {
          this.reportLoss()
          await new Promise((resolve) => setTimeout(resolve, SEED_DELAY_MS))
        }
        // Taken before the store is read: usage written back after it may be missing from the seed.
        const epoch = `${Date.now()}:${randomUUID()}`
        const seeds = await this.seeds()
        const keys = [this.epochKey()]
        const args: string[] = [epoch]
        for (const s of seeds) {
          keys.push(this.hashKey(s.counter, s.windowStart))
          args.push(amounts.toUnits(s.used).toString(), String(amounts.windowExpiryMs(s.windowMs)))
        }
        const seeded = await this.run(seedScript, keys, args, 'the seeding of the counters')
        if (seeded === 1) this.sawEpoch(epoch)
      } finally {
        this.reseeding = undefined
      }
    })()
    return this.reseeding
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

  private releasedKey(reservationId: string): string {
    return `${this.prefix}rel:${reservationId}`
  }

  private finishKeys(reservationId: string): string[] {
    return [this.recordKey(reservationId), this.releasedKey(reservationId), this.epochKey()]
  }

  private epochKey(): string {
    return `${this.prefix}epoch`
  }
}
