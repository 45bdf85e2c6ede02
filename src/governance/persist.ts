import type { CounterSeed, CounterStore, LimitCheck } from '../cluster/index.js'
import type { Logger } from '../observability/logger.js'
import { budgetCounter, rateLimitCounter, windowFor, type PlannedCheck } from './limits.js'
import type { Budget, GovernanceSnapshot, RateLimit } from './model.js'
import { preloadTokenizers } from './pricing/prompt-tokenizer.js'
import type { UsageDelta } from './repo/index.js'

type Entry = { p: PlannedCheck; amount: number }

/** Written batches are remembered this long, in case counters seeded meanwhile missed them. */
const WRITTEN_KEPT_MS = 60_000

/** An amount to add back to a counter window. */
export interface UnwrittenUsage {
  check: LimitCheck
  amount: number
}

/**
 * Writes what every limit was charged back to the store, in batches, off the request path, and
 * once more on shutdown. It writes amounts to add, never totals: several nodes each add their own,
 * and counters that lost their data (Redis restarted empty) can never lower the stored figure.
 */
export class UsagePersistence {
  /** What is waiting to be written, by counter, then window start (no key string built per charge). */
  private pending = new Map<string, Map<number, Entry>>()
  private timer: NodeJS.Timeout | undefined
  private flushing: Promise<boolean> | undefined
  private inFlight: Entry[] = []
  /** Batches written, with when their write was seen to succeed (after its commit). */
  private written: { at: number; batch: Entry[] }[] = []

  constructor(
    private save: (deltas: UsageDelta[]) => Promise<void>,
    private logger: Logger,
    private intervalMs = 5000,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.intervalMs)
    this.timer.unref()
  }

  /** `actual[i]` is what `planned[i]` was charged. */
  charged(planned: readonly PlannedCheck[], actual: readonly number[]): void {
    planned.forEach((p, i) => this.add(p, actual[i] ?? 0))
  }

  /** Resolves false when the store could not take the batch (kept for the next try). */
  flush(): Promise<boolean> {
    if (this.flushing) return this.flushing
    const batch = this.pendingEntries()
    this.pending.clear()
    if (batch.length === 0) return Promise.resolve(true)
    this.inFlight = batch
    const flushing: Promise<boolean> = this.save(batch.map(({ p, amount }) => usageDelta(p, amount)))
      .then(
        () => {
          if (this.inFlight === batch) this.inFlight = []
          const at = Date.now()
          this.written = this.written.filter((w) => w.at > at - WRITTEN_KEPT_MS)
          this.written.push({ at, batch })
          return true
        },
        (err: unknown) => {
          if (this.inFlight === batch) this.inFlight = []
          for (const { p, amount } of batch) this.add(p, amount)
          this.logger.warn({ err: (err as Error).message }, 'could not persist usage; will retry')
          return false
        },
      )
      .finally(() => {
        if (this.flushing === flushing) this.flushing = undefined
      })
    this.flushing = flushing
    return flushing
  }

  /**
   * What was charged and may be missing from a store read that began at `since`: not yet written,
   * being written, or seen written at or after it (a batch committed just before the read and seen
   * after it is counted twice: an error on the safe side). Summed per counter window.
   */
  unwrittenSince(since: number): UnwrittenUsage[] {
    const sums = new Map<string, UnwrittenUsage>()
    const entries = [
      ...this.pendingEntries(),
      ...this.inFlight,
      ...this.written.filter((w) => w.at >= since).flatMap((w) => w.batch),
    ]
    for (const { p, amount } of entries) {
      const key = `${p.check.counter}@${p.windowStart}`
      const sum = sums.get(key)
      if (sum) sum.amount += amount
      else sums.set(key, { check: p.check, amount })
    }
    return [...sums.values()]
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    await this.flush()
  }

  private add(p: PlannedCheck, amount: number): void {
    if (!amount) return
    let windows = this.pending.get(p.check.counter)
    if (!windows) this.pending.set(p.check.counter, (windows = new Map()))
    const entry = windows.get(p.windowStart)
    if (entry) entry.amount += amount
    else windows.set(p.windowStart, { p, amount })
  }

  private pendingEntries(): Entry[] {
    const out: Entry[] = []
    for (const windows of this.pending.values()) for (const entry of windows.values()) out.push(entry)
    return out
  }
}

function usageDelta(p: PlannedCheck, amount: number): UsageDelta {
  const windowStart = new Date(p.windowStart).toISOString()
  if (p.kind === 'budget') return { budgetId: p.limitId, windowStart, amount }
  return { rateLimitId: p.limitId, kind: p.kind, windowStart, amount }
}

/**
 * Loads the stored usage of the current windows into fresh in-process counters, so that a restart
 * of a single node does not forget what was spent. (With Redis the counters outlive the nodes.)
 */
export async function seedCounters(
  counters: CounterStore,
  snapshot: GovernanceSnapshot,
  now: number,
): Promise<void> {
  for (const s of counterSeeds(snapshot, now))
    await counters.reset(s.counter, s.windowStart, s.windowMs, s.used)
}

/** Every budget and rate limit of the configuration, each once. */
function limitsIn(snapshot: GovernanceSnapshot): {
  budgets: Map<string, Budget>
  limits: Map<string, RateLimit>
} {
  const budgets = new Map<string, Budget>()
  const limits = new Map<string, RateLimit>()
  const addBudgets = (list: (Budget | null | undefined)[] | undefined) => {
    for (const b of list ?? []) if (b) budgets.set(b.id, b)
  }
  for (const vk of snapshot.virtualKeys) {
    addBudgets(vk.budgets)
    if (vk.rate_limit) limits.set(vk.rate_limit.id, vk.rate_limit)
    for (const pc of vk.provider_configs) {
      addBudgets(pc.budgets)
      if (pc.rate_limit) limits.set(pc.rate_limit.id, pc.rate_limit)
    }
  }
  for (const t of snapshot.teams) {
    addBudgets([t.budget, ...(t.budgets ?? [])])
    if (t.rate_limit) limits.set(t.rate_limit.id, t.rate_limit)
  }
  for (const c of snapshot.customers) {
    addBudgets([c.budget, ...(c.budgets ?? [])])
    if (c.rate_limit) limits.set(c.rate_limit.id, c.rate_limit)
  }
  for (const owner of [...(snapshot.modelConfigs ?? []), ...(snapshot.providerGovernance ?? [])]) {
    addBudgets(owner.budgets)
    if (owner.rate_limit) limits.set(owner.rate_limit.id, owner.rate_limit)
  }
  return { budgets, limits }
}

/**
 * Passes the snapshot through; when admission will estimate prompts (a budget or a token limit
 * somewhere), the tokenizers load in the background now rather than in the first such request.
 */
export function preloadEstimatesFor(snapshot: GovernanceSnapshot): GovernanceSnapshot {
  const { budgets, limits } = limitsIn(snapshot)
  if (
    budgets.size > 0 ||
    [...limits.values()].some((rl) => rl.token_max_limit != null && rl.token_reset_duration)
  )
    preloadTokenizers()
  return snapshot
}

/** The stored usage of every limit's current window. */
export function counterSeeds(snapshot: GovernanceSnapshot, now: number): CounterSeed[] {
  const seeds: CounterSeed[] = []
  const { budgets, limits } = limitsIn(snapshot)
  const seed = (
    counter: string,
    duration: string,
    aligned: boolean,
    lastReset: string | undefined,
    used: number,
  ) => {
    if (!used || !lastReset) return
    const w = windowFor(duration, aligned, lastReset, now)
    // Usage recorded for an earlier window has been reset since.
    if (Date.parse(lastReset) < w.start) return
    seeds.push({ counter, windowStart: w.start, windowMs: w.end - w.start, used })
  }
  for (const b of budgets.values()) {
    seed(budgetCounter(b.id), b.reset_duration, b.calendar_aligned, b.last_reset, b.current_usage)
  }
  for (const rl of limits.values()) {
    if (rl.request_reset_duration) {
      seed(
        rateLimitCounter(rl.id, 'requests'),
        rl.request_reset_duration,
        false,
        rl.request_last_reset,
        rl.request_current_usage,
      )
    }
    if (rl.token_reset_duration) {
      seed(
        rateLimitCounter(rl.id, 'tokens'),
        rl.token_reset_duration,
        false,
        rl.token_last_reset,
        rl.token_current_usage,
      )
    }
  }
  return seeds
}
