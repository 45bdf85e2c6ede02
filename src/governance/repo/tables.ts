import type { Generated, Kysely } from 'kysely'
import type { ConfigStoreTables } from '../../store/index.js'

/**
 * Row types of the governance tables (migration 002_governance), with the conventions of
 * src/store/tables.ts: JSON as text, booleans as 0/1, ISO-8601 UTC timestamps, double precision numbers.
 */

export interface CustomerRow {
  id: string
  name: string
  calendar_aligned: number
  /** sha256 of the config.json entry it was imported from; null when made through the API. */
  config_hash: string | null
  created_at: string
  updated_at: string
}

export interface TeamRow {
  id: string
  name: string
  customer_id: string | null
  calendar_aligned: number
  config_hash: string | null
  created_at: string
  updated_at: string
}

export interface VirtualKeyRow {
  id: string
  /** Unique. */
  name: string
  /** sha256 hex of the value; unique. The value itself is never stored. */
  value_hash: string
  /** What responses show instead of the value, e.g. `sk-bf-…abcd`. */
  value_hint: string
  description: string
  is_active: number
  team_id: string | null
  customer_id: string | null
  calendar_aligned: number
  expires_at: string | null
  user_id: string | null
  access_profile_id: number | null
  created_by_user_id: string | null
  /** JSON VirtualKeyMcpConfig[] without virtual_key_id */
  mcp_configs: string
  /** Added by migration 007_vk_content_logging. */
  disable_content_logging: number
  /** Added by 013_model_limits: the value before the last rotation, working until its expiry. */
  previous_value_hash?: string | null
  previous_value_expires_at?: string | null
  rotated_at?: string | null
  config_hash: string | null
  created_at: string
  updated_at: string
}

export interface ProviderConfigRow {
  id: Generated<number>
  virtual_key_id: string
  provider: string
  weight: number | null
  /** JSON string[] */
  allowed_models: string
  /** JSON string[] */
  blacklisted_models: string
  allow_all_keys: number
  /** JSON string[] */
  key_ids: string
  /** The id of the rate limit whose provider_config_id is this row's id, if any. */
  rate_limit_id: string | null
}

/** The owner of a budget or rate limit: exactly one of these is set. */
export interface OwnerColumns {
  virtual_key_id: string | null
  provider_config_id: number | null
  team_id: string | null
  customer_id: string | null
  /** Added by 013_model_limits: a model config, or a provider's own governance. */
  model_config_id: string | null
  provider_name: string | null
}

/** Bifrost's model config (013_model_limits): caps for one model, globally or inside one virtual key or user. */
export interface ModelConfigRow {
  id: string
  model_name: string
  provider: string | null
  /** `global`, `virtual_key` or `user`. */
  scope: string
  scope_id: string | null
  calendar_aligned: number
  config_hash: string | null
  created_at: string
  updated_at: string
}

/** A provider with budgets or a rate limit of its own (013_model_limits). */
export interface ProviderGovernanceRow {
  provider: string
  calendar_aligned: number
  config_hash: string | null
  created_at: string
  updated_at: string
}

export interface BudgetRow extends OwnerColumns {
  id: string
  max_limit: number
  reset_duration: string
  /** The budget's own flag; the owner's calendar_aligned applies too (see rows.ts). */
  calendar_aligned: number
  last_reset: string
  current_usage: number
  /** Added by 016_budget_overrides: an amount added to max_limit (Bifrost's budget override). */
  override_amount?: number
  /** `cycles`, `forever`, or null: no override. */
  override_mode?: string | null
  override_cycles_total?: number
  /** ISO start of the window the `cycles` override was granted in. */
  override_anchor_reset?: string | null
  /** ISO end of the last window a `cycles` override covers. */
  override_expires_at?: string | null
  config_hash: string | null
  created_at: string
  updated_at: string
}

export interface RateLimitRow extends OwnerColumns {
  id: string
  token_max_limit: number | null
  token_reset_duration: string | null
  token_current_usage: number
  token_last_reset: string
  request_max_limit: number | null
  request_reset_duration: string | null
  request_current_usage: number
  request_last_reset: string
  config_hash: string | null
  created_at: string
  updated_at: string
}

// A type alias, not an interface: Kysely's withTables wants an implicit index signature.
export type GovernanceTables = {
  gov_customers: CustomerRow
  gov_teams: TeamRow
  gov_virtual_keys: VirtualKeyRow
  gov_vk_provider_configs: ProviderConfigRow
  gov_budgets: BudgetRow
  gov_rate_limits: RateLimitRow
  gov_model_configs: ModelConfigRow
  gov_provider_governance: ProviderGovernanceRow
}

/** The config store's query builder with the governance tables in view. */
export type GovernanceDb = Kysely<ConfigStoreTables & GovernanceTables>

/** `store.db`, typed for the governance tables. */
export function governanceDb(db: Kysely<ConfigStoreTables>): GovernanceDb {
  return db.withTables<GovernanceTables>()
}

/** Who a budget or rate limit belongs to. */
export type LimitOwner =
  | { virtual_key_id: string }
  | { provider_config_id: number }
  | { team_id: string }
  | { customer_id: string }
  | { model_config_id: string }
  | { provider_name: string }

export function ownerColumns(owner: LimitOwner): OwnerColumns {
  return {
    virtual_key_id: 'virtual_key_id' in owner ? owner.virtual_key_id : null,
    provider_config_id: 'provider_config_id' in owner ? owner.provider_config_id : null,
    team_id: 'team_id' in owner ? owner.team_id : null,
    customer_id: 'customer_id' in owner ? owner.customer_id : null,
    model_config_id: 'model_config_id' in owner ? owner.model_config_id : null,
    provider_name: 'provider_name' in owner ? owner.provider_name : null,
  }
}
