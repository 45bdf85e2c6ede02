import { sql, type Kysely } from 'kysely'
import type { ProviderConfig } from '../core/schemas/index.js'
import { GatewayError } from '../core/errors.js'
import { createSecretCipher, deriveEncryptionKey, newSalt, SALT_BYTES, type SecretCipher } from './crypto.js'
import { connectDatabase, errorText, migrateDatabase } from './database.js'
import { configStoreMigrations } from './migrations/index.js'
import {
  holdsPlaintextSecret,
  keyFromRow,
  keyToRow,
  providerFromRows,
  providerToRow,
} from './provider-rows.js'
import { DEFAULT_STORE_SPEC, type StoreKind, type StoreSpec } from './spec.js'
import type { ConfigStoreTables } from './tables.js'

/** The persisted configuration: providers with their keys, and settings in a key-value table. */
export interface ConfigStore {
  readonly kind: StoreKind
  /** The query builder, for modules that add their own tables through migrations (`db.withTables<T>()`). */
  readonly db: Kysely<ConfigStoreTables>
  /** Whether secrets are encrypted at rest (an encryption key is configured). */
  readonly encrypted: boolean
  /** Seals and opens other modules' secrets (e.g. OAuth tokens) with the store's key. */
  readonly secrets: SecretCipher
  /** All providers, by name, each with its keys in order. */
  listProviders(): Promise<ProviderConfig[]>
  getProvider(name: string): Promise<ProviderConfig | undefined>
  /**
   * Creates or fully replaces a provider and its keys, in one transaction: keys are matched by id,
   * and stored keys missing from `cfg.keys` are deleted. When `cfg.config_hash` is undefined the
   * stored hash is kept, so that an edit made through the API keeps the provider's link to its
   * config.json entry (see reconcile.ts).
   */
  putProvider(cfg: ProviderConfig): Promise<void>
  /** Deletes a provider and its keys; false when there was none. */
  deleteProvider(name: string): Promise<boolean>
  /** A JSON value of the key-value table. The caller knows its shape. */
  getValue<T>(key: string): Promise<T | undefined>
  setValue(key: string, value: unknown): Promise<void>
  deleteValue(key: string): Promise<boolean>
  /** Resolves when the database answers; throws `store_unavailable` otherwise. */
  ping(): Promise<void>
  close(): Promise<void>
}

export interface OpenConfigStoreOptions {
  /** Where the SQLite file lives by default (`<appDir>/config.db`) and relative paths start. */
  appDir: string
  /** Encrypts secrets at rest when set (config.json `encryption_key`). */
  encryptionKey?: string
  /** Errors of idle PostgreSQL connections (logged by the caller). */
  onPoolError?: (err: Error) => void
}

/** Keys of the key-value table that the store keeps for itself; `setValue` refuses this prefix. */
const RESERVED_PREFIX = 'store:'
const SALT_KEY = 'store:encryption_salt'
const CHECK_KEY = 'store:encryption_check'
const CHECK_TEXT = 'heimdall encryption check'
export const CONFIG_MIGRATION_TABLE = 'heimdall_migration'

/**
 * Opens the config store described by `spec` (SQLite in `<appDir>/config.db` when undefined),
 * applies pending migrations, and sets up encryption. Whether the store is enabled at all
 * (`enabled: false`) is the caller's decision.
 */
export async function openConfigStore(
  spec: StoreSpec | undefined,
  opts: OpenConfigStoreOptions,
): Promise<ConfigStore> {
  const { db, kind } = await connectDatabase<ConfigStoreTables>(spec ?? DEFAULT_STORE_SPEC, {
    appDir: opts.appDir,
    defaultFile: 'config.db',
    onPoolError: opts.onPoolError,
  })
  try {
    await migrateDatabase(db, configStoreMigrations, { kind, tableName: CONFIG_MIGRATION_TABLE })
    const cipher = await setUpEncryption(db, opts.encryptionKey)
    const store = new SqlConfigStore(db, kind, cipher)
    if (cipher.encrypted) await store.sealPlaintextSecrets()
    return store
  } catch (err) {
    await db.destroy().catch(() => undefined)
    throw err
  }
}

async function setUpEncryption(
  db: Kysely<ConfigStoreTables>,
  passphrase: string | undefined,
): Promise<SecretCipher> {
  if (passphrase === undefined || passphrase === '') {
    if ((await readKv(db, CHECK_KEY)) !== undefined) {
      throw new GatewayError(
        'store_unavailable',
        'the config store holds encrypted secrets but no encryption key is configured (set encryption_key)',
      )
    }
    return createSecretCipher(undefined)
  }
  // Insert-if-absent then read back, so that nodes opening a new database at once agree on one salt.
  await insertKvIfAbsent(db, SALT_KEY, newSalt().toString('base64'))
  const salt = Buffer.from(String(await readKv(db, SALT_KEY)), 'base64')
  if (salt.length !== SALT_BYTES)
    throw new GatewayError('store_unavailable', 'the stored encryption salt is corrupt')
  const cipher = createSecretCipher(await deriveEncryptionKey(passphrase, salt))
  await insertKvIfAbsent(db, CHECK_KEY, cipher.seal(CHECK_TEXT))
  let check: string | undefined
  try {
    check = cipher.open(String(await readKv(db, CHECK_KEY)))
  } catch {
    check = undefined
  }
  if (check !== CHECK_TEXT) {
    throw new GatewayError(
      'store_unavailable',
      'the encryption key does not match the one the config store was encrypted with',
    )
  }
  return cipher
}

async function readKv(db: Kysely<ConfigStoreTables>, key: string): Promise<unknown> {
  const row = await db.selectFrom('kv').select('value').where('key', '=', key).executeTakeFirst()
  return row === undefined ? undefined : JSON.parse(row.value)
}

async function insertKvIfAbsent(db: Kysely<ConfigStoreTables>, key: string, value: unknown): Promise<void> {
  await db
    .insertInto('kv')
    .values({ key, value: JSON.stringify(value), updated_at: new Date().toISOString() })
    .onConflict((oc) => oc.column('key').doNothing())
    .execute()
}

class SqlConfigStore implements ConfigStore {
  readonly encrypted: boolean
  private closed = false

  constructor(
    readonly db: Kysely<ConfigStoreTables>,
    readonly kind: StoreKind,
    readonly secrets: SecretCipher,
  ) {
    this.encrypted = secrets.encrypted
  }

  async listProviders(): Promise<ProviderConfig[]> {
    const [providers, keys] = await Promise.all([
      this.db.selectFrom('providers').selectAll().orderBy('name').execute(),
      this.db.selectFrom('provider_keys').selectAll().orderBy('provider').orderBy('position').execute(),
    ])
    return providers.map((p) =>
      providerFromRows(
        p,
        keys.filter((k) => k.provider === p.name),
        this.secrets,
      ),
    )
  }

  async getProvider(name: string): Promise<ProviderConfig | undefined> {
    const row = await this.db.selectFrom('providers').selectAll().where('name', '=', name).executeTakeFirst()
    if (row === undefined) return undefined
    const keys = await this.db
      .selectFrom('provider_keys')
      .selectAll()
      .where('provider', '=', name)
      .orderBy('position')
      .execute()
    return providerFromRows(row, keys, this.secrets)
  }

  async putProvider(cfg: ProviderConfig): Promise<void> {
    const ids = cfg.keys.map((k) => k.id)
    const duplicate = ids.find((id, i) => ids.indexOf(id) !== i)
    if (duplicate !== undefined) {
      throw new GatewayError('invalid_request', `provider ${cfg.name}: key id ${duplicate} appears twice`, {
        param: 'keys',
      })
    }
    const now = new Date().toISOString()
    const row = providerToRow(cfg, this.secrets, now)
    const keyRows = cfg.keys.map((k, i) => keyToRow(cfg.name, k, i, this.secrets, now))
    await this.db.transaction().execute(async (trx) => {
      if (ids.length > 0) {
        const taken = await trx
          .selectFrom('provider_keys')
          .select(['id', 'provider'])
          .where('id', 'in', ids)
          .where('provider', '!=', cfg.name)
          .executeTakeFirst()
        if (taken !== undefined) {
          throw new GatewayError(
            'conflict',
            `key id ${taken.id} already belongs to provider ${taken.provider}`,
            {
              param: 'keys',
            },
          )
        }
      }
      const { name: _name, created_at: _created, config_hash, ...update } = row
      await trx
        .insertInto('providers')
        .values(row)
        .onConflict((oc) =>
          oc.column('name').doUpdateSet(cfg.config_hash === undefined ? update : { ...update, config_hash }),
        )
        .execute()
      // Keys are upserted, not deleted and re-inserted, so rows that refer to a kept key stay valid.
      let stale = trx.deleteFrom('provider_keys').where('provider', '=', cfg.name)
      if (ids.length > 0) stale = stale.where('id', 'not in', ids)
      await stale.execute()
      for (const keyRow of keyRows) {
        const { id: _id, created_at: _keyCreated, ...keyUpdate } = keyRow
        await trx
          .insertInto('provider_keys')
          .values(keyRow)
          .onConflict((oc) => oc.column('id').doUpdateSet(keyUpdate))
          .execute()
      }
    })
  }

  async deleteProvider(name: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('provider_keys').where('provider', '=', name).execute()
      const result = await trx.deleteFrom('providers').where('name', '=', name).executeTakeFirst()
      return result.numDeletedRows > 0n
    })
  }

  async getValue<T>(key: string): Promise<T | undefined> {
    return (await readKv(this.db, key)) as T | undefined
  }

  async setValue(key: string, value: unknown): Promise<void> {
    assertNotReserved(key)
    if (value === undefined) {
      await this.deleteValue(key)
      return
    }
    const text = JSON.stringify(value)
    const updated_at = new Date().toISOString()
    await this.db
      .insertInto('kv')
      .values({ key, value: text, updated_at })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value: text, updated_at }))
      .execute()
  }

  async deleteValue(key: string): Promise<boolean> {
    assertNotReserved(key)
    const result = await this.db.deleteFrom('kv').where('key', '=', key).executeTakeFirst()
    return result.numDeletedRows > 0n
  }

  async ping(): Promise<void> {
    try {
      await sql`select 1`.execute(this.db)
    } catch (err) {
      throw new GatewayError('store_unavailable', `config store unreachable: ${errorText(err)}`, {
        cause: err,
      })
    }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.db.destroy()
  }

  /** Encrypts secrets written in plain text before an encryption key was configured. */
  async sealPlaintextSecrets(): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const now = new Date().toISOString()
      const keyRows = await trx.selectFrom('provider_keys').selectAll().execute()
      for (const row of keyRows) {
        if (!holdsPlaintextSecret((probe) => keyFromRow(row, probe))) continue
        const sealed = keyToRow(row.provider, keyFromRow(row, this.secrets), row.position, this.secrets, now)
        await trx
          .updateTable('provider_keys')
          .set({ value: sealed.value, key_configs: sealed.key_configs, updated_at: now })
          .where('id', '=', row.id)
          .execute()
      }
      const providerRows = await trx.selectFrom('providers').selectAll().execute()
      for (const row of providerRows) {
        if (!holdsPlaintextSecret((probe) => providerFromRows(row, [], probe))) continue
        const sealed = providerToRow(providerFromRows(row, [], this.secrets), this.secrets, now)
        await trx
          .updateTable('providers')
          .set({ proxy_config: sealed.proxy_config, network_config: sealed.network_config, updated_at: now })
          .where('name', '=', row.name)
          .execute()
      }
    })
  }
}

function assertNotReserved(key: string): void {
  if (key.startsWith(RESERVED_PREFIX)) {
    throw new GatewayError('invalid_request', `the key ${key} is reserved for the store itself`)
  }
}
