import type { CounterStore } from '../cluster/index.js'
import { describeOverride } from './budget-overrides.js'
import { budgetCounter, rateLimitCounter, windowFor as windowOf } from './limits.js'
import type { Budget, Customer, RateLimit, Team, VirtualKey } from './model.js'

/**
 * Live usage for the management API: the counters' figures for the current window replace the
 * stored ones, with the window's start as `last_reset` and its end as `reset_at`.
 */
export class UsageView {
  constructor(
    private counters: CounterStore,
    private now: () => number = Date.now,
  ) {}

  async budget(b: Budget): Promise<void> {
    const now = this.now()
    describeOverride(b, now)
    const w = windowOf(b.reset_duration, b.calendar_aligned, b.last_reset ?? b.created_at, now)
    const { used } = await this.counters.read(budgetCounter(b.id), w.start)
    b.current_usage = used
    b.last_reset = new Date(w.start).toISOString()
    b.reset_at = new Date(w.end).toISOString()
  }

  async rateLimit(rl: RateLimit): Promise<void> {
    const now = this.now()
    if (rl.request_reset_duration) {
      const w = windowOf(rl.request_reset_duration, false, rl.request_last_reset ?? rl.created_at, now)
      rl.request_current_usage = (await this.counters.read(rateLimitCounter(rl.id, 'requests'), w.start)).used
      rl.request_last_reset = new Date(w.start).toISOString()
      rl.request_reset_at = new Date(w.end).toISOString()
    }
    if (rl.token_reset_duration) {
      const w = windowOf(rl.token_reset_duration, false, rl.token_last_reset ?? rl.created_at, now)
      rl.token_current_usage = (await this.counters.read(rateLimitCounter(rl.id, 'tokens'), w.start)).used
      rl.token_last_reset = new Date(w.start).toISOString()
      rl.token_reset_at = new Date(w.end).toISOString()
    }
  }

  private async budgets(list: (Budget | null | undefined)[] | undefined): Promise<void> {
    await Promise.all((list ?? []).map((b) => (b ? this.budget(b) : undefined)))
  }

  async team(t: Team): Promise<void> {
    await Promise.all([
      this.budgets([t.budget, ...(t.budgets ?? [])]),
      t.rate_limit ? this.rateLimit(t.rate_limit) : undefined,
    ])
    if (t.customer) await this.customer(t.customer)
  }

  async customer(c: Customer): Promise<void> {
    await Promise.all([
      this.budgets([c.budget, ...(c.budgets ?? [])]),
      c.rate_limit ? this.rateLimit(c.rate_limit) : undefined,
    ])
  }

  async virtualKey(vk: VirtualKey): Promise<void> {
    await Promise.all([
      this.budgets(vk.budgets),
      vk.rate_limit ? this.rateLimit(vk.rate_limit) : undefined,
      ...vk.provider_configs.map((pc) =>
        Promise.all([this.budgets(pc.budgets), pc.rate_limit ? this.rateLimit(pc.rate_limit) : undefined]),
      ),
      vk.team ? this.team(vk.team) : undefined,
      vk.customer ? this.customer(vk.customer) : undefined,
    ])
  }

  /** Overlays whatever governance entity the API is about to answer with. */
  async overlay(entity: unknown): Promise<void> {
    if (!entity || typeof entity !== 'object') return
    const e = entity as Record<string, unknown>
    if (Array.isArray(e.provider_configs) && 'is_active' in e)
      return this.virtualKey(e as unknown as VirtualKey)
    if ('max_limit' in e && 'reset_duration' in e) return this.budget(e as unknown as Budget)
    if ('request_current_usage' in e || 'token_current_usage' in e)
      return this.rateLimit(e as unknown as RateLimit)
    if ('customer_id' in e || 'customer' in e) return this.team(e as unknown as Team)
    return this.customer(e as unknown as Customer)
  }
}
