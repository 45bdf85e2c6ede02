import type { ProviderKey } from '../schemas/index.js'

/**
 * Whether a key may serve a model: its allow-list (`*` for all, `[]` for none) minus its deny-list.
 * The model `*` (files, batches: calls that name no model) is served by any key that serves some model.
 */
export function keyAllowsModel(key: ProviderKey, model: string): boolean {
  if (!key.enabled) return false
  if (model === '*') return key.models.length > 0
  if (key.blacklisted_models.includes(model)) return false
  return (
    key.models.includes('*') ||
    key.models.includes(model) ||
    (key.aliases !== undefined && Object.hasOwn(key.aliases, model))
  )
}

/**
 * Weighted random choice among the keys that may serve the model, leaving out `exclude`.
 * Every positive weight counts, however small; when all weights are zero the choice is uniform.
 * `weightOf` replaces the configured weights (adaptive load balancing).
 */
export function selectKey(
  keys: readonly ProviderKey[],
  model: string,
  exclude: ReadonlySet<string>,
  random: () => number = Math.random,
  weightOf: (k: ProviderKey) => number = configuredWeight,
): ProviderKey | undefined {
  let total = 0
  let eligible = 0
  for (const k of keys) {
    if (exclude.has(k.id) || !keyAllowsModel(k, model)) continue
    eligible++
    const w = weightOf(k)
    total += w > 0 ? w : 0
  }
  if (eligible === 0) return undefined
  if (total <= 0) {
    let pick = Math.floor(random() * eligible)
    for (const k of keys) {
      if (exclude.has(k.id) || !keyAllowsModel(k, model)) continue
      if (pick-- === 0) return k
    }
    return undefined
  }
  let r = random() * total
  let last: ProviderKey | undefined
  for (const k of keys) {
    if (exclude.has(k.id) || !keyAllowsModel(k, model)) continue
    const w = weightOf(k)
    if (w <= 0) continue
    last = k
    r -= w
    if (r < 0) return k
  }
  return last
}

function configuredWeight(k: ProviderKey): number {
  return k.weight
}

/** The provider's name for a model on this key: its alias if the key maps one. */
export function modelForKey(key: ProviderKey, model: string): string {
  if (key.aliases === undefined || !Object.hasOwn(key.aliases, model)) return model
  const alias = key.aliases[model]
  return typeof alias === 'string' ? alias : alias.model_id
}
