import type { ModelConfig, ProviderGovernance } from '../model.js'
import { LimitIndex } from './rows.js'
import type {
  BudgetRow,
  GovernanceDb,
  ModelConfigRow,
  ProviderGovernanceRow,
  RateLimitRow,
} from './tables.js'

/**
 * Model configs and governed providers (013_model_limits) with their budgets and rate limits:
 * the reads that assemble them (a fixed handful of queries) and the writes of their own rows.
 * Their budgets and rate limits are written with the owner-generic primitives of write.ts.
 */

async function limitsOf(
  db: GovernanceDb,
  column: 'model_config_id' | 'provider_name',
  ids: readonly string[],
): Promise<LimitIndex> {
  if (ids.length === 0) return new LimitIndex([], [])
  const [budgets, rateLimits]: [BudgetRow[], RateLimitRow[]] = await Promise.all([
    db
      .selectFrom('gov_budgets')
      .selectAll()
      .where(column, 'in', ids)
      .orderBy('created_at')
      .orderBy('id')
      .execute(),
    db.selectFrom('gov_rate_limits').selectAll().where(column, 'in', ids).execute(),
  ])
  return new LimitIndex(budgets, rateLimits)
}

/** The names of the virtual keys and users that scoped model configs name. */
async function scopeNames(db: GovernanceDb, rows: readonly ModelConfigRow[]): Promise<Map<string, string>> {
  const ids = (scope: string) => [
    ...new Set(rows.filter((r) => r.scope === scope && r.scope_id !== null).map((r) => r.scope_id as string)),
  ]
  const keyIds = ids('virtual_key')
  const userIds = ids('user')
  const users = db.withTables<{ gov_users: { id: string; name: string } }>()
  const [keys, people] = await Promise.all([
    keyIds.length === 0
      ? []
      : db.selectFrom('gov_virtual_keys').select(['id', 'name']).where('id', 'in', keyIds).execute(),
    userIds.length === 0
      ? []
      : users.selectFrom('gov_users').select(['id', 'name']).where('id', 'in', userIds).execute(),
  ])
  return new Map([...keys, ...people].map((r) => [r.id, r.name]))
}

/** A virtual-key-scoped config inherits its key's calendar alignment, as in Bifrost. */
async function alignedKeys(db: GovernanceDb, rows: readonly ModelConfigRow[]): Promise<Set<string>> {
  const ids = rows
    .filter((r) => r.scope === 'virtual_key' && r.scope_id !== null)
    .map((r) => r.scope_id as string)
  if (ids.length === 0) return new Set()
  const keys = await db
    .selectFrom('gov_virtual_keys')
    .select('id')
    .where('id', 'in', ids)
    .where('calendar_aligned', '=', 1)
    .execute()
  return new Set(keys.map((k) => k.id))
}

export async function readModelConfigs(db: GovernanceDb, rows: ModelConfigRow[]): Promise<ModelConfig[]> {
  const [limits, names, aligned] = await Promise.all([
    limitsOf(
      db,
      'model_config_id',
      rows.map((r) => r.id),
    ),
    scopeNames(db, rows),
    alignedKeys(db, rows),
  ])
  return rows.map((row) => {
    const calendarAligned = row.calendar_aligned === 1 || aligned.has(row.scope_id ?? '')
    const budgets = limits.budgetsOf('model_config_id', row.id, calendarAligned)
    const rateLimit = limits.rateLimitOf('model_config_id', row.id)
    return {
      id: row.id,
      model_name: row.model_name,
      ...(row.provider !== null && { provider: row.provider }),
      scope: row.scope as ModelConfig['scope'],
      scope_id: row.scope_id,
      scope_name: row.scope_id === null ? null : (names.get(row.scope_id) ?? null),
      calendar_aligned: calendarAligned,
      budgets,
      ...(budgets.length > 0 && { budget_id: budgets[0].id, budget: budgets[0] }),
      ...(rateLimit && { rate_limit_id: rateLimit.id, rate_limit: rateLimit }),
      config_hash: row.config_hash ?? '',
      created_at: row.created_at,
      updated_at: row.updated_at,
    }
  })
}

export interface ModelConfigFilter {
  search?: string
  scope?: string
  scope_id?: string
}

export async function listModelConfigRows(
  db: GovernanceDb,
  filter: ModelConfigFilter = {},
): Promise<ModelConfigRow[]> {
  let query = db.selectFrom('gov_model_configs').selectAll()
  if (filter.scope !== undefined) query = query.where('scope', '=', filter.scope)
  if (filter.scope_id !== undefined) query = query.where('scope_id', '=', filter.scope_id)
  const rows = await query.orderBy('created_at').orderBy('id').execute()
  const search = filter.search?.toLowerCase()
  return search ? rows.filter((r) => r.model_name.toLowerCase().includes(search)) : rows
}

export async function findModelConfig(db: GovernanceDb, id: string): Promise<ModelConfigRow | undefined> {
  return db.selectFrom('gov_model_configs').selectAll().where('id', '=', id).executeTakeFirst()
}

/** The config with the same identity (scope, scope_id, model_name, provider), if any. */
export async function findModelConfigLike(
  db: GovernanceDb,
  row: Pick<ModelConfigRow, 'scope' | 'scope_id' | 'model_name' | 'provider'>,
): Promise<ModelConfigRow | undefined> {
  let query = db
    .selectFrom('gov_model_configs')
    .selectAll()
    .where('scope', '=', row.scope)
    .where('model_name', '=', row.model_name)
  query =
    row.scope_id === null ? query.where('scope_id', 'is', null) : query.where('scope_id', '=', row.scope_id)
  query =
    row.provider === null ? query.where('provider', 'is', null) : query.where('provider', '=', row.provider)
  return query.executeTakeFirst()
}

export async function insertModelConfig(db: GovernanceDb, row: ModelConfigRow): Promise<void> {
  await db.insertInto('gov_model_configs').values(row).execute()
}

export async function updateModelConfig(
  db: GovernanceDb,
  id: string,
  patch: Partial<Omit<ModelConfigRow, 'id' | 'created_at'>>,
): Promise<void> {
  await db.updateTable('gov_model_configs').set(patch).where('id', '=', id).execute()
}

/** Deletes a model config with its budgets and rate limit; false when there was none. */
export async function deleteModelConfig(db: GovernanceDb, id: string): Promise<boolean> {
  await db.deleteFrom('gov_budgets').where('model_config_id', '=', id).execute()
  await db.deleteFrom('gov_rate_limits').where('model_config_id', '=', id).execute()
  const result = await db.deleteFrom('gov_model_configs').where('id', '=', id).executeTakeFirst()
  return result.numDeletedRows > 0n
}

/** Model configs scoped to a virtual key go with it. */
export async function deleteModelConfigsOfScope(
  db: GovernanceDb,
  scope: string,
  scopeId: string,
): Promise<void> {
  const rows = await listModelConfigRows(db, { scope, scope_id: scopeId })
  for (const row of rows) await deleteModelConfig(db, row.id)
}

export async function readProviderGovernance(
  db: GovernanceDb,
  provider?: string,
): Promise<ProviderGovernance[]> {
  let query = db.selectFrom('gov_provider_governance').selectAll()
  if (provider !== undefined) query = query.where('provider', '=', provider)
  const rows = await query.orderBy('provider').execute()
  const limits = await limitsOf(
    db,
    'provider_name',
    rows.map((r) => r.provider),
  )
  return rows.map((row) => {
    const aligned = row.calendar_aligned === 1
    const budgets = limits.budgetsOf('provider_name', row.provider, aligned)
    const rateLimit = limits.rateLimitOf('provider_name', row.provider)
    return {
      provider: row.provider,
      budgets,
      ...(budgets.length > 0 && { budget: budgets[0] }),
      ...(rateLimit && { rate_limit: rateLimit }),
      calendar_aligned: aligned,
    }
  })
}

export async function findProviderGovernance(
  db: GovernanceDb,
  provider: string,
): Promise<ProviderGovernanceRow | undefined> {
  return db
    .selectFrom('gov_provider_governance')
    .selectAll()
    .where('provider', '=', provider)
    .executeTakeFirst()
}

export async function upsertProviderGovernance(db: GovernanceDb, row: ProviderGovernanceRow): Promise<void> {
  const stored = await findProviderGovernance(db, row.provider)
  if (stored) {
    await db
      .updateTable('gov_provider_governance')
      .set({ calendar_aligned: row.calendar_aligned, updated_at: row.updated_at })
      .where('provider', '=', row.provider)
      .execute()
  } else {
    await db.insertInto('gov_provider_governance').values(row).execute()
  }
}

/** Removes a provider's budgets, rate limit and governance row. */
export async function deleteProviderGovernance(db: GovernanceDb, provider: string): Promise<void> {
  await db.deleteFrom('gov_budgets').where('provider_name', '=', provider).execute()
  await db.deleteFrom('gov_rate_limits').where('provider_name', '=', provider).execute()
  await db.deleteFrom('gov_provider_governance').where('provider', '=', provider).execute()
}
