import type { CounterStore } from '../../cluster/index.js'
import { budgetCounter, effectiveMaxLimit, rateLimitCounter, windowFor } from '../limits.js'
import type { Budget, RateLimit, VirtualKeyRecord } from '../model.js'
import type { GovernanceState } from '../state.js'
import type { Capacity } from './engine.js'

/**
 * `budget_used`, `tokens_used` and `request` for a routing rule: the highest percentage used of
 * the limits that apply to a request of this virtual key on this provider (its provider config,
 * the key, its team and customer), read from the shared counters. 0 when no limit applies.
 */
export async function readCapacity(
  counters: CounterStore,
  state: GovernanceState,
  vk: VirtualKeyRecord | undefined,
  provider: string,
  now = Date.now(),
): Promise<Capacity> {
  const out: Capacity = { budget_used: 0, tokens_used: 0, request: 0 }
  if (!vk) return out
  const pc = vk.provider_configs.find((p) => p.provider === provider)
  const team = state.team(vk.team_id)
  const customer = state.customer(vk.customer_id ?? team?.customer_id)
  const budgets: (Budget | null | undefined)[] = [
    ...(pc?.budgets ?? []),
    ...vk.budgets,
    team?.budget,
    ...(team?.budgets ?? []),
    customer?.budget,
    ...(customer?.budgets ?? []),
  ]
  const limits = [pc?.rate_limit, vk.rate_limit, team?.rate_limit, customer?.rate_limit]
  const reads: Promise<void>[] = []
  const percent = (used: number, limit: number) => (limit > 0 ? (used / limit) * 100 : 0)
  for (const b of budgets) {
    if (!b) continue
    const w = windowFor(b.reset_duration, b.calendar_aligned, b.last_reset ?? b.created_at, now)
    reads.push(
      counters.read(budgetCounter(b.id), w.start).then((u) => {
        out.budget_used = Math.max(out.budget_used, percent(u.used, effectiveMaxLimit(b, now)))
      }),
    )
  }
  for (const rl of limits) if (rl) reads.push(...rateLimitReads(counters, rl, out, now))
  await Promise.all(reads)
  return out
}

function rateLimitReads(counters: CounterStore, rl: RateLimit, out: Capacity, now: number): Promise<void>[] {
  const reads: Promise<void>[] = []
  if (rl.request_max_limit != null && rl.request_reset_duration) {
    const w = windowFor(rl.request_reset_duration, false, rl.request_last_reset ?? rl.created_at, now)
    const limit = rl.request_max_limit
    reads.push(
      counters.read(rateLimitCounter(rl.id, 'requests'), w.start).then((u) => {
        if (limit > 0) out.request = Math.max(out.request, (u.used / limit) * 100)
      }),
    )
  }
  if (rl.token_max_limit != null && rl.token_reset_duration) {
    const w = windowFor(rl.token_reset_duration, false, rl.token_last_reset ?? rl.created_at, now)
    const limit = rl.token_max_limit
    reads.push(
      counters.read(rateLimitCounter(rl.id, 'tokens'), w.start).then((u) => {
        if (limit > 0) out.tokens_used = Math.max(out.tokens_used, (u.used / limit) * 100)
      }),
    )
  }
  return reads
}
