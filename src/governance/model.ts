/**
 * Governance entities as the management API shows them (Bifrost's field names) and as the
 * enforcement reads them from memory. Usage figures (`current_usage`, `*_current_usage`,
 * `last_reset`) are filled from the live counters when shown.
 */

export interface Budget {
  id: string
  /** Dollars. */
  max_limit: number
  /** `30m`, `1h`, `1d`, `1w`, `1M`, `1Q`, `1Y` (see durations.ts). */
  reset_duration: string
  calendar_aligned: boolean
  /** ISO time the current window started. */
  last_reset: string
  current_usage: number
  /** Heimdall: ISO time the current window ends. */
  reset_at?: string
  virtual_key_id?: string | null
  team_id?: string | null
  customer_id?: string | null
  provider_config_id?: number | null
  /** Bifrost's budget override: added to max_limit while active (only present when one is set). */
  override_amount?: number
  override_mode?: BudgetOverrideMode
  /** `cycles`: the windows left, the current one included. */
  override_cycles_remaining?: number
  override_cycles_total?: number
  /** `cycles`: ISO start of the window the override was granted in. */
  override_anchor_reset?: string
  /** Heimdall, `cycles`: ISO end of the last window the override covers. */
  override_expires_at?: string
  config_hash?: string | null
  created_at: string
  updated_at: string
}

export type BudgetOverrideMode = 'cycles' | 'forever'

export interface RateLimit {
  id: string
  token_max_limit?: number | null
  token_reset_duration?: string | null
  token_current_usage: number
  token_last_reset: string
  request_max_limit?: number | null
  request_reset_duration?: string | null
  request_current_usage: number
  request_last_reset: string
  /** Heimdall: ISO times the current windows end. */
  token_reset_at?: string
  request_reset_at?: string
  virtual_key_id?: string | null
  provider_config_id?: number | null
  team_id?: string | null
  customer_id?: string | null
  config_hash?: string | null
  created_at: string
  updated_at: string
}

export interface VirtualKeyProviderConfig {
  id: number
  virtual_key_id: string
  provider: string
  /** Null: usable by explicit provider/model requests, left out of weighted routing. */
  weight: number | null
  allowed_models: string[]
  blacklisted_models: string[]
  allow_all_keys: boolean
  /** Provider key ids this config may use (when allow_all_keys is false). */
  key_ids: string[]
  rate_limit_id?: string | null
  budgets: Budget[]
  rate_limit?: RateLimit | null
  /** The provider keys named by key_ids, as management answers show them (never their values). */
  keys?: VirtualKeyProviderKey[] | null
}

/** A provider key as a virtual key's provider config shows it. */
export interface VirtualKeyProviderKey {
  key_id: string
  name: string
  provider: string
  models: string[]
  weight: number
  enabled: boolean
}

export interface VirtualKeyMcpConfig {
  id: number
  virtual_key_id: string
  mcp_client_id?: number | string | null
  mcp_client_name: string
  tools_to_execute: string[]
}

/** What Bifrost's teams and customers show of their limits and origin. */
interface OwnerLimitFields {
  budget_id?: string | null
  budget?: Budget | null
  budgets: Budget[]
  rate_limit_id?: string | null
  rate_limit?: RateLimit | null
  calendar_aligned?: boolean
  config_hash?: string | null
}

export interface Customer extends OwnerLimitFields {
  id: string
  name: string
  /** Management answers only. */
  teams?: Team[]
  virtual_keys?: VirtualKey[]
  created_at: string
  updated_at: string
}

export interface Team extends OwnerLimitFields {
  id: string
  name: string
  customer_id?: string | null
  customer?: Customer | null
  /** Management answers only; never set on a team embedded in a virtual key. */
  virtual_keys?: VirtualKey[] | null
  created_at: string
  updated_at: string
}

export interface VirtualKey {
  id: string
  name: string
  /** Shown in full only in the create and rotate answers; masked elsewhere. */
  value: string
  description?: string
  is_active: boolean
  provider_configs: VirtualKeyProviderConfig[]
  mcp_configs: VirtualKeyMcpConfig[]
  team_id?: string | null
  customer_id?: string | null
  team?: Team | null
  customer?: Customer | null
  budgets: Budget[]
  rate_limit_id?: string | null
  rate_limit?: RateLimit | null
  calendar_aligned: boolean
  expires_at?: string | null
  user_id?: string | null
  access_profile_id?: number | null
  created_by_user_id?: string | null
  /** Heimdall: request logs of this key keep no input or output content. */
  disable_content_logging?: boolean
  /** Until when the value before the last rotation still works (client.vk_rotation_cooldown). */
  previous_value_expires_at?: string | null
  rotated_at?: string | null
  config_hash?: string | null
  created_at: string
  updated_at: string
}

/** Bifrost's model config: budgets and a rate limit for one model (`*`: all), on one provider or all. */
export interface ModelConfig {
  id: string
  model_name: string
  provider?: string
  scope: 'global' | 'virtual_key' | 'user'
  scope_id?: string | null
  /** The virtual key's or user's name, for the management API. */
  scope_name?: string | null
  calendar_aligned: boolean
  budgets: Budget[]
  /** Deprecated in Bifrost: the first of `budgets`. */
  budget?: Budget
  budget_id?: string
  rate_limit_id?: string
  rate_limit?: RateLimit
  config_hash?: string | null
  created_at: string
  updated_at: string
}

/** Bifrost's provider governance: budgets and a rate limit for all traffic to one provider. */
export interface ProviderGovernance {
  provider: string
  budgets: Budget[]
  /** Deprecated in Bifrost: the first of `budgets`. */
  budget?: Budget
  rate_limit?: RateLimit
  calendar_aligned: boolean
}

/** A virtual key as the enforcement holds it: looked up by the hash of its value. */
export interface VirtualKeyRecord extends VirtualKey {
  /** sha256 hex of the value; the value itself is never stored. */
  value_hash: string
  /** sha256 hex of the value before the last rotation, while it still works. */
  previous_value_hash?: string | null
}

/** Everything enforcement needs, loaded at start and reloaded on change events. */
export interface GovernanceSnapshot {
  virtualKeys: VirtualKeyRecord[]
  teams: Team[]
  customers: Customer[]
  modelConfigs?: ModelConfig[]
  providerGovernance?: ProviderGovernance[]
}
