import { isEnvRef, KEY_CONFIG_FIELDS } from '../core/config.js'
import type { NetworkConfig, ProviderKey } from '../core/schemas/index.js'

export { KEY_CONFIG_FIELDS }
export type KeyConfigField = (typeof KEY_CONFIG_FIELDS)[number]

/** The fields of the `*_key_config` objects that hold secrets: encrypted at rest, redacted in responses. */
export const KEY_CONFIG_SECRET_FIELDS: Readonly<Partial<Record<KeyConfigField, readonly string[]>>> = {
  azure_key_config: ['client_secret'],
  bedrock_key_config: ['access_key', 'secret_key', 'session_token'],
  vertex_key_config: ['auth_credentials'],
}

/** The fields of a provider's `proxy_config` that hold secrets. */
export const PROXY_SECRET_FIELDS: readonly string[] = ['password']

/** A literal secret: a non-empty string that is not an `env.VAR` reference. */
export function isLiteralSecret(value: unknown): value is string {
  return typeof value === 'string' && value !== '' && !isEnvRef(value)
}

/** A copy of `obj` with `f` applied to its literal secrets among `fields`. */
export function mapSecretFields(
  obj: Record<string, unknown>,
  fields: readonly string[],
  f: (value: string) => string,
): Record<string, unknown> {
  const out = { ...obj }
  for (const field of fields) {
    const value = out[field]
    if (isLiteralSecret(value)) out[field] = f(value)
  }
  return out
}

/**
 * A copy of `network` with `f` applied to the literal values of `extra_headers`: they carry
 * credentials as often as not (an `authorization`, a tenant token) and are secrets like keys.
 */
export function mapNetworkSecrets(network: NetworkConfig, f: (value: string) => string): NetworkConfig {
  const headers = network.extra_headers
  if (headers === undefined) return network
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) out[name] = isLiteralSecret(value) ? f(value) : value
  return { ...network, extra_headers: out }
}

/** A copy of `key` with `f` applied to each literal secret: the value and the key configs' secret fields. */
export function mapKeySecrets(key: ProviderKey, f: (value: string) => string): ProviderKey {
  const out: ProviderKey = { ...key }
  if (isLiteralSecret(out.value)) out.value = f(out.value)
  for (const field of KEY_CONFIG_FIELDS) {
    const config = out[field]
    const secretFields = KEY_CONFIG_SECRET_FIELDS[field]
    if (config !== undefined && secretFields !== undefined)
      out[field] = mapSecretFields(config, secretFields, f)
  }
  return out
}
