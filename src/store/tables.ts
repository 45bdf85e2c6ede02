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
