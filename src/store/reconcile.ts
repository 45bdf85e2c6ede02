import { createHash } from 'node:crypto'
import { normalizeProvider } from '../core/config.js'
import type { ProviderConfig, ProviderConfigInput } from '../core/schemas/index.js'
import type { ConfigStore } from './config-store.js'

/**
 * How config.json and the config store are reconciled at start, per provider:
 *
 * - Each provider entry of config.json has a `config_hash`: the sha256 of its definition as
 *   written (stable JSON: object keys sorted; `env.VAR` references hashed as written, unresolved).
 * - If the store has that provider with the same `config_hash`, the stored version wins: edits
 *   made through the API survive restarts for as long as the file entry is unchanged.
 * - If the hash differs, or the store lacks the provider, the file's version is imported (a full
 *   replace, keys included): an edit to config.json wins at the next start.
 * - Providers found only in the store are kept.
 *
 * Keys written in config.json without an `id` get one derived from the provider and key name, so a
 * re-import keeps their ids (and whatever refers to them, such as virtual keys).
 */
export async function reconcileProviders(
  store: ConfigStore,
  fromFile: Readonly<Record<string, ProviderConfigInput>>,
): Promise<ProviderConfig[]> {
  for (const [name, input] of Object.entries(fromFile)) {
    const hash = providerConfigHash(input)
    const stored = await store.getProvider(name)
    if (stored?.config_hash === hash) continue
    const cfg = normalizeProvider(name, withStableKeyIds(name, input))
    cfg.config_hash = hash
    await store.putProvider(cfg)
  }
  return store.listProviders()
}

/** sha256 (hex) of a provider's config.json definition, independent of key order. */
export function providerConfigHash(input: ProviderConfigInput): string {
  return createHash('sha256').update(stableJson(input)).digest('hex')
}

/** JSON with object keys sorted and undefined members dropped, so equal values give equal text. */
export function stableJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null'
  // Built by appending (no intermediate arrays): the response cache keys every request with this.
  let out: string
  if (Array.isArray(value)) {
    out = '['
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ','
      out += value[i] === undefined ? 'null' : stableJson(value[i])
    }
    return out + ']'
  }
  const obj = value as Record<string, unknown>
  // The default sort compares UTF-16 code units, as `<` does.
  const keys = Object.keys(obj).sort()
  out = '{'
  for (const k of keys) {
    const v = obj[k]
    if (v === undefined) continue
    if (out.length > 1) out += ','
    out += `${JSON.stringify(k)}:${stableJson(v)}`
  }
  return out + '}'
}

/** The input with an id on every key: the given one, or one derived from provider and key name. */
export function withStableKeyIds(provider: string, input: ProviderConfigInput): ProviderConfigInput {
  if (input.keys === undefined) return input
  const seen = new Map<string, number>()
  const keys = input.keys.map((key, i) => {
    if (key.id !== undefined && key.id !== '') return key
    // The same default name normalizeKey gives; a repeated name is told apart by its occurrence.
    const name = key.name ?? `key-${i + 1}`
    const occurrence = (seen.get(name) ?? 0) + 1
    seen.set(name, occurrence)
    const seed = occurrence === 1 ? `${provider}\u0000${name}` : `${provider}\u0000${name}\u0000${occurrence}`
    return { ...key, id: nameBasedUuid(seed) }
  })
  return { ...input, keys }
}

// Namespace of Heimdall's name-based key ids (a random UUID, fixed forever).
const KEY_ID_NAMESPACE = Buffer.from('6f1d2c3e8a4b4f7c9e2d5a1b3c4d5e6f', 'hex')

/** An RFC 4122 version-5 UUID (SHA-1, name-based), so derived ids look like any other key id. */
function nameBasedUuid(name: string): string {
  const bytes = createHash('sha1').update(KEY_ID_NAMESPACE).update(name, 'utf8').digest().subarray(0, 16)
  bytes[6] = (bytes[6] & 0x0f) | 0x50
  bytes[8] = (bytes[8] & 0x3f) | 0x80
  const hex = bytes.toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}
