import { GatewayError } from '../core/errors.js'
import {
  RECORD_GRACE_MS,
  checkActuals,
  checkAmount,
  checkLimitCheck,
  checkTtl,
  checkWindow,
  fromUnits,
  toUnits,
  windowExpiryMs,
} from './amounts.js'
import { newReservationId, ownSequence } from './reservation-ids.js'
import type { CounterStore, CounterUsage, LimitCheck, ReserveOptions, ReserveResult } from './types.js'

interface Hold {
  amount: bigint
  expiresAt: number
}

interface CounterWindow {
  used: bigint
  /** Always the sum of `holds`' amounts. */
  reserved: bigint
  /** Each reservation's hold on this window: its record points at the same object, so no member name is built or looked up. */
  holds: Set<Hold>
  /** Earliest hold expiry, so that pruning costs nothing until a hold can have expired. */
  nextHoldExpiry: number
  /** When the window's data vanishes, as PEXPIRE does on Redis. */
  expiresAt: number
}

/** A finished reservation is remembered this long, so a retried settle does nothing (as on Redis). */
const FINISHED_KEPT_MS = 60_000

interface ReservationEntry {
  key: string
  hold: Hold
  expiryMs: number
}

interface ReservationRecord {
  entries: ReservationEntry[]
  expiresAt: number
}

/**
 * One generation of finished ids: this process's own (newReservationId) as their sequence numbers,
 * held inside the set's table without an object per id, and any other id as its string.
 */
class FinishedIds {
  private readonly own = new Set<number>()
  private readonly others = new Set<string>()

  add(id: string): void {
    const seq = ownSequence(id)
    if (seq >= 0) this.own.add(seq)
    else this.others.add(id)
  }

  has(id: string): boolean {
    const seq = ownSequence(id)
    return seq >= 0 ? this.own.has(seq) : this.others.has(id)
  }

  clear(): void {
    this.own.clear()
    this.others.clear()
  }
}

export interface MemoryCounterStoreOptions {
  now?: () => number
  /** How often expired windows and reservation records are swept away. */
  sweepIntervalMs?: number
}

/**
 * Counters of a single node. Everything is synchronous inside each call, so every call is atomic,
 * and the semantics match the Redis store's exactly.
 */
export class MemoryCounterStore implements CounterStore {
  private readonly windows = new Map<string, CounterWindow>()
  private readonly records = new Map<string, ReservationRecord>()
  /**
   * Settled or released ids: a late settle does nothing, a late reserve holds nothing. Kept in two
   * generations of FINISHED_KEPT_MS each (an id is remembered 60 to 120 s): at thousands of requests
   * a second, forgetting a generation at once costs nothing where expiring ids one by one would
   * hold a map of every id of the last minute and sweep it.
   */
  private finishedRecent = new FinishedIds()
  private finishedBefore = new FinishedIds()
  private generationStart: number
  /** Ids finished without a record (it expired while the request ran), until when: rare, kept longer. */
  private readonly finishedLate = new Map<string, number>()
  private readonly now: () => number
  private readonly sweeper: NodeJS.Timeout

  constructor(opts: MemoryCounterStoreOptions = {}) {
    this.now = opts.now ?? Date.now
    this.generationStart = this.now()
    this.sweeper = setInterval(() => this.sweep(), opts.sweepIntervalMs ?? 60_000)
    this.sweeper.unref()
  }

  async reserve(checks: readonly LimitCheck[], opts: ReserveOptions): Promise<ReserveResult> {
    checks.forEach(checkLimitCheck)
    checkTtl(opts.ttlMs)
    const reservationId = opts.reservationId ?? newReservationId()
    const now = this.now()
    if (this.isFinished(reservationId, now))
      throw new GatewayError('store_unavailable', 'the counters saw this reservation released already')
    const existing = this.liveRecord(reservationId, now)
    if (existing) {
      const reserved = existing.entries.map((e) =>
        this.liveWindow(e.key, now)?.holds.has(e.hold) ? fromUnits(e.hold.amount) : 0,
      )
      return { ok: true, reservationId, reserved }
    }

    // Every check's window key is built once; a key named twice (rare) sees the earlier checks' grants.
    const n = checks.length
    const keys: string[] = new Array<string>(n)
    const grants: bigint[] = new Array<bigint>(n)
    const remaining: number[] = new Array<number>(n)
    for (let i = 0; i < n; i++) {
      const c = checks[i]
      const key = windowKey(c.counter, c.windowStart)
      keys[i] = key
      const w = this.liveWindow(key, now)
      const used = w?.used ?? 0n
      let reserved = w?.reserved ?? 0n
      for (let j = 0; j < i; j++) if (keys[j] === key) reserved += grants[j]
      let grant = toUnits(c.amount)
      if (c.limit !== Infinity) {
        const limit = toUnits(c.limit)
        if (used + reserved >= limit) {
          return { ok: false, index: i, used: fromUnits(used), reserved: fromUnits(reserved), limit: c.limit }
        }
        if (grant > limit - used - reserved) grant = limit - used - reserved
        remaining[i] = fromUnits(limit - used - reserved - grant)
      } else {
        remaining[i] = Infinity
      }
      grants[i] = grant
    }

    const expiresAt = now + opts.ttlMs
    const entries: ReservationEntry[] = new Array<ReservationEntry>(n)
    for (let i = 0; i < n; i++) {
      const expiryMs = windowExpiryMs(checks[i].windowMs)
      const w = this.touch(keys[i], expiryMs, now)
      const hold: Hold = { amount: grants[i], expiresAt }
      w.holds.add(hold)
      w.reserved += hold.amount
      if (expiresAt < w.nextHoldExpiry) w.nextHoldExpiry = expiresAt
      entries[i] = { key: keys[i], hold, expiryMs }
    }
    if (n > 0) this.records.set(reservationId, { entries, expiresAt: expiresAt + RECORD_GRACE_MS })
    return { ok: true, reservationId, reserved: grants.map(fromUnits), remaining }
  }

  async settle(
    reservationId: string,
    actual: readonly number[],
    checks?: readonly LimitCheck[],
  ): Promise<void> {
    checkActuals(actual)
    this.finish(reservationId, actual, checks)
  }

  async release(reservationId: string): Promise<void> {
    this.finish(reservationId, [])
  }

  async read(counter: string, windowStart: number): Promise<CounterUsage> {
    checkWindow(counter, windowStart)
    const w = this.liveWindow(windowKey(counter, windowStart), this.now())
    return { used: fromUnits(w?.used ?? 0n), reserved: fromUnits(w?.reserved ?? 0n) }
  }

  async add(counter: string, windowStart: number, windowMs: number, amount: number): Promise<void> {
    checkWindow(counter, windowStart, windowMs)
    checkAmount('amount', amount, true)
    this.touch(windowKey(counter, windowStart), windowExpiryMs(windowMs), this.now()).used += toUnits(amount)
  }

  async reset(counter: string, windowStart: number, windowMs: number, used = 0): Promise<void> {
    checkWindow(counter, windowStart, windowMs)
    checkAmount('used', used, true)
    this.touch(windowKey(counter, windowStart), windowExpiryMs(windowMs), this.now()).used = toUnits(used)
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper)
    this.windows.clear()
    this.records.clear()
    this.finishedRecent.clear()
    this.finishedBefore.clear()
    this.finishedLate.clear()
  }

  /**
   * As the Redis store's settle script: an unknown id is marked finished (a reserve of it arriving
   * late holds nothing), and charged to `checks` when given and not finished before (its record
   * expired while the request ran).
   */
  private finish(reservationId: string, actual: readonly number[], checks?: readonly LimitCheck[]): void {
    const now = this.now()
    const record = this.liveRecord(reservationId, now)
    if (!record) {
      if (this.isFinished(reservationId, now)) return
      this.finishedLate.set(reservationId, now + RECORD_GRACE_MS)
      if (!checks || checks.length !== actual.length) return
      for (const [i, c] of checks.entries()) {
        const charge = toUnits(actual[i])
        if (charge !== 0n)
          this.touch(windowKey(c.counter, c.windowStart), windowExpiryMs(c.windowMs), now).used += charge
      }
      return
    }
    this.records.delete(reservationId)
    this.rotateFinished(now)
    this.finishedRecent.add(reservationId)
    const entries = record.entries
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]
      const charge = toUnits(actual[i] ?? 0)
      const w = charge === 0n ? this.liveWindow(e.key, now) : this.touch(e.key, e.expiryMs, now)
      if (!w) continue
      if (w.holds.delete(e.hold)) w.reserved -= e.hold.amount
      w.used += charge
    }
  }

  /** The window with its expired holds pruned, or undefined when it has no data (never written, or expired). */
  private liveWindow(key: string, now: number): CounterWindow | undefined {
    const w = this.windows.get(key)
    if (!w) return undefined
    if (w.expiresAt <= now) {
      this.windows.delete(key)
      return undefined
    }
    if (w.nextHoldExpiry <= now) {
      let next = Infinity
      for (const hold of w.holds) {
        if (hold.expiresAt <= now) {
          w.holds.delete(hold)
          w.reserved -= hold.amount
        } else {
          next = Math.min(next, hold.expiresAt)
        }
      }
      w.nextHoldExpiry = next
    }
    return w
  }

  /** The window, created when missing, with its expiry pushed back as a write does on Redis. */
  private touch(key: string, expiryMs: number, now: number): CounterWindow {
    let w = this.liveWindow(key, now)
    if (!w) {
      w = { used: 0n, reserved: 0n, holds: new Set(), nextHoldExpiry: Infinity, expiresAt: Infinity }
      this.windows.set(key, w)
    }
    if (expiryMs > 0) w.expiresAt = now + expiryMs
    return w
  }

  private liveRecord(reservationId: string, now: number): ReservationRecord | undefined {
    const record = this.records.get(reservationId)
    if (record && record.expiresAt <= now) {
      this.records.delete(reservationId)
      return undefined
    }
    return record
  }

  private isFinished(reservationId: string, now: number): boolean {
    this.rotateFinished(now)
    if (this.finishedRecent.has(reservationId) || this.finishedBefore.has(reservationId)) return true
    const until = this.finishedLate.get(reservationId)
    if (until === undefined) return false
    if (until > now) return true
    this.finishedLate.delete(reservationId)
    return false
  }

  /** Starts a new generation of finished ids once the current one is FINISHED_KEPT_MS old. */
  private rotateFinished(now: number): void {
    const age = now - this.generationStart
    if (age < FINISHED_KEPT_MS) return
    // Every id of the current generation was added FINISHED_KEPT_MS ago or more when the age is twice that.
    this.finishedBefore = age >= 2 * FINISHED_KEPT_MS ? new FinishedIds() : this.finishedRecent
    this.finishedRecent = new FinishedIds()
    this.generationStart = now
  }

  private sweep(): void {
    const now = this.now()
    for (const key of this.windows.keys()) this.liveWindow(key, now)
    for (const id of this.records.keys()) this.liveRecord(id, now)
    this.rotateFinished(now)
    for (const id of this.finishedLate.keys()) this.isFinished(id, now)
  }
}

function windowKey(counter: string, windowStart: number): string {
  return `${counter}:${windowStart}`
}
