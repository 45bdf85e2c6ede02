import { parseDurationMs } from '../core/config.js'
import { DEFAULT_CIRCUIT_BREAKER } from '../core/router/health.js'

type Obj = Record<string, unknown>
type Warn = (section: string, message: string) => void

function isObject(value: unknown): value is Obj {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/** The most a circuit stays open (CircuitBreakerSchema's `open_seconds` maximum). */
const MAX_OPEN_SECONDS = 3600

/**
 * Bifrost's (Enterprise) `load_balancer_config` and `circuit_breaker_config` onto Heimdall's
 * per-provider `adaptive_load_balancing` and `circuit_breaker`, for the providers of config.json
 * that do not set their own; every field Heimdall does not apply is named in a warning. Returns
 * the providers with the settings applied (the input is not changed).
 */
export function acceptResilience(config: Obj, providers: Obj | undefined, warn: Warn): Obj | undefined {
  const out: Obj | undefined = providers && { ...providers }
  if (config.load_balancer_config !== undefined) acceptLoadBalancer(config.load_balancer_config, out, warn)
  if (config.circuit_breaker_config !== undefined)
    acceptCircuitBreakers(config.circuit_breaker_config, out, warn)
  return out
}

const LB_FIELDS = [
  'enabled',
  'direction_selection_enabled',
  'route_selection_enabled',
  'reroute_failed_directions',
  'prune_failed_fallbacks',
  'tracker_config',
  'bootstrap',
]

/** `enabled`: adaptive balancing of keys and of virtual keys' providers, on every provider of the file. */
function acceptLoadBalancer(lb: unknown, providers: Obj | undefined, warn: Warn): void {
  const at = 'load_balancer_config'
  if (!isObject(lb)) return warn(at, 'must be an object; ignored')
  const unknown = Object.keys(lb).filter((f) => !LB_FIELDS.includes(f))
  if (unknown.length > 0) warn(at, `${unknown.join(', ')}: not Bifrost fields; ignored`)
  if (lb.enabled !== true) return
  const routes = lb.route_selection_enabled !== false
  const directions = lb.direction_selection_enabled !== false
  if (!routes && !directions) return
  if (routes !== directions) {
    warn(
      at,
      'route_selection_enabled and direction_selection_enabled are one setting in Heimdall ' +
        '(adaptive_load_balancing scales both key weights and virtual keys’ provider weights); both applied',
    )
  }
  const unread = ['reroute_failed_directions', 'prune_failed_fallbacks'].filter((f) => lb[f] === true)
  if (isObject(lb.tracker_config) && Object.keys(lb.tracker_config).length > 0) unread.push('tracker_config')
  if (lb.bootstrap !== undefined) unread.push('bootstrap')
  if (unread.length > 0) {
    warn(
      at,
      `${unread.join(', ')} not applied (Heimdall's tracker is tuned per provider by ` +
        'adaptive_load_balancing.min_weight_ratio and recompute_seconds)',
    )
  }
  const applied = applyToProviders(providers, 'adaptive_load_balancing', () => ({ enabled: true }))
  if (applied === 0) {
    warn(
      at,
      'no provider in config.json to apply it to; set adaptive_load_balancing on each provider instead',
    )
  }
}

/**
 * Each enabled policy turns on the circuit breaker of its `primary_provider`, open for its
 * `default_cooldown` (the longest when several name the same provider). Bifrost's policies open on
 * response-header signals and redirect to one fallback; Heimdall's circuits open on errors, 429s and
 * timeouts per key and model, and route to the other keys and the request's fallbacks: those
 * fields are named as not applied.
 */
function acceptCircuitBreakers(cb: unknown, providers: Obj | undefined, warn: Warn): void {
  const at = 'circuit_breaker_config'
  if (!isObject(cb)) return warn(at, 'must be an object; ignored')
  if (cb.policies === undefined) return
  if (!Array.isArray(cb.policies)) return warn(`${at}.policies`, 'must be an array; ignored')
  const cooldowns = new Map<string, number>()
  cb.policies.forEach((policy: unknown, i) => {
    const where = `${at}.policies.${i}`
    if (!isObject(policy)) return warn(where, 'must be an object; ignored')
    if (policy.enabled === false) return
    const provider = policy.primary_provider
    if (typeof provider !== 'string' || !isObject(providers?.[provider])) {
      return warn(
        `${where}.primary_provider`,
        `${String(provider)} is not a provider of config.json; not applied`,
      )
    }
    if ((providers![provider] as Obj).circuit_breaker !== undefined) {
      return warn(
        where,
        `${provider} sets its own circuit_breaker, which is kept; this policy is not applied`,
      )
    }
    let seconds: number = DEFAULT_CIRCUIT_BREAKER.open_seconds
    try {
      const ms = parseDurationMs(policy.default_cooldown as string | undefined, seconds * 1000)
      seconds = Math.min(MAX_OPEN_SECONDS, Math.max(0.05, ms / 1000))
    } catch {
      warn(`${where}.default_cooldown`, `${String(policy.default_cooldown)} is not a duration; 30s used`)
    }
    cooldowns.set(provider, Math.max(cooldowns.get(provider) ?? 0, seconds))
    const unread = ['condition', 'fallback_provider', 'fallback_model', 'cooldown_header'].filter(
      (f) => policy[f] !== undefined,
    )
    if (typeof policy.primary_model === 'string' && policy.primary_model !== '*') unread.push('primary_model')
    if (Array.isArray(policy.primary_key_ids) && policy.primary_key_ids.length > 0)
      unread.push('primary_key_ids')
    if (unread.length > 0) {
      warn(
        where,
        `${unread.join(', ')} not applied: Heimdall opens a circuit per key and model of ${provider} on ` +
          "errors, 429s (Retry-After) and timeouts, and sends its requests to the provider's other keys " +
          "and the request's fallbacks while it is open",
      )
    }
  })
  applyToProviders(providers, 'circuit_breaker', (name) => {
    const seconds = cooldowns.get(name)
    return seconds === undefined ? undefined : { enabled: true, open_seconds: seconds }
  })
}

/** Sets `field` on each provider that has none of its own; returns how many got it. */
function applyToProviders(
  providers: Obj | undefined,
  field: string,
  value: (name: string) => Obj | undefined,
): number {
  let applied = 0
  for (const [name, provider] of Object.entries(providers ?? {})) {
    if (!isObject(provider)) continue
    const v = value(name)
    if (v === undefined) continue
    applied++
    if (provider[field] === undefined) providers![name] = { ...provider, [field]: v }
  }
  return applied
}
