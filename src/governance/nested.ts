import { randomUUID } from 'node:crypto'
import type { Selectable } from 'kysely'
import { checkBudget, checkRateLimitSpec, invalid } from './checks.js'
import * as repo from './repo/index.js'
import type { LimitOwner, ProviderConfigRow, RateLimitSpec } from './repo/index.js'
import type { BudgetInput, BudgetPatch, ProviderConfigInput, RateLimitInput } from './requests.js'

/**
 * Writes the nested parts of a virtual key, team or customer (budgets, rate limit, provider
 * configs) inside the caller's transaction, matched against what is stored so that usage survives
 * an edit.
 */

type Db = repo.GovernanceDb

/** An owner's budgets (all replaced, when given: see replaceBudgets) and its rate limit (applyRateLimit). */
export async function replaceOwnerLimits(
  db: Db,
  owner: LimitOwner,
  budgets: readonly { input: BudgetInput }[] | undefined,
  rateLimit: RateLimitInput | null | undefined,
  now: string,
): Promise<void> {
  if (budgets)
    await replaceBudgets(
      db,
      owner,
      budgets.map((b) => b.input),
      now,
    )
  await applyRateLimit(db, owner, rateLimit, 'rate_limit', now)
}

/**
 * Makes the owner's budgets the given ones. A stored budget with the same reset_duration is kept
 * (its usage and window too) with the new max_limit; the others are deleted, new ones created.
 */
export async function replaceBudgets(
  db: Db,
  owner: LimitOwner,
  inputs: readonly BudgetInput[],
  now: string,
): Promise<void> {
  const existing = await repo.budgetRowsOf(db, owner)
  const kept = new Set<string>()
  for (const b of inputs) {
    const match = existing.find((e) => e.reset_duration === b.reset_duration && !kept.has(e.id))
    if (match) {
      kept.add(match.id)
      await repo.updateBudget(db, match.id, {
        max_limit: b.max_limit,
        ...(b.calendar_aligned !== undefined && { calendar_aligned: b.calendar_aligned ? 1 : 0 }),
        updated_at: now,
      })
    } else {
      await repo.insertBudget(
        db,
        owner,
        {
          id: randomUUID(),
          max_limit: b.max_limit,
          reset_duration: b.reset_duration,
          calendar_aligned: b.calendar_aligned ?? false,
          last_reset: now,
        },
        now,
      )
    }
  }
  await repo.deleteBudgets(
    db,
    existing.filter((e) => !kept.has(e.id)).map((e) => e.id),
  )
}

/** Bifrost's single `budget` of a team or customer: `{}` or null removes it, else it is changed or made. */
export async function patchSingleBudget(
  db: Db,
  owner: LimitOwner,
  patch: BudgetPatch | null,
  param: string,
  now: string,
): Promise<void> {
  const [first, ...others] = await repo.budgetRowsOf(db, owner)
  if (patch === null || (patch.max_limit === undefined && patch.reset_duration === undefined)) {
    if (first) await repo.deleteBudgets(db, [first.id])
    return
  }
  const max_limit = patch.max_limit ?? first?.max_limit
  const reset_duration = patch.reset_duration ?? first?.reset_duration
  if (max_limit === undefined || reset_duration === undefined) {
    invalid('both max_limit and reset_duration are required when creating a new budget', param)
  }
  const calendar_aligned =
    patch.calendar_aligned === undefined || patch.calendar_aligned === null
      ? first?.calendar_aligned === 1
      : patch.calendar_aligned
  checkBudget({ max_limit, reset_duration, calendar_aligned }, param)
  if (others.some((b) => b.reset_duration === reset_duration)) {
    invalid(`duplicate reset_duration in budgets: ${reset_duration}`, `${param}.reset_duration`)
  }
  if (first) {
    await repo.updateBudget(db, first.id, {
      max_limit,
      reset_duration,
      calendar_aligned: calendar_aligned ? 1 : 0,
      updated_at: now,
    })
  } else {
    await repo.insertBudget(
      db,
      owner,
      { id: randomUUID(), max_limit, reset_duration, calendar_aligned, last_reset: now },
      now,
    )
  }
}

/**
 * Applies a rate limit given on create or update: members merge into the stored one (null clears
 * one); null, or no limit left, removes it. Usage is kept.
 */
export async function applyRateLimit(
  db: Db,
  owner: LimitOwner,
  input: RateLimitInput | null | undefined,
  param: string,
  now: string,
): Promise<void> {
  if (input === undefined) return
  const existing = await repo.rateLimitRowOf(db, owner)
  if (input === null) {
    if (existing) await repo.deleteRateLimits(db, [existing.id])
    return
  }
  const pick = <K extends keyof RateLimitSpec>(field: K): RateLimitSpec[K] =>
    (input[field] === undefined ? (existing?.[field] ?? null) : input[field]) as RateLimitSpec[K]
  const spec: RateLimitSpec = {
    token_max_limit: pick('token_max_limit'),
    token_reset_duration: pick('token_reset_duration'),
    request_max_limit: pick('request_max_limit'),
    request_reset_duration: pick('request_reset_duration'),
  }
  checkRateLimitSpec(spec, param)
  if (spec.token_max_limit === null && spec.request_max_limit === null) {
    if (existing) await repo.deleteRateLimits(db, [existing.id])
  } else if (existing) {
    await repo.updateRateLimit(db, existing.id, { ...spec, updated_at: now })
  } else {
    await repo.insertRateLimit(db, owner, randomUUID(), spec, now)
  }
}

function allowAllKeys(input: ProviderConfigInput, stored?: Selectable<ProviderConfigRow>): number {
  if (input.allow_all_keys !== undefined) return input.allow_all_keys ? 1 : 0
  if (input.key_ids !== undefined) return input.key_ids.includes('*') ? 1 : 0
  return stored?.allow_all_keys ?? 0
}

/**
 * Makes the key's provider configs the given ones. An entry changes the stored config it names by
 * id, or else the stored config of the same provider (keeping its budgets' usage); stored configs
 * no entry claims are deleted with their budgets and rate limit. Members left out of an entry keep
 * their stored value; a new config's lists default to empty (deny, Bifrost ≥ 1.5).
 */
export async function replaceProviderConfigs(
  db: Db,
  virtualKeyId: string,
  inputs: readonly ProviderConfigInput[],
  now: string,
): Promise<void> {
  const existing = await repo.providerConfigRowsOf(db, virtualKeyId)
  const claimed = new Set<number>()
  const targets = inputs.map((input, i) => {
    if (input.id === undefined) return undefined
    const row = existing.find((r) => r.id === input.id)
    if (!row || claimed.has(row.id)) {
      invalid(`provider config ${input.id} does not belong to this virtual key`, `provider_configs.${i}.id`)
    }
    claimed.add(row.id)
    return row
  })
  inputs.forEach((input, i) => {
    if (targets[i]) return
    const row = existing.find((r) => r.provider === input.provider && !claimed.has(r.id))
    if (row) {
      claimed.add(row.id)
      targets[i] = row
    }
  })
  await repo.deleteProviderConfigs(
    db,
    existing.filter((r) => !claimed.has(r.id)).map((r) => r.id),
  )
  for (const [i, input] of inputs.entries()) {
    const stored = targets[i]
    let id: number
    if (stored) {
      id = stored.id
      await repo.updateProviderConfig(db, id, {
        provider: input.provider,
        ...(input.weight !== undefined && { weight: input.weight }),
        ...(input.allowed_models !== undefined && { allowed_models: JSON.stringify(input.allowed_models) }),
        ...(input.blacklisted_models !== undefined && {
          blacklisted_models: JSON.stringify(input.blacklisted_models),
        }),
        ...(input.key_ids !== undefined && { key_ids: JSON.stringify(input.key_ids) }),
        allow_all_keys: allowAllKeys(input, stored),
      })
      if (input.budgets !== undefined)
        await replaceBudgets(db, { provider_config_id: id }, input.budgets, now)
    } else {
      id = await repo.insertProviderConfig(db, {
        virtual_key_id: virtualKeyId,
        provider: input.provider,
        weight: input.weight ?? null,
        allowed_models: JSON.stringify(input.allowed_models ?? []),
        blacklisted_models: JSON.stringify(input.blacklisted_models ?? []),
        allow_all_keys: allowAllKeys(input),
        key_ids: JSON.stringify(input.key_ids ?? []),
        rate_limit_id: null,
      })
      await replaceBudgets(db, { provider_config_id: id }, input.budgets ?? [], now)
    }
    await applyRateLimit(
      db,
      { provider_config_id: id },
      input.rate_limit,
      `provider_configs.${i}.rate_limit`,
      now,
    )
  }
}
