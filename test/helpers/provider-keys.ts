import type { ProviderConfig, ProviderKey } from '../../src/core/schemas/index.js'

/** One enabled key per id: value `sk-<id>`, every model, weight 1. */
export function keysWithIds(ids: string[]): ProviderKey[] {
  return ids.map((id) => ({
    id,
    name: id,
    value: `sk-${id}`,
    models: ['*'],
    blacklisted_models: [],
    weight: 1,
    enabled: true,
  }))
}

/** A normalized `openai` provider of `keys`, no network settings, `extra` on top. */
export function openaiProviderOf(keys: ProviderKey[], extra: Partial<ProviderConfig> = {}): ProviderConfig {
  return {
    name: 'openai',
    keys,
    network_config: {},
    concurrency_and_buffer_size: { concurrency: 1000, buffer_size: 5000 },
    ...extra,
  }
}
