import type { Kysely, Selectable } from 'kysely'
import type { ConfigStoreTables } from '../../store/index.js'
import type {
  Budget,
  Customer,
  GovernanceSnapshot,
  RateLimit,
  Team,
  VirtualKey,
  VirtualKeyProviderKey,
  VirtualKeyRecord,
} from '../model.js'
import {
  budgetFromRow,
  customerFromRow,
  LimitIndex,
  parseJsonList,
  providerConfigFromRow,
  rateLimitFromRow,
  teamFromRow,
  virtualKeyFromRow,
} from './rows.js'
import { listModelConfigRows, readModelConfigs, readProviderGovernance } from './model-limits.js'
import {
  governanceDb,
  type BudgetRow,
  type CustomerRow,
  type GovernanceDb,
  type ProviderConfigRow,
  type RateLimitRow,
  type TeamRow,
  type VirtualKeyRow,
} from './tables.js'

/**
 * Reads that assemble whole entities in a fixed handful of queries (one per table), never one
 * query per row.
 */

interface RowSet {
  customers: CustomerRow[]
  teams: TeamRow[]
  virtualKeys: VirtualKeyRow[]
  providerConfigs: Selectable<ProviderConfigRow>[]
  budgets: BudgetRow[]
  rateLimits: RateLimitRow[]
  keys?: ReadonlyMap<string, VirtualKeyProviderKey>
}

interface Assembled {
  virtualKeys: VirtualKeyRecord[]
  teams: Map<string, Team>
  customers: Map<string, Customer>
}

/** Teams embed their customer, virtual keys their team and customer; embedded objects are shared. */
function assemble(set: RowSet): Assembled {
  const limits = new LimitIndex(set.budgets, set.rateLimits)
  const customers = new Map(set.customers.map((row) => [row.id, customerFromRow(row, limits)]))
  const teams = new Map(set.teams.map((row) => [row.id, teamFromRow(row, limits, customers)]))
  const configsByKey = new Map<string, Selectable<ProviderConfigRow>[]>()
  for (const pc of set.providerConfigs) {
    const list = configsByKey.get(pc.virtual_key_id)
    if (list) list.push(pc)
    else configsByKey.set(pc.virtual_key_id, [pc])
  }
  const virtualKeys = set.virtualKeys.map((row) =>
    virtualKeyFromRow(
      row,
      (configsByKey.get(row.id) ?? []).map((pc) =>
        providerConfigFromRow(pc, limits, row.calendar_aligned === 1, set.keys),
      ),
      limits,
      teams,
      customers,
    ),
  )
  return { virtualKeys, teams, customers }
}

/** Everything the enforcement holds in memory: every virtual key, team and customer with their limits. */
export async function loadSnapshot(db: Kysely<ConfigStoreTables>): Promise<GovernanceSnapshot> {
  const gov = governanceDb(db)
  const [rows, modelConfigRows, providerGovernance] = await Promise.all([
    loadAllRows(gov),
    listModelConfigRows(gov),
    readProviderGovernance(gov),
  ])
  const { virtualKeys, teams, customers } = assemble(rows)
  return {
    virtualKeys,
    teams: [...teams.values()],
    customers: [...customers.values()],
    modelConfigs: await readModelConfigs(gov, modelConfigRows),
    providerGovernance,
  }
}

async function loadAllRows(db: GovernanceDb): Promise<RowSet> {
  const [customers, teams, virtualKeys, providerConfigs, budgets, rateLimits] = await Promise.all([
    db.selectFrom('gov_customers').selectAll().orderBy('created_at').orderBy('id').execute(),
    db.selectFrom('gov_teams').selectAll().orderBy('created_at').orderBy('id').execute(),
    db.selectFrom('gov_virtual_keys').selectAll().orderBy('created_at').orderBy('id').execute(),
    db.selectFrom('gov_vk_provider_configs').selectAll().orderBy('id').execute(),
    db.selectFrom('gov_budgets').selectAll().orderBy('created_at').orderBy('id').execute(),
    db.selectFrom('gov_rate_limits').selectAll().execute(),
  ])
  return { customers, teams, virtualKeys, providerConfigs, budgets, rateLimits }
}

interface Owners {
  virtualKeyIds?: readonly string[]
  providerConfigIds?: readonly number[]
  teamIds?: readonly string[]
  customerIds?: readonly string[]
}

/** The budgets and rate limits of the given owners: two queries. */
async function loadLimits(
  db: GovernanceDb,
  owners: Owners,
): Promise<{ budgets: BudgetRow[]; rateLimits: RateLimitRow[] }> {
  const lists = [
    ['virtual_key_id', owners.virtualKeyIds ?? []],
    ['provider_config_id', owners.providerConfigIds ?? []],
    ['team_id', owners.teamIds ?? []],
    ['customer_id', owners.customerIds ?? []],
  ] as const
  const wanted = lists.filter(([, ids]) => ids.length > 0)
  if (wanted.length === 0) return { budgets: [], rateLimits: [] }
  const [budgets, rateLimits] = await Promise.all([
    db
      .selectFrom('gov_budgets')
      .selectAll()
      .where((eb) => eb.or(wanted.map(([column, ids]) => eb(column, 'in', ids))))
      .orderBy('created_at')
      .orderBy('id')
      .execute(),
    db
      .selectFrom('gov_rate_limits')
      .selectAll()
      .where((eb) => eb.or(wanted.map(([column, ids]) => eb(column, 'in', ids))))
      .execute(),
  ])
  return { budgets, rateLimits }
}

function unique<T>(values: Iterable<T | null | undefined>): T[] {
  const out = new Set<T>()
  for (const v of values) if (v !== null && v !== undefined) out.add(v)
  return [...out]
}

/** The provider keys that key_ids name, as a provider config shows them (no secret). */
async function loadProviderKeys(
  db: GovernanceDb,
  ids: readonly string[],
): Promise<Map<string, VirtualKeyProviderKey>> {
  if (ids.length === 0) return new Map()
  const rows = await db
    .selectFrom('provider_keys')
    .select(['id', 'name', 'provider', 'models', 'weight', 'enabled'])
    .where('id', 'in', ids)
    .execute()
  return new Map(
    rows.map((r) => [
      r.id,
      {
        key_id: r.id,
        name: r.name,
        provider: r.provider,
        models: parseJsonList(r.models),
        weight: r.weight,
        enabled: r.enabled === 1,
      },
    ]),
  )
}

/**
 * Whole virtual keys for the given rows, in their order: provider configs (with `keys`), budgets,
 * rate limits, team (with its customer) and customer.
 */
export async function readVirtualKeys(db: GovernanceDb, rows: VirtualKeyRow[]): Promise<VirtualKeyRecord[]> {
  if (rows.length === 0) return []
  const ids = rows.map((r) => r.id)
  const teamIds = unique(rows.map((r) => r.team_id))
  const [providerConfigs, teams] = await Promise.all([
    db
      .selectFrom('gov_vk_provider_configs')
      .selectAll()
      .where('virtual_key_id', 'in', ids)
      .orderBy('id')
      .execute(),
    teamIds.length === 0
      ? Promise.resolve([])
      : db.selectFrom('gov_teams').selectAll().where('id', 'in', teamIds).execute(),
  ])
  const customerIds = unique([...rows.map((r) => r.customer_id), ...teams.map((t) => t.customer_id)])
  const keyIds = unique(providerConfigs.flatMap((pc) => parseJsonList(pc.key_ids))).filter((id) => id !== '*')
  const [customers, limits, keys] = await Promise.all([
    customerIds.length === 0
      ? Promise.resolve([])
      : db.selectFrom('gov_customers').selectAll().where('id', 'in', customerIds).execute(),
    loadLimits(db, {
      virtualKeyIds: ids,
      providerConfigIds: providerConfigs.map((pc) => pc.id),
      teamIds,
      customerIds,
    }),
    loadProviderKeys(db, keyIds),
  ])
  return assemble({ customers, teams, virtualKeys: rows, providerConfigs, ...limits, keys }).virtualKeys
}

/** A virtual key as management answers show it: the record without its hash. */
export function publicVirtualKey(record: VirtualKeyRecord): VirtualKey {
  const { value_hash: _hash, previous_value_hash: _previous, ...vk } = record
  return vk
}

/** Whole teams with their customer; with `withVirtualKeys`, each with its virtual keys (which then carry no `team`). */
export async function readTeams(
  db: GovernanceDb,
  rows: TeamRow[],
  opts: { withVirtualKeys: boolean },
): Promise<Team[]> {
  if (rows.length === 0) return []
  const ids = rows.map((r) => r.id)
  const customerIds = unique(rows.map((r) => r.customer_id))
  const [customers, limits, keyRows] = await Promise.all([
    customerIds.length === 0
      ? Promise.resolve([])
      : db.selectFrom('gov_customers').selectAll().where('id', 'in', customerIds).execute(),
    loadLimits(db, { teamIds: ids, customerIds }),
    opts.withVirtualKeys
      ? db
          .selectFrom('gov_virtual_keys')
          .selectAll()
          .where('team_id', 'in', ids)
          .orderBy('created_at')
          .orderBy('id')
          .execute()
      : Promise.resolve(undefined),
  ])
  const { teams } = assemble({ customers, teams: rows, virtualKeys: [], providerConfigs: [], ...limits })
  const out = ids.map((id) => teams.get(id) as Team)
  if (keyRows) {
    const keys = await readVirtualKeys(db, keyRows)
    for (const team of out) {
      team.virtual_keys = keys
        .filter((vk) => vk.team_id === team.id)
        .map((vk) => {
          const { team: _team, ...rest } = publicVirtualKey(vk)
          return rest
        })
    }
  }
  return out
}

/**
 * Whole customers; with `withTeams`, each with its teams (which then carry no `customer`); with
 * `withVirtualKeys`, each with the virtual keys that belong to it directly (which then carry no `customer`).
 */
export async function readCustomers(
  db: GovernanceDb,
  rows: CustomerRow[],
  opts: { withTeams: boolean; withVirtualKeys: boolean },
): Promise<Customer[]> {
  if (rows.length === 0) return []
  const ids = rows.map((r) => r.id)
  const limits = await loadLimits(db, { customerIds: ids })
  const { customers } = assemble({
    customers: rows,
    teams: [],
    virtualKeys: [],
    providerConfigs: [],
    ...limits,
  })
  const out = ids.map((id) => customers.get(id) as Customer)
  const [teams, keys] = await Promise.all([
    opts.withTeams
      ? db
          .selectFrom('gov_teams')
          .selectAll()
          .where('customer_id', 'in', ids)
          .orderBy('created_at')
          .orderBy('id')
          .execute()
          .then((teamRows) => readTeams(db, teamRows, { withVirtualKeys: false }))
      : undefined,
    opts.withVirtualKeys
      ? db
          .selectFrom('gov_virtual_keys')
          .selectAll()
          .where('customer_id', 'in', ids)
          .orderBy('created_at')
          .orderBy('id')
          .execute()
          .then((keyRows) => readVirtualKeys(db, keyRows))
      : undefined,
  ])
  for (const customer of out) {
    if (teams) {
      customer.teams = teams
        .filter((t) => t.customer_id === customer.id)
        .map(({ customer: _customer, ...team }) => team)
    }
    if (keys) {
      customer.virtual_keys = keys
        .filter((vk) => vk.customer_id === customer.id)
        .map((vk) => {
          const { customer: _customer, ...rest } = publicVirtualKey(vk)
          return rest
        })
    }
  }
  return out
}

/**
 * Whether each owner of a budget asks for calendar-aligned resets, which its budgets inherit:
 * virtual keys (and so their provider configs), teams and customers.
 */
async function alignedOwners(db: GovernanceDb): Promise<(row: BudgetRow) => boolean> {
  const [keys, configs, teams, customers] = await Promise.all([
    db.selectFrom('gov_virtual_keys').select('id').where('calendar_aligned', '=', 1).execute(),
    db.selectFrom('gov_vk_provider_configs').select(['id', 'virtual_key_id']).execute(),
    db.selectFrom('gov_teams').select('id').where('calendar_aligned', '=', 1).execute(),
    db.selectFrom('gov_customers').select('id').where('calendar_aligned', '=', 1).execute(),
  ])
  const alignedKeys = new Set(keys.map((k) => k.id))
  const configKey = new Map(configs.map((c) => [c.id, c.virtual_key_id]))
  const alignedTeams = new Set(teams.map((t) => t.id))
  const alignedCustomers = new Set(customers.map((c) => c.id))
  return (row) =>
    (row.virtual_key_id !== null && alignedKeys.has(row.virtual_key_id)) ||
    (row.provider_config_id !== null && alignedKeys.has(configKey.get(row.provider_config_id) ?? '')) ||
    (row.team_id !== null && alignedTeams.has(row.team_id)) ||
    (row.customer_id !== null && alignedCustomers.has(row.customer_id))
}

export async function listBudgets(db: GovernanceDb): Promise<Budget[]> {
  const [rows, aligned] = await Promise.all([
    db.selectFrom('gov_budgets').selectAll().orderBy('created_at').orderBy('id').execute(),
    alignedOwners(db),
  ])
  return rows.map((row) => budgetFromRow(row, aligned(row)))
}

export async function listRateLimits(db: GovernanceDb): Promise<RateLimit[]> {
  const rows = await db
    .selectFrom('gov_rate_limits')
    .selectAll()
    .orderBy('created_at')
    .orderBy('id')
    .execute()
  return rows.map(rateLimitFromRow)
}
