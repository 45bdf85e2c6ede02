import type { GatewayContext } from '../context.js'
import { noteRoutingEngine } from '../routing-engines.js'
import type { ModelEntry, ProviderConfig, ProviderKey } from '../schemas/index.js'
import type { HealthTracker } from './health.js'
import { selectKey } from './keys.js'

/** The key of a provider that needs none (a local engine). */
export const KEYLESS_KEY: ProviderKey = {
  id: 'keyless',
  name: 'keyless',
  value: '',
  models: ['*'],
  blacklisted_models: [],
  weight: 1,
  enabled: true,
}

/**
 * The key for the next attempt: the caller's own (direct keys), none for a keyless provider, else a
 * weighted choice among the keys this request may use, avoiding `avoid` (rate-limited) when another
 * can serve and never one in `dead`. With `health`, keys whose circuit is open are left out (a 503
 * `circuit_open` when that leaves none) and adaptive weights replace the configured ones.
 */
export function pickKey(
  ctx: GatewayContext,
  config: ProviderConfig,
  model: string,
  dead: Set<string>,
  avoid: string | undefined,
  keyless: boolean,
  health?: HealthTracker,
): ProviderKey | undefined {
  if (ctx.directKey !== undefined) {
    return dead.has('direct')
      ? undefined
      : { ...KEYLESS_KEY, id: 'direct', name: 'direct', value: ctx.directKey }
  }
  const view = health?.view(config, model)
  if (config.keys.length === 0 && keyless && !dead.has(KEYLESS_KEY.id)) {
    if (view && view.exclude(dead).has(KEYLESS_KEY.id)) throw view.refusal()
    view?.claim(KEYLESS_KEY)
    return KEYLESS_KEY
  }
  const allowed = ctx.allowedKeyIds
  const keys = allowed ? config.keys.filter((k) => allowed.has(k.id)) : config.keys
  const exclude = view ? view.exclude(dead) : dead
  const weightOf = view?.weightOf
  if (weightOf && keys.length > 1) noteRoutingEngine(ctx, 'loadbalancing')
  let key: ProviderKey | undefined
  if (avoid !== undefined) key = selectKey(keys, model, new Set(exclude).add(avoid), Math.random, weightOf)
  key ??= selectKey(keys, model, exclude, Math.random, weightOf)
  if (key) view?.claim(key)
  // Keys that could serve but whose circuit is open: the provider is unhealthy, not misconfigured.
  else if (exclude !== dead && selectKey(keys, model, dead)) throw view!.refusal()
  return key
}

/** Models named explicitly by a provider's keys, listed even when the provider's catalogue is unreachable. */
export function declaredModels(config: ProviderConfig): ModelEntry[] {
  const names = new Set<string>()
  for (const k of config.keys) {
    if (!k.enabled) continue
    for (const m of k.models) if (m !== '*') names.add(m)
    for (const alias of Object.keys(k.aliases ?? {})) names.add(alias)
  }
  return [...names].map((m) => ({
    id: `${config.name}/${m}`,
    object: 'model',
    created: 0,
    owned_by: config.name,
  }))
}
