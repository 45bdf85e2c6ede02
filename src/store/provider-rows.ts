import type { Insertable, Selectable } from 'kysely'
import type { NetworkConfig, ProviderConfig, ProviderKey } from '../core/schemas/index.js'
import { isSealed, type SecretCipher } from './crypto.js'
import {
  KEY_CONFIG_FIELDS,
  PROXY_SECRET_FIELDS,
  mapKeySecrets,
  mapNetworkSecrets,
  mapSecretFields,
} from './secrets.js'
import type { ProviderKeysTable, ProvidersTable } from './tables.js'

/** Translation between ProviderConfig and its rows; secrets are sealed on the way in and opened on the way out. */

type ProviderRow = Selectable<ProvidersTable>
type KeyRow = Selectable<ProviderKeysTable>

export function providerToRow(
  cfg: ProviderConfig,
  cipher: SecretCipher,
  now: string,
): Insertable<ProvidersTable> {
  return {
    name: cfg.name,
    network_config: JSON.stringify(withResilience(mapNetworkSecrets(cfg.network_config, cipher.seal), cfg)),
    concurrency_and_buffer_size: JSON.stringify(cfg.concurrency_and_buffer_size),
    proxy_config:
      cfg.proxy_config === undefined
        ? null
        : JSON.stringify(mapSecretFields(cfg.proxy_config, PROXY_SECRET_FIELDS, cipher.seal)),
    custom_provider_config: jsonOrNull(cfg.custom_provider_config),
    send_back_raw_request: flag(cfg.send_back_raw_request),
    send_back_raw_response: flag(cfg.send_back_raw_response),
    store_raw_request_response: flag(cfg.store_raw_request_response),
    config_hash: cfg.config_hash ?? null,
    created_at: now,
    updated_at: now,
  }
}

export function keyToRow(
  provider: string,
  key: ProviderKey,
  position: number,
  cipher: SecretCipher,
  now: string,
): Insertable<ProviderKeysTable> {
  const sealed = mapKeySecrets(key, cipher.seal)
  const configs: Record<string, unknown> = {}
  for (const field of KEY_CONFIG_FIELDS) {
    if (sealed[field] !== undefined) configs[field] = sealed[field]
  }
  return {
    id: key.id,
    provider,
    position,
    name: key.name,
    value: sealed.value,
    models: JSON.stringify(key.models),
    blacklisted_models: JSON.stringify(key.blacklisted_models),
    weight: key.weight,
    enabled: key.enabled ? 1 : 0,
    use_for_batch_api: flag(key.use_for_batch_api),
    aliases: jsonOrNull(key.aliases),
    key_configs: Object.keys(configs).length === 0 ? null : JSON.stringify(configs),
    description: key.description ?? null,
    created_at: now,
    updated_at: now,
  }
}

export function providerFromRows(
  row: ProviderRow,
  keyRows: readonly KeyRow[],
  cipher: SecretCipher,
): ProviderConfig {
  const { [RESILIENCE]: resilience, ...network } = parseJson<Record<string, unknown>>(row.network_config)
  const cfg: ProviderConfig = {
    name: row.name,
    keys: keyRows.map((k) => keyFromRow(k, cipher)),
    network_config: mapNetworkSecrets(network, cipher.open),
    concurrency_and_buffer_size: parseJson(row.concurrency_and_buffer_size),
  }
  if (resilience !== undefined) Object.assign(cfg, resilience)
  if (row.proxy_config !== null) {
    cfg.proxy_config = mapSecretFields(parseJson(row.proxy_config), PROXY_SECRET_FIELDS, cipher.open)
  }
  if (row.send_back_raw_request !== null) cfg.send_back_raw_request = row.send_back_raw_request === 1
  if (row.send_back_raw_response !== null) cfg.send_back_raw_response = row.send_back_raw_response === 1
  if (row.store_raw_request_response !== null)
    cfg.store_raw_request_response = row.store_raw_request_response === 1
  if (row.custom_provider_config !== null) cfg.custom_provider_config = parseJson(row.custom_provider_config)
  if (row.config_hash !== null) cfg.config_hash = row.config_hash
  return cfg
}

export function keyFromRow(row: KeyRow, cipher: SecretCipher): ProviderKey {
  const key: ProviderKey = {
    id: row.id,
    name: row.name,
    value: row.value,
    models: parseJson(row.models),
    blacklisted_models: parseJson(row.blacklisted_models),
    weight: Number(row.weight),
    enabled: row.enabled === 1,
  }
  if (row.aliases !== null) key.aliases = parseJson(row.aliases)
  if (row.use_for_batch_api !== null) key.use_for_batch_api = row.use_for_batch_api === 1
  if (row.key_configs !== null) {
    const configs = parseJson<Record<string, Record<string, unknown>>>(row.key_configs)
    for (const field of KEY_CONFIG_FIELDS) {
      if (configs[field] !== undefined) key[field] = configs[field]
    }
  }
  if (row.description !== null) key.description = row.description
  return mapKeySecrets(key, cipher.open)
}

/**
 * Whether reading a row (with `read`, given a cipher) meets a literal secret stored in plain text,
 * i.e. written before an encryption key was configured.
 */
export function holdsPlaintextSecret(read: (probe: SecretCipher) => unknown): boolean {
  let plain = false
  const probe: SecretCipher = {
    encrypted: false,
    seal: (v) => v,
    open: (v) => {
      if (!isSealed(v)) plain = true
      return v
    },
  }
  read(probe)
  return plain
}

function flag(value: boolean | undefined): number | null {
  return value === undefined ? null : value ? 1 : 0
}

function jsonOrNull(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(value)
}

function parseJson<T>(text: string): T {
  return JSON.parse(text) as T
}

/**
 * A provider's circuit breaker and adaptive load balancing settings ride in its network_config
 * column under this member (no column of their own), and leave it again when read.
 */
const RESILIENCE = 'heimdall_resilience'

function withResilience(network: NetworkConfig, cfg: ProviderConfig): Record<string, unknown> {
  if (cfg.circuit_breaker === undefined && cfg.adaptive_load_balancing === undefined) return network
  const resilience: Partial<ProviderConfig> = {}
  if (cfg.circuit_breaker !== undefined) resilience.circuit_breaker = cfg.circuit_breaker
  if (cfg.adaptive_load_balancing !== undefined)
    resilience.adaptive_load_balancing = cfg.adaptive_load_balancing
  return { ...network, [RESILIENCE]: resilience }
}
