import { Type, type Static } from '@sinclair/typebox'
import { invalid, notFound } from './checks.js'
import { parseResetDuration } from './durations.js'
import { computeWindow, effectiveMaxLimit, overrideActive } from './limits.js'
import type { Budget } from './model.js'
import * as repo from './repo/index.js'
import type { BudgetRow } from './repo/index.js'
import type { GovernanceService } from './service.js'

/**
 * Bifrost's budget overrides: `amount` dollars added to a budget's max_limit for `cycles` reset
 * windows (the current one counts as the first) or `forever`, until removed. The grant is stored as
 * its anchor window and the end of its last window, so that every node derives the same effective
 * cap from the same row; enforcement reads it through limits.ts (effectiveMaxLimit).
 */

export const BudgetOverrideSchema = Type.Object({
  amount: Type.Number(),
  mode: Type.String(),
  cycles: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
})
export type BudgetOverrideInput = Static<typeof BudgetOverrideSchema>

export interface BudgetOverrideResult {
  budget: Budget
  effective_max_limit: number
}

type Db = repo.GovernanceDb

/** The override's windows left at `now` (the current one included); an expired override is removed from `b`. */
export function describeOverride(b: Budget, now: number): void {
  if (b.override_mode === undefined) return
  if (!overrideActive(b, now)) {
    delete b.override_amount
    delete b.override_mode
    delete b.override_cycles_total
    delete b.override_cycles_remaining
    delete b.override_anchor_reset
    delete b.override_expires_at
    return
  }
  if (b.override_mode !== 'cycles' || b.override_expires_at === undefined) return
  const expires = Date.parse(b.override_expires_at)
  let w = computeWindow(b.reset_duration, b.calendar_aligned, b.last_reset ?? b.created_at, now)
  let left = 1
  while (w.end < expires && left < (b.override_cycles_total ?? 1)) {
    w = computeWindow(b.reset_duration, b.calendar_aligned, b.last_reset ?? b.created_at, w.end)
    left++
  }
  b.override_cycles_remaining = left
}

function checkInput(input: BudgetOverrideInput): { mode: 'cycles' | 'forever'; cycles: number } {
  if (!Number.isFinite(input.amount) || input.amount <= 0)
    invalid(`amount must be a number greater than 0 (got ${input.amount})`, 'amount')
  if (input.mode !== 'cycles' && input.mode !== 'forever')
    invalid(`mode must be "cycles" or "forever" (got "${input.mode}")`, 'mode')
  if (input.mode === 'forever') return { mode: 'forever', cycles: 0 }
  if (input.cycles == null) invalid('cycles is required when mode is "cycles"', 'cycles')
  if (input.cycles < 1 || input.cycles > 100_000)
    invalid(`cycles must be an integer from 1 to 100000 (got ${input.cycles})`, 'cycles')
  return { mode: 'cycles', cycles: input.cycles }
}

export class BudgetOverrideService {
  constructor(
    private readonly db: Db,
    private readonly governance: GovernanceService,
    private readonly now: () => number = Date.now,
  ) {}

  /** `PUT /api/governance/virtual-keys/{vk_id}/budgets/{budget_id}/override`. */
  async setForVirtualKey(vkId: string, budgetId: string, input: BudgetOverrideInput) {
    const checked = checkInput(input)
    return this.write([vkId], budgetId, checked, input.amount)
  }

  async clearForVirtualKey(vkId: string, budgetId: string) {
    return this.write([vkId], budgetId, undefined, 0)
  }

  /** `PUT /api/users/{user_id}/access-profiles/{profile_id}/budgets/{budget_id}/override`: a budget of the user's copy. */
  async setForUserProfile(userId: string, profileId: number, budgetId: string, input: BudgetOverrideInput) {
    const checked = checkInput(input)
    return this.write(await this.profileKeys(userId, profileId), budgetId, checked, input.amount)
  }

  async clearForUserProfile(userId: string, profileId: number, budgetId: string) {
    return this.write(await this.profileKeys(userId, profileId), budgetId, undefined, 0)
  }

  /** The virtual keys that profile issued to that user: the user's copy of it. */
  private async profileKeys(userId: string, profileId: number): Promise<string[]> {
    const users = this.db.withTables<{ gov_users: { id: string } }>()
    const user = await users.selectFrom('gov_users').select('id').where('id', '=', userId).executeTakeFirst()
    if (!user) notFound(`user ${userId} not found`)
    const keys = await this.db
      .selectFrom('gov_virtual_keys')
      .select('id')
      .where('user_id', '=', userId)
      .where('access_profile_id', '=', profileId)
      .execute()
    if (keys.length === 0) notFound(`access profile ${profileId} is not assigned to user ${userId}`)
    return keys.map((k) => k.id)
  }

  private async write(
    vkIds: string[],
    budgetId: string,
    grant: { mode: 'cycles' | 'forever'; cycles: number } | undefined,
    amount: number,
  ): Promise<BudgetOverrideResult> {
    const nowMs = this.now()
    const nowIso = new Date(nowMs).toISOString()
    const row = await this.governance.mutate(
      async (trx) => {
        const found = await this.findOwnedBudget(trx, vkIds, budgetId)
        const aligned = found.aligned
        let patch: Partial<BudgetRow> = {
          override_amount: 0,
          override_mode: null,
          override_cycles_total: 0,
          override_anchor_reset: null,
          override_expires_at: null,
        }
        if (grant?.mode === 'forever') patch = { ...patch, override_amount: amount, override_mode: 'forever' }
        if (grant?.mode === 'cycles') {
          const anchor = found.row.last_reset ?? found.row.created_at
          const first = computeWindow(found.row.reset_duration, aligned, anchor, nowMs)
          let end = first.end
          if (aligned) {
            for (let i = 1; i < grant.cycles; i++)
              end = computeWindow(found.row.reset_duration, aligned, anchor, end).end
          } else end = first.start + grant.cycles * parseResetDuration(found.row.reset_duration).ms
          patch = {
            override_amount: amount,
            override_mode: 'cycles',
            override_cycles_total: grant.cycles,
            override_anchor_reset: new Date(first.start).toISOString(),
            override_expires_at: new Date(end).toISOString(),
          }
        }
        await repo.updateBudget(trx, budgetId, { ...patch, updated_at: nowIso })
        return { ...found, row: { ...found.row, ...patch, updated_at: nowIso } }
      },
      (r) => ({ entity: 'virtual_key', id: r.vkId, action: 'updated' }),
    )
    const budget = repo.budgetFromRow(row.row, row.aligned)
    describeOverride(budget, nowMs)
    return { budget, effective_max_limit: effectiveMaxLimit(budget, nowMs) }
  }

  /**
   * The budget, if one of these keys holds it: its own, one of its provider configs', or a model
   * config's scoped to it. Anything else is a 404, as Bifrost answers a budget of another owner.
   */
  private async findOwnedBudget(db: Db, vkIds: string[], budgetId: string) {
    const keys = await db.selectFrom('gov_virtual_keys').selectAll().where('id', 'in', vkIds).execute()
    if (keys.length === 0) notFound('Virtual key not found')
    const row = await db.selectFrom('gov_budgets').selectAll().where('id', '=', budgetId).executeTakeFirst()
    if (!row) notFound(`budget ${budgetId} not found`)
    for (const vk of keys) {
      const ownerAligned = vk.calendar_aligned === 1
      if (row.virtual_key_id === vk.id) return { row, vkId: vk.id, aligned: this.aligned(row, ownerAligned) }
      if (row.provider_config_id !== null) {
        const pc = await db
          .selectFrom('gov_vk_provider_configs')
          .select('id')
          .where('id', '=', row.provider_config_id)
          .where('virtual_key_id', '=', vk.id)
          .executeTakeFirst()
        if (pc) return { row, vkId: vk.id, aligned: this.aligned(row, ownerAligned) }
      }
      if (row.model_config_id != null) {
        const mc = await repo.findModelConfig(db, row.model_config_id)
        if (mc && mc.scope === 'virtual_key' && mc.scope_id === vk.id)
          return { row, vkId: vk.id, aligned: this.aligned(row, mc.calendar_aligned === 1) }
      }
    }
    notFound(`budget ${budgetId} does not belong to virtual key ${vkIds.join(', ')}`)
  }

  private aligned(row: BudgetRow, ownerAligned: boolean): boolean {
    return (row.calendar_aligned === 1 || ownerAligned) && !repo.isSubDayDuration(row.reset_duration)
  }
}
