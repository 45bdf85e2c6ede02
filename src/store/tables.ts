import type { Generated } from 'kysely'

/**
 * Row types of the config store's tables, as Kysely sees them. Conventions shared by every
 * migration, so that one query works on both dialects:
 * - JSON is stored as text (`JSON.stringify`), parsed by the code that owns the column;
 * - booleans are integers 0/1 (SQLite has no boolean type and better-sqlite3 cannot bind one);
 * - timestamps are ISO-8601 UTC text from `Date.toISOString()`, which sorts as time does;
 * - floating point numbers are `double precision` (`real` is 4 bytes on PostgreSQL).
 */

export interface ProvidersTable {
  name: string
  /** JSON */
  network_config: string
  /** JSON */
  concurrency_and_buffer_size: string
  /** JSON or null; `password` sealed */
  proxy_config: string | null
  /** JSON or null */
  custom_provider_config: string | null
  send_back_raw_request: number | null
  send_back_raw_response: number | null
  store_raw_request_response: number | null
  /** sha256 of the provider's config.json entry it was imported from; null when made through the API */
  config_hash: string | null
  created_at: string
  updated_at: string
}

export interface ProviderKeysTable {
  /** Key ids are unique across providers: virtual keys refer to them by id alone. */
  id: string
  provider: string
  /** The order of the key within its provider. */
  position: number
  name: string
  /** Sealed when a literal and an encryption key is set; `env.VAR` references as written. */
  value: string
  /** JSON string[] */
  models: string
  /** JSON string[] */
  blacklisted_models: string
  weight: number
  enabled: number
  use_for_batch_api: number | null
  /** JSON or null */
  aliases: string | null
  /** JSON object holding the `*_key_config` objects by field name, their secret fields sealed; or null */
  key_configs: string | null
  description: string | null
  created_at: string
  updated_at: string
}

export interface KvTable {
  key: string
  /** JSON */
  value: string
  updated_at: string
}

export interface ConfigStoreTables {
  providers: ProvidersTable
  provider_keys: ProviderKeysTable
  kv: KvTable
}

// Migration 003_users_profiles: users, access profiles, sessions.

export interface UsersTable {
  id: string
  email: string
  email_key: string
  name: string
  role_id: number | null
  created_at: string
  updated_at: string
}

export interface AccessProfilesTable {
  id: Generated<number>
  name: string
  description: string | null
  is_active: number
  version: number
  /** JSON string[] */
  tags: string
  /** JSON: the profile's provider configs, as the API shows them */
  provider_configs: string
  /** JSON */
  budgets: string
  /** JSON or null */
  rate_limit: string | null
  calendar_aligned: number
  /** JSON */
  mcp_tool_groups: string
  /** JSON */
  mcp_servers: string
  /** JSON */
  mcp_tool_overrides: string
  created_at: string
  updated_at: string
}

export interface AccessProfileTagsTable {
  profile_id: number
  tag: string
}

export interface AccessProfileVersionsTable {
  id: Generated<number>
  profile_id: number
  version: number
  name: string
  description: string | null
  /** JSON: the profile as the API showed it at this version */
  snapshot: string
  changed_by: string
  created_at: string
}

export interface UserAccessProfilesTable {
  id: Generated<number>
  user_id: string
  profile_id: number
  name: string
  is_active: number
  /** The profile's version when it was assigned. */
  profile_version: number
  expires_at: string | null
  created_at: string
  updated_at: string
}

export interface SessionsTable {
  /** sha256 hex of the session token; the token itself is never stored. */
  token_hash: string
  expires_at: string
  created_at: string
}

// A type alias, not an interface: Kysely's withTables wants an implicit index signature.
export type UsersProfilesTables = {
  gov_users: UsersTable
  gov_access_profiles: AccessProfilesTable
  gov_access_profile_tags: AccessProfileTagsTable
  gov_access_profile_versions: AccessProfileVersionsTable
  gov_user_access_profiles: UserAccessProfilesTable
  sessions: SessionsTable
}

// Migration 004_mcp_clients: MCP clients.

export interface McpClientsTable {
  id: string
  name: string
  /** JSON: the client's MCPClientConfig, header values and `NAME=value` env values sealed */
  config: string
  created_at: string
  updated_at: string
}

// A type alias, not an interface: Kysely's withTables wants an implicit index signature.
export type McpClientsTables = {
  mcp_clients: McpClientsTable
}

// Migration 005_oauth_server: Heimdall's OAuth authorization server.

/** Who the user said they are on the consent page: a virtual key, a self-declared user id, or nobody. */
export type OAuthIdentityKind = 'vk' | 'user' | 'session'

export interface OAuthServerClientsTable {
  client_id: string
  client_name: string | null
  /** JSON string[] */
  redirect_uris: string
  /** JSON string[] */
  grant_types: string
  created_at: string
}

export interface OAuthServerFlowsTable {
  id: string
  /** sha256 of the browser-binding cookie's value */
  secret_hash: string
  client_id: string
  redirect_uri: string
  code_challenge: string
  /** The client's `state`, echoed back unchanged */
  state: string | null
  /** RFC 8707 resource indicator */
  resource: string | null
  scope: string
  identity_kind: OAuthIdentityKind | null
  virtual_key_id: string | null
  user_id: string | null
  /** `pending`, then `submitted` (kept until expiry so that a second submit is told 409) */
  status: 'pending' | 'submitted'
  expires_at: string
  created_at: string
}

export interface OAuthServerCodesTable {
  /** sha256 of the code */
  code_hash: string
  /** Shared by the code and every token descending from it, to revoke them together. */
  grant_id: string
  client_id: string
  redirect_uri: string
  code_challenge: string
  resource: string | null
  scope: string
  identity_kind: OAuthIdentityKind
  virtual_key_id: string | null
  user_id: string | null
  used_at: string | null
  expires_at: string
  created_at: string
}

export interface OAuthServerTokensTable {
  /** sha256 of the token */
  token_hash: string
  kind: 'access' | 'refresh'
  grant_id: string
  client_id: string
  resource: string | null
  scope: string
  identity_kind: OAuthIdentityKind
  virtual_key_id: string | null
  user_id: string | null
  expires_at: string
  created_at: string
}

// A type alias, not an interface: Kysely's withTables wants an implicit index signature.
export type OAuthServerTables = {
  oauth_server_clients: OAuthServerClientsTable
  oauth_server_flows: OAuthServerFlowsTable
  oauth_server_codes: OAuthServerCodesTable
  oauth_server_tokens: OAuthServerTokensTable
}

// Migration 006_mcp_oauth_credentials: per-user OAuth to upstream MCP servers.

/** Who a credential belongs to: Bifrost's `auth_mode`. */
export type McpOAuthAuthMode = 'user' | 'vk' | 'session'
export type McpOAuthTokenStatus = 'active' | 'orphaned' | 'needs_reauth'
export type McpOAuthFlowStatus = 'pending' | 'failed'

export interface McpOAuthConfigsTable {
  id: string
  mcp_client_id: string
  /** The callback URL registered with the authorization server. */
  redirect_uri: string
  authorization_server: string
  /** JSON: the authorization server's metadata, or null when it publishes none */
  metadata: string | null
  /** The RFC 8707 resource (the MCP server's canonical URL) */
  resource: string | null
  scope: string | null
  /** Sealed JSON: the client id (and secret) issued by registration or configured */
  client_information: string
  created_at: string
}

export interface McpOAuthTokensTable {
  id: string
  mcp_client_id: string
  auth_mode: McpOAuthAuthMode
  /** The user id, virtual key id or MCP session id, by `auth_mode` */
  identity_id: string
  /** sealed */
  access_token: string
  /** sealed */
  refresh_token: string | null
  token_type: string
  scope: string | null
  status: McpOAuthTokenStatus
  oauth_config_id: string | null
  expires_at: string | null
  last_refreshed_at: string | null
  created_at: string
  updated_at: string
}

export interface McpOAuthFlowsTable {
  id: string
  mcp_client_id: string
  auth_mode: McpOAuthAuthMode
  identity_id: string
  /** sha256 (hex) of the OAuth `state`, set when the browser starts the login */
  state_hash: string | null
  /** sealed PKCE verifier */
  code_verifier: string | null
  oauth_config_id: string | null
  status: McpOAuthFlowStatus
  error: string | null
  expires_at: string
  created_at: string
}

// A type alias, not an interface: Kysely's withTables wants an implicit index signature.
export type McpOAuthCredentialsTables = {
  mcp_oauth_configs: McpOAuthConfigsTable
  mcp_oauth_tokens: McpOAuthTokensTable
  mcp_oauth_flows: McpOAuthFlowsTable
}

// Migration 008_provider_objects: provider objects (files, batches, containers) and who made them.

/** The kinds of provider object whose creator is recorded (a container's files go with their container). */
export type ProviderObjectKind = 'file' | 'batch' | 'container'

export interface ProviderObjectsTable {
  /** `kind:provider:object_id`, as Bifrost's `ProviderObjectID` builds it. */
  id: string
  kind: ProviderObjectKind
  provider: string
  /** The provider-side id (`file-…`, `batch_…`). */
  object_id: string
  /** The virtual key that created it; null when the request carried none. */
  virtual_key_id: string | null
  created_at: string
}

// A type alias, not an interface: Kysely's withTables wants an implicit index signature.
export type ProviderObjectsTables = { provider_objects: ProviderObjectsTable }

// Migration 010_semantic_cache: the semantic cache.

/** Milliseconds since the epoch for times. */
export interface SemanticCacheEntriesTable {
  id: string
  namespace: string
  cache_key: string
  scope: string
  partition: string
  provider: string
  model: string
  response: string
  embedding: string | null
  created_at: number | string
  expires_at: number | string
}

// Migration 011_routing_rules: routing rules.

export interface RoutingRulesTable {
  id: string
  name: string
  scope: string
  scope_id: string | null
  priority: number
  enabled: number
  rule: string
  created_at: string
  updated_at: string
}

// Migration 002_governance (and 013_model_limits, 016_budget_overrides): governance.

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
  /** The budget's own flag; the owner's calendar_aligned applies too (see governance/repo/rows.ts). */
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

// Migration 012_async_jobs (and 015_async_job_cost): async inference jobs and webhook deliveries.

export type AsyncJobStatus = 'pending' | 'processing' | 'completed' | 'failed'

export interface AsyncJobsTable {
  id: string
  status: AsyncJobStatus
  request_type: string
  route: string
  model: string | null
  virtual_key_id: string | null
  request: string
  callback_url: string | null
  webhook_endpoint: string | null
  result_ttl_seconds: number
  status_code: number | null
  response: string | null
  attempts: number
  created_at: string
  started_at: string | null
  completed_at: string | null
  expires_at: string | null
  /** USD, as the synchronous route charged it (x-bifrost-cost-usd); null when it told none. */
  cost: number | null
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed'

export interface WebhookDeliveriesTable {
  id: string
  event: string
  url: string
  endpoint_id: string | null
  async_job_id: string | null
  payload: string
  status: DeliveryStatus
  attempts: number
  last_status_code: number | null
  last_error: string | null
  created_at: string
  updated_at: string
  next_attempt_at: string | null
  /** While an attempt is under way: until when the node making it holds the delivery. */
  claimed_until: string | null
}
