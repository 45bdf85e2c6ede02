import type {
  ProviderConfig,
  ProviderConfigInput,
  ProviderKey,
  ProviderKeyInput,
} from '../core/schemas/index.js'
import {
  KEY_CONFIG_FIELDS,
  KEY_CONFIG_SECRET_FIELDS,
  PROXY_SECRET_FIELDS,
  isLiteralSecret,
  mapKeySecrets,
  mapSecretFields,
} from './secrets.js'

/**
 * Secrets in API responses, as Bifrost shows them: a literal as its first 4 and last 4 characters
 * around 24 asterisks (all asterisks when 8 characters or fewer); `env.VAR` references as written.
 * An update that sends a redacted value back keeps the stored secret.
 */

const MASK = '*'.repeat(24)

export function redactSecret(value: string): string {
  if (!isLiteralSecret(value)) return value
  if (value.length <= 8) return '*'.repeat(value.length)
  return value.slice(0, 4) + MASK + value.slice(-4)
}

/** Whether a value has the shape of a redacted secret (Bifrost's rule, including its sentinels). */
export function isRedactedSecret(value: string): boolean {
  if (value === '') return false
  if (value.length <= 8) return /^\*+$/.test(value)
  if (value.length === 32 && value.slice(4, 28) === MASK) return true
  const lower = value.toLowerCase()
  return lower === '<redacted>' || lower === '[redacted]'
}

export function redactKey(key: ProviderKey): ProviderKey {
  return mapKeySecrets(key, redactSecret)
}

export function redactProvider(cfg: ProviderConfig): ProviderConfig {
  const out: ProviderConfig = { ...cfg, keys: cfg.keys.map(redactKey) }
  if (cfg.proxy_config !== undefined)
    out.proxy_config = mapSecretFields(cfg.proxy_config, PROXY_SECRET_FIELDS, redactSecret)
  return out
}

/**
 * The incoming key with each secret that was sent back redacted replaced by the stored one
 * (`stored` is the key with the same id, if any).
 */
export function mergeRedactedKey(
  incoming: ProviderKeyInput,
  stored: ProviderKey | undefined,
): ProviderKeyInput {
  if (stored === undefined) return incoming
  const out: ProviderKeyInput = { ...incoming }
  out.value = keepStored(incoming.value, stored.value)
  for (const field of KEY_CONFIG_FIELDS) {
    const config = incoming[field]
    const secretFields = KEY_CONFIG_SECRET_FIELDS[field]
    if (config === undefined || secretFields === undefined) continue
    out[field] = mergeFields(config, stored[field], secretFields)
  }
  if (out.value === undefined) delete out.value
  return out
}

/** `mergeRedactedKey` for every key of a provider update (keys matched by id), and the proxy password. */
export function mergeRedacted(
  incoming: ProviderConfigInput,
  stored: ProviderConfig | undefined,
): ProviderConfigInput {
  if (stored === undefined) return incoming
  const out: ProviderConfigInput = { ...incoming }
  if (incoming.keys !== undefined) {
    const byId = new Map(stored.keys.map((k) => [k.id, k]))
    out.keys = incoming.keys.map((k) => mergeRedactedKey(k, k.id === undefined ? undefined : byId.get(k.id)))
  }
  if (incoming.proxy_config !== undefined) {
    out.proxy_config = mergeFields(incoming.proxy_config, stored.proxy_config, PROXY_SECRET_FIELDS)
  }
  return out
}

function keepStored(incoming: string | undefined, stored: unknown): string | undefined {
  return incoming !== undefined && typeof stored === 'string' && isRedactedSecret(incoming)
    ? stored
    : incoming
}

function mergeFields(
  incoming: Record<string, unknown>,
  stored: Record<string, unknown> | undefined,
  fields: readonly string[],
): Record<string, unknown> {
  if (stored === undefined) return incoming
  const out = { ...incoming }
  for (const field of fields) {
    const value = out[field]
    if (typeof value === 'string') out[field] = keepStored(value, stored[field])
  }
  return out
}
