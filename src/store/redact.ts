import type {
  NetworkConfig,
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
  mapNetworkSecrets,
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

/** A URL with the user and password it may carry (`https://user:pass@host`) masked; anything else as is. */
export function redactUrlCredentials(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#@]*)@/i.exec(url)
  if (!m) return url
  const colon = m[2].indexOf(':')
  return `${m[1]}${colon === -1 ? '***' : '***:***'}@${url.slice(m[0].length)}`
}

function redactNetwork(network: NetworkConfig): NetworkConfig {
  const out = mapNetworkSecrets(network, redactSecret)
  if (out.base_url !== undefined) {
    const base_url = redactUrlCredentials(out.base_url)
    if (base_url !== out.base_url) return { ...out, base_url }
  }
  return out
}

export function redactProvider(cfg: ProviderConfig): ProviderConfig {
  const out: ProviderConfig = {
    ...cfg,
    keys: cfg.keys.map(redactKey),
    network_config: redactNetwork(cfg.network_config),
  }
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
  if (incoming.network_config !== undefined) {
    out.network_config = mergeNetwork(incoming.network_config, stored.network_config)
  }
  return out
}

/** Header values sent back redacted keep the stored ones; a base URL sent back as shown keeps its credentials. */
function mergeNetwork(incoming: NetworkConfig, stored: NetworkConfig): NetworkConfig {
  const out = { ...incoming }
  if (incoming.extra_headers !== undefined && stored.extra_headers !== undefined) {
    const headers = stored.extra_headers
    out.extra_headers = { ...incoming.extra_headers }
    for (const [name, value] of Object.entries(out.extra_headers)) {
      if (Object.hasOwn(headers, name)) out.extra_headers[name] = keepStored(value, headers[name]) ?? value
    }
  }
  if (
    incoming.base_url !== undefined &&
    stored.base_url !== undefined &&
    incoming.base_url !== stored.base_url &&
    incoming.base_url === redactUrlCredentials(stored.base_url)
  ) {
    out.base_url = stored.base_url
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
