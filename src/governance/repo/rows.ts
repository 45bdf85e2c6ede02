import type { Selectable } from 'kysely'
import { parseResetDuration } from '../durations.js'
import type {
  Budget,
  Customer,
  RateLimit,
  Team,
  VirtualKeyMcpConfig,
  VirtualKeyProviderConfig,
  VirtualKeyProviderKey,
  VirtualKeyRecord,
} from '../model.js'
import type {
  BudgetRow,
  CustomerRow,
  OwnerColumns,
  ProviderConfigRow,
  RateLimitRow,
  TeamRow,
  VirtualKeyRow,
} from './tables.js'

/** Rows of the governance tables turned into the entities of ../model.ts. Absent values are left out, not null. */

export function parseJsonList(text: string): string[] {
  const value: unknown = JSON.parse(text)
  return Array.isArray(value) ? value.map(String) : []
}

/** A duration's rolling length, only to order budgets; text that is no duration sorts last. */
function durationMs(duration: string): number {
  try {
    return parseResetDuration(duration).ms
  } catch {
    return Number.MAX_SAFE_INTEGER
  }
}

/** Durations under a day (`30s`, `5m`, `1h`) are never calendar-aligned, whatever their owner says. */
export function isSubDayDuration(duration: string): boolean {
  return /^[0-9]+[smh]$/.test(duration)
}

function owners(row: OwnerColumns): Partial<OwnerColumns> {
  const out: Partial<OwnerColumns> = {}
  if (row.virtual_key_id !== null) out.virtual_key_id = row.virtual_key_id
  if (row.provider_config_id !== null) out.provider_config_id = row.provider_config_id
  if (row.team_id !== null) out.team_id = row.team_id
  if (row.customer_id !== null) out.customer_id = row.customer_id
  if (row.model_config_id != null) out.model_config_id = row.model_config_id
  if (row.provider_name != null) out.provider_name = row.provider_name
  return out
}

/** A budget override's columns as Bifrost shows them; nothing when none is set. */
function overrideFields(row: BudgetRow): Partial<Budget> {
  const amount = row.override_amount ?? 0
  if (amount <= 0 || (row.override_mode !== 'cycles' && row.override_mode !== 'forever')) return {}
  if (row.override_mode === 'forever') return { override_amount: amount, override_mode: 'forever' }
  return {
    override_amount: amount,
    override_mode: 'cycles',
    override_cycles_total: row.override_cycles_total ?? 0,
    ...(row.override_anchor_reset && { override_anchor_reset: row.override_anchor_reset }),
    ...(row.override_expires_at && { override_expires_at: row.override_expires_at }),
  }
}

/** `ownerAligned`: the owner (virtual key, team, customer) asks for calendar-aligned resets, which its budgets inherit. */
export function budgetFromRow(row: BudgetRow, ownerAligned: boolean): Budget {
  return {
    id: row.id,
    max_limit: row.max_limit,
    reset_duration: row.reset_duration,
    calendar_aligned: (row.calendar_aligned === 1 || ownerAligned) && !isSubDayDuration(row.reset_duration),
    last_reset: row.last_reset,
    current_usage: row.current_usage,
    ...owners(row),
    ...overrideFields(row),
    config_hash: row.config_hash,
    created_at: row.created_at,
    updated_at: row.updated_at,
  }
}

/** A limit on one side only (tokens or requests) leaves the other side's limit out, as Bifrost does. */
export function rateLimitFromRow(row: RateLimitRow): RateLimit {
  return {
    id: row.id,
    ...(row.token_max_limit !== null && { token_max_limit: row.token_max_limit }),
    ...(row.token_reset_duration !== null && { token_reset_duration: row.token_reset_duration }),
    token_current_usage: row.token_current_usage,
    token_last_reset: row.token_last_reset,
    ...(row.request_max_limit !== null && { request_max_limit: row.request_max_limit }),
    ...(row.request_reset_duration !== null && { request_reset_duration: row.request_reset_duration }),
    request_current_usage: row.request_current_usage,
    request_last_reset: row.request_last_reset,
    ...owners(row),
    config_hash: row.config_hash,
    created_at: row.created_at,
    updated_at: row.updated_at,
  }
}

/** An owner's rate limit as Bifrost shows it: `rate_limit_id` and `rate_limit`, or neither. */
type RateLimitFields = Pick<Customer, 'rate_limit_id' | 'rate_limit'>

/** Budgets and rate limits, by owner. */
export class LimitIndex {
  private budgets = new Map<string, BudgetRow[]>()
  private rateLimits = new Map<string, RateLimitRow>()

  constructor(budgetRows: readonly BudgetRow[], rateLimitRows: readonly RateLimitRow[]) {
    for (const row of budgetRows) {
      const key = ownerKey(row)
      const list = this.budgets.get(key)
      if (list) list.push(row)
      else this.budgets.set(key, [row])
    }
    for (const row of rateLimitRows) this.rateLimits.set(ownerKey(row), row)
  }

  /** Shortest window first (a daily budget before a monthly one), whatever order they were made in. */
  budgetsOf(kind: keyof OwnerColumns, id: string | number, ownerAligned: boolean): Budget[] {
    return (this.budgets.get(`${kind}:${id}`) ?? [])
      .map((row) => budgetFromRow(row, ownerAligned))
      .sort((a, b) => durationMs(a.reset_duration) - durationMs(b.reset_duration) || (a.id < b.id ? -1 : 1))
  }

  rateLimitOf(kind: keyof OwnerColumns, id: string | number): RateLimit | undefined {
    const row = this.rateLimits.get(`${kind}:${id}`)
    return row ? rateLimitFromRow(row) : undefined
  }

  /** The owner's rate limit as Bifrost shows it. */
  rateLimitFields(kind: keyof OwnerColumns, id: string | number): RateLimitFields {
    const rateLimit = this.rateLimitOf(kind, id)
    return rateLimit ? { rate_limit_id: rateLimit.id, rate_limit: rateLimit } : {}
  }
}

function ownerKey(row: OwnerColumns): string {
  if (row.provider_config_id !== null) return `provider_config_id:${row.provider_config_id}`
  if (row.virtual_key_id !== null) return `virtual_key_id:${row.virtual_key_id}`
  if (row.team_id !== null) return `team_id:${row.team_id}`
  if (row.model_config_id != null) return `model_config_id:${row.model_config_id}`
  if (row.provider_name != null) return `provider_name:${row.provider_name}`
  return `customer_id:${row.customer_id}`
}

/** The single-budget fields (`budget_id`, `budget`) that Bifrost's teams and customers show: the first budget. */
function withLimits<T extends object>(
  entity: T,
  budgets: Budget[],
  rateLimit: RateLimitFields,
): T & Pick<Customer, 'budgets' | 'budget_id' | 'budget'> & RateLimitFields {
  return {
    ...entity,
    ...(budgets.length > 0 && { budget_id: budgets[0].id, budget: budgets[0] }),
    budgets,
    ...rateLimit,
  }
}

export function customerFromRow(row: CustomerRow, limits: LimitIndex): Customer {
  return ownerFromRow(row, 'customer_id', limits, {})
}

export function teamFromRow(
  row: TeamRow,
  limits: LimitIndex,
  customers: ReadonlyMap<string, Customer>,
): Team {
  const customer = row.customer_id === null ? undefined : customers.get(row.customer_id)
  return ownerFromRow(row, 'team_id', limits, {
    ...(row.customer_id !== null && { customer_id: row.customer_id }),
    ...(customer && { customer }),
  })
}

/** A team or customer with its limits; `parent` (a team's customer) stands after its name. */
function ownerFromRow<P extends object>(
  row: CustomerRow | TeamRow,
  column: 'customer_id' | 'team_id',
  limits: LimitIndex,
  parent: P,
) {
  const aligned = row.calendar_aligned === 1
  return withLimits(
    {
      id: row.id,
      name: row.name,
      ...parent,
      calendar_aligned: aligned,
      config_hash: row.config_hash ?? '',
      created_at: row.created_at,
      updated_at: row.updated_at,
    },
    limits.budgetsOf(column, row.id, aligned),
    limits.rateLimitFields(column, row.id),
  )
}

export function providerConfigFromRow(
  row: Selectable<ProviderConfigRow>,
  limits: LimitIndex,
  vkAligned: boolean,
  keys?: ReadonlyMap<string, VirtualKeyProviderKey>,
): VirtualKeyProviderConfig {
  const keyIds = parseJsonList(row.key_ids)
  return {
    id: row.id,
    virtual_key_id: row.virtual_key_id,
    provider: row.provider,
    weight: row.weight,
    allowed_models: parseJsonList(row.allowed_models),
    blacklisted_models: parseJsonList(row.blacklisted_models),
    allow_all_keys: row.allow_all_keys === 1,
    key_ids: keyIds,
    ...limits.rateLimitFields('provider_config_id', row.id),
    budgets: limits.budgetsOf('provider_config_id', row.id, vkAligned),
    ...(keys && {
      keys: keyIds.flatMap((id) => {
        const key = keys.get(id)
        return key ? [key] : []
      }),
    }),
  }
}

export function mcpConfigsFromRow(row: VirtualKeyRow): VirtualKeyMcpConfig[] {
  const stored: unknown = JSON.parse(row.mcp_configs)
  if (!Array.isArray(stored)) return []
  return stored.map((entry: Omit<VirtualKeyMcpConfig, 'virtual_key_id'>) => ({
    id: entry.id,
    virtual_key_id: row.id,
    ...(entry.mcp_client_id !== undefined &&
      entry.mcp_client_id !== null && { mcp_client_id: entry.mcp_client_id }),
    mcp_client_name: entry.mcp_client_name,
    tools_to_execute: entry.tools_to_execute ?? [],
  }))
}

export function virtualKeyFromRow(
  row: VirtualKeyRow,
  providerConfigs: VirtualKeyProviderConfig[],
  limits: LimitIndex,
  teams: ReadonlyMap<string, Team>,
  customers: ReadonlyMap<string, Customer>,
): VirtualKeyRecord {
  const aligned = row.calendar_aligned === 1
  const team = row.team_id === null ? undefined : teams.get(row.team_id)
  const customer = row.customer_id === null ? undefined : customers.get(row.customer_id)
  return {
    id: row.id,
    name: row.name,
    value: row.value_hint,
    value_hash: row.value_hash,
    description: row.description,
    is_active: row.is_active === 1,
    provider_configs: providerConfigs,
    mcp_configs: mcpConfigsFromRow(row),
    ...(row.team_id !== null && { team_id: row.team_id }),
    ...(row.customer_id !== null && { customer_id: row.customer_id }),
    ...limits.rateLimitFields('virtual_key_id', row.id),
    calendar_aligned: aligned,
    ...(team && { team }),
    ...(customer && { customer }),
    budgets: limits.budgetsOf('virtual_key_id', row.id, aligned),
    ...(row.expires_at !== null && { expires_at: row.expires_at }),
    ...(row.user_id !== null && { user_id: row.user_id }),
    ...(row.access_profile_id !== null && { access_profile_id: row.access_profile_id }),
    ...(row.created_by_user_id !== null && { created_by_user_id: row.created_by_user_id }),
    disable_content_logging: Number(row.disable_content_logging) === 1,
    ...(row.previous_value_hash && { previous_value_hash: row.previous_value_hash }),
    ...(row.previous_value_expires_at && { previous_value_expires_at: row.previous_value_expires_at }),
    ...(row.rotated_at && { rotated_at: row.rotated_at }),
    config_hash: row.config_hash ?? '',
    created_at: row.created_at,
    updated_at: row.updated_at,
  }
}
