export {
  openConfigStore,
  CONFIG_MIGRATION_TABLE,
  type ConfigStore,
  type OpenConfigStoreOptions,
} from './config-store.js'
export {
  StoreSpecSchema,
  DEFAULT_STORE_SPEC,
  isStoreEnabled,
  reconcileIntervalMs,
  type StoreSpec,
  type StoreSpecInput,
  type StoreKind,
  type SqliteStoreConfig,
  type PostgresStoreConfig,
} from './spec.js'
export {
  connectDatabase,
  migrateDatabase,
  type Connection,
  type ConnectOptions,
  type MigrateOptions,
} from './database.js'
export { configStoreMigrations } from './migrations/index.js'
export { ConfigReloads, readConfigVersion, type ConfigReloadsOptions } from './config-reloads.js'
export { isSealed, type SecretCipher } from './crypto.js'
export { KEY_CONFIG_FIELDS } from './secrets.js'
export { reconcileProviders, providerConfigHash, stableJson, withStableKeyIds } from './reconcile.js'
export {
  redactSecret,
  isRedactedSecret,
  redactKey,
  redactProvider,
  mergeRedacted,
  mergeRedactedKey,
} from './redact.js'
// Every table's row type, in one module (the migrations only create the tables).
export type * from './tables.js'
export { ProviderObjects, providerObjectId } from './provider-objects.js'
