import type { CounterStore } from '../cluster/index.js'
import type { Logger } from '../observability/logger.js'
import { budgetCounter, rateLimitCounter, windowFor, type PlannedCheck } from './limits.js'
import type { Budget, GovernanceSnapshot, RateLimit } from './model.js'
import type { UsageUpdate } from './repo/index.js'

/**
 * Keeps the stored usage figures close to the live counters: every limit charged is written back
 * in batches, off the request path, and once more on shutdown.
 */
export class UsagePersistence {
  private dirty = new Map<string, PlannedCheck>()
  private timer: NodeJS.Timeout | undefined
  private flushing: Promise<void> | undefined

  constructor(
    private counters: CounterStore,
    private save: (updates: UsageUpdate[]) => Promise<void>,
    private logger: Logger,
    private intervalMs = 5000,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.intervalMs)
    this.timer.unref()
  }

  charged(planned: readonly PlannedCheck[]): void {
    for (const p of planned) this.dirty.set(`${p.check.counter}@${p.windowStart}`, p)
  }

  flush(): Promise<void> {
    if (this.flushing) return this.flushing
    this.flushing = (async () => {
      const batch = [...this.dirty.values()]
      this.dirty.clear()
      if (batch.length === 0) return
      try {
        const updates: UsageUpdate[] = []
        for (const p of batch) {
          const { used } = await this.counters.read(p.check.counter, p.windowStart)
          const at = new Date(p.windowStart).toISOString()
          if (p.kind === 'budget') updates.push({ budgetId: p.limitId, current_usage: used, last_reset: at })
          else if (p.kind === 'requests')
            updates.push({ rateLimitId: p.limitId, request_current_usage: used, request_last_reset: at })
          else updates.push({ rateLimitId: p.limitId, token_current_usage: used, token_last_reset: at })
        }
        await this.save(updates)
      } catch (err) {
        // Put them back; the next flush tries again.
        for (const p of batch) this.dirty.set(`${p.check.counter}@${p.windowStart}`, p)
        this.logger.warn({ err: (err as Error).message }, 'could not persist usage; will retry')
      } finally {
        this.flushing = undefined
      }
    })()
    return this.flushing
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    await this.flush()
  }
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
  const seed = async (
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
    await counters.reset(counter, w.start, w.end - w.start, used)
  }
  for (const b of budgets.values()) {
    await seed(budgetCounter(b.id), b.reset_duration, b.calendar_aligned, b.last_reset, b.current_usage)
  }
  for (const rl of limits.values()) {
    if (rl.request_reset_duration) {
      await seed(
        rateLimitCounter(rl.id, 'requests'),
        rl.request_reset_duration,
        false,
        rl.request_last_reset,
        rl.request_current_usage,
      )
    }
    if (rl.token_reset_duration) {
      await seed(
        rateLimitCounter(rl.id, 'tokens'),
        rl.token_reset_duration,
        false,
        rl.token_last_reset,
        rl.token_current_usage,
      )
    }
  }
}
