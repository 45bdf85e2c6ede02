import { sql, type Insertable, type Selectable, type SelectQueryBuilder, type Updateable } from 'kysely'
import type { ConfigStoreTables } from '../../store/index.js'
import {
  ownerColumns,
  type BudgetRow,
  type GovernanceDb,
  type GovernanceTables,
  type LimitOwner,
  type OwnerColumns,
  type ProviderConfigRow,
  type RateLimitRow,
  type VirtualKeyRow,
} from './tables.js'
import { deleteModelConfigsOfScope } from './model-limits.js'

/**
 * The persistence primitives the service composes inside its transactions. Each takes the query
 * builder or a transaction; none checks business rules (service.ts does).
 */

export interface Page {
  limit: number
  offset: number
}

/** `lower(name) like %text%`, with the LIKE wildcards in `text` taken literally. */
export function whereNameContains(text: string) {
  const pattern = `%${text.toLowerCase().replace(/[!%_]/g, (c) => `!${c}`)}%`
  return sql<boolean>`lower(${sql.ref('name')}) like ${pattern} escape '!'`
}

/** The listed tables, each ordered by creation. */
type Listed = 'gov_virtual_keys' | 'gov_teams' | 'gov_customers'
type Tables = ConfigStoreTables & GovernanceTables

/** A page of the query's rows (all of them without a page) in creation order, and how many match in all. */
export async function rowsAndTotal<T extends Listed>(
  query: SelectQueryBuilder<Tables, T, object>,
  page?: Page,
): Promise<{ rows: Selectable<Tables[T]>[]; total: number }> {
  // One table's type stands for all: they share id and created_at, which is all this reads.
  const filtered = query as unknown as SelectQueryBuilder<Tables, 'gov_teams', object>
  let rowsQuery = filtered.selectAll().orderBy('created_at').orderBy('id')
  if (page) rowsQuery = rowsQuery.limit(page.limit).offset(page.offset)
  const [rows, count] = await Promise.all([
    rowsQuery.execute(),
    filtered.select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow(),
  ])
  return { rows: rows as unknown as Selectable<Tables[T]>[], total: Number(count.n) }
}

// ---- budgets and rate limits ----

export interface BudgetSpec {
  id: string
  max_limit: number
  reset_duration: string
  calendar_aligned: boolean
  last_reset: string
  config_hash?: string | null
}

export async function insertBudget(
  db: GovernanceDb,
  owner: LimitOwner,
  spec: BudgetSpec,
  now: string,
): Promise<void> {
  await db
    .insertInto('gov_budgets')
    .values({
      id: spec.id,
      ...ownerColumns(owner),
      max_limit: spec.max_limit,
      reset_duration: spec.reset_duration,
      calendar_aligned: spec.calendar_aligned ? 1 : 0,
      last_reset: spec.last_reset,
      current_usage: 0,
      config_hash: spec.config_hash ?? null,
      created_at: now,
      updated_at: now,
    })
    .execute()
}

export async function updateBudget(
  db: GovernanceDb,
  id: string,
  patch: Updateable<Omit<BudgetRow, 'id' | keyof OwnerColumns | 'created_at'>>,
): Promise<void> {
  await db.updateTable('gov_budgets').set(patch).where('id', '=', id).execute()
}

export async function deleteBudgets(db: GovernanceDb, ids: readonly string[]): Promise<void> {
  if (ids.length > 0) await db.deleteFrom('gov_budgets').where('id', 'in', ids).execute()
}

function ownerFilter(owner: LimitOwner): [keyof OwnerColumns, string | number] {
  const [column, value] = Object.entries(owner)[0] as [keyof OwnerColumns, string | number]
  return [column, value]
}

export async function budgetRowsOf(db: GovernanceDb, owner: LimitOwner): Promise<BudgetRow[]> {
  const [column, value] = ownerFilter(owner)
  return db
    .selectFrom('gov_budgets')
    .selectAll()
    .where(column, '=', value)
    .orderBy('created_at')
    .orderBy('id')
    .execute()
}

export type RateLimitSpec = Pick<
  RateLimitRow,
  'token_max_limit' | 'token_reset_duration' | 'request_max_limit' | 'request_reset_duration'
>

export async function insertRateLimit(
  db: GovernanceDb,
  owner: LimitOwner,
  id: string,
  spec: RateLimitSpec,
  now: string,
  configHash: string | null = null,
): Promise<void> {
  await db
    .insertInto('gov_rate_limits')
    .values({
      id,
      ...ownerColumns(owner),
      ...spec,
      token_current_usage: 0,
      token_last_reset: now,
      request_current_usage: 0,
      request_last_reset: now,
      config_hash: configHash,
      created_at: now,
      updated_at: now,
    })
    .execute()
  if ('provider_config_id' in owner) {
    await db
      .updateTable('gov_vk_provider_configs')
      .set({ rate_limit_id: id })
      .where('id', '=', owner.provider_config_id)
      .execute()
  }
}

export async function updateRateLimit(
  db: GovernanceDb,
  id: string,
  patch: Updateable<Omit<RateLimitRow, 'id' | keyof OwnerColumns | 'created_at'>>,
): Promise<void> {
  await db.updateTable('gov_rate_limits').set(patch).where('id', '=', id).execute()
}

export async function deleteRateLimits(db: GovernanceDb, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return
  await db.deleteFrom('gov_rate_limits').where('id', 'in', ids).execute()
  await db
    .updateTable('gov_vk_provider_configs')
    .set({ rate_limit_id: null })
    .where('rate_limit_id', 'in', ids)
    .execute()
}

export async function rateLimitRowOf(db: GovernanceDb, owner: LimitOwner): Promise<RateLimitRow | undefined> {
  const [column, value] = ownerFilter(owner)
  return db.selectFrom('gov_rate_limits').selectAll().where(column, '=', value).executeTakeFirst()
}

/** Deletes what the given owners own, ahead of deleting the owners (foreign keys would too, on a database that enforces them). */
export async function deleteLimitsOf(
  db: GovernanceDb,
  column: keyof OwnerColumns,
  ids: readonly (string | number)[],
) {
  if (ids.length === 0) return
  await db.deleteFrom('gov_budgets').where(column, 'in', ids).execute()
  await db.deleteFrom('gov_rate_limits').where(column, 'in', ids).execute()
}

// ---- virtual keys and their provider configs ----

export async function findVirtualKey(db: GovernanceDb, id: string): Promise<VirtualKeyRow | undefined> {
  return db.selectFrom('gov_virtual_keys').selectAll().where('id', '=', id).executeTakeFirst()
}

export async function findVirtualKeyIdByName(db: GovernanceDb, name: string): Promise<string | undefined> {
  const row = await db.selectFrom('gov_virtual_keys').select('id').where('name', '=', name).executeTakeFirst()
  return row?.id
}

export async function findVirtualKeyByHash(
  db: GovernanceDb,
  valueHash: string,
): Promise<VirtualKeyRow | undefined> {
  return db.selectFrom('gov_virtual_keys').selectAll().where('value_hash', '=', valueHash).executeTakeFirst()
}

export async function insertVirtualKey(db: GovernanceDb, row: VirtualKeyRow): Promise<void> {
  await db.insertInto('gov_virtual_keys').values(row).execute()
}

export async function updateVirtualKey(
  db: GovernanceDb,
  id: string,
  patch: Updateable<Omit<VirtualKeyRow, 'id' | 'created_at'>>,
): Promise<void> {
  await db.updateTable('gov_virtual_keys').set(patch).where('id', '=', id).execute()
}

/** Deletes a virtual key with its provider configs, budgets and rate limits; false when there was none. */
export async function deleteVirtualKey(db: GovernanceDb, id: string): Promise<boolean> {
  const configs = await providerConfigRowsOf(db, id)
  await deleteProviderConfigs(
    db,
    configs.map((c) => c.id),
  )
  await deleteLimitsOf(db, 'virtual_key_id', [id])
  await deleteModelConfigsOfScope(db, 'virtual_key', id)
  const result = await db.deleteFrom('gov_virtual_keys').where('id', '=', id).executeTakeFirst()
  return result.numDeletedRows > 0n
}

export async function providerConfigRowsOf(
  db: GovernanceDb,
  virtualKeyId: string,
): Promise<Selectable<ProviderConfigRow>[]> {
  return db
    .selectFrom('gov_vk_provider_configs')
    .selectAll()
    .where('virtual_key_id', '=', virtualKeyId)
    .orderBy('id')
    .execute()
}

export async function insertProviderConfig(
  db: GovernanceDb,
  row: Insertable<ProviderConfigRow>,
): Promise<number> {
  const { id } = await db
    .insertInto('gov_vk_provider_configs')
    .values(row)
    .returning('id')
    .executeTakeFirstOrThrow()
  return id
}

export async function updateProviderConfig(
  db: GovernanceDb,
  id: number,
  patch: Updateable<Omit<ProviderConfigRow, 'id' | 'virtual_key_id'>>,
): Promise<void> {
  await db.updateTable('gov_vk_provider_configs').set(patch).where('id', '=', id).execute()
}

export async function deleteProviderConfigs(db: GovernanceDb, ids: readonly number[]): Promise<void> {
  if (ids.length === 0) return
  await deleteLimitsOf(db, 'provider_config_id', ids)
  await db.deleteFrom('gov_vk_provider_configs').where('id', 'in', ids).execute()
}

export interface VirtualKeyFilter {
  search?: string
  team_id?: string
  customer_id?: string
  user_id?: string
  access_profile_id?: number
  is_active?: boolean
}

/** Rows in creation order, and how many match in all. */
export async function listVirtualKeyRows(
  db: GovernanceDb,
  filter: VirtualKeyFilter,
  page?: Page,
): Promise<{ rows: VirtualKeyRow[]; total: number }> {
  let query = db.selectFrom('gov_virtual_keys')
  if (filter.search) query = query.where(whereNameContains(filter.search))
  if (filter.team_id !== undefined) query = query.where('team_id', '=', filter.team_id)
  if (filter.customer_id !== undefined) query = query.where('customer_id', '=', filter.customer_id)
  if (filter.user_id !== undefined) query = query.where('user_id', '=', filter.user_id)
  if (filter.access_profile_id !== undefined)
    query = query.where('access_profile_id', '=', filter.access_profile_id)
  if (filter.is_active !== undefined) query = query.where('is_active', '=', filter.is_active ? 1 : 0)
  return rowsAndTotal(query, page)
}

// ---- provider keys (owned by the store; read here to check references) ----

/** The provider each of the given key ids belongs to; ids that name no key are absent. */
export async function providerOfKeys(db: GovernanceDb, ids: readonly string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map()
  const rows = await db
    .selectFrom('provider_keys')
    .select(['id', 'provider'])
    .where('id', 'in', ids)
    .execute()
  return new Map(rows.map((r) => [r.id, r.provider]))
}

/** A unique-constraint violation, on PostgreSQL (23505) or SQLite. */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
}
