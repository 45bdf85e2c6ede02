import type { Target } from '../context.js'
import { GatewayError } from '../errors.js'

export interface TargetLookup {
  /** A provider name a `provider/` prefix may use (built-in, or configured custom). */
  isProviderName(name: string): boolean
  /** Configured providers whose keys name this model explicitly, in configuration order. */
  providersListing(model: string): string[]
  configuredProviders(): string[]
}

/**
 * Splits `provider/model` at the first slash (model ids may contain more). A model without a known
 * provider prefix goes to the one configured provider whose keys list it by name, or to the only
 * configured provider, or to `defaultProvider` (the integration route's own).
 */
export function parseModel(
  value: string,
  lookup: TargetLookup,
  defaultProvider?: string,
  param = 'model',
): Omit<Target, 'index'> {
  const slash = value.indexOf('/')
  if (slash > 0) {
    const provider = value.slice(0, slash)
    const model = value.slice(slash + 1)
    if (lookup.isProviderName(provider)) {
      if (!model)
        throw new GatewayError('model_required', `"${value}" names no model after the provider`, { param })
      return { provider, model }
    }
  }
  if (defaultProvider) return { provider: defaultProvider, model: value }
  const listing = lookup.providersListing(value)
  if (listing.length > 0) return { provider: listing[0], model: value }
  const configured = lookup.configuredProviders()
  if (configured.length === 1) return { provider: configured[0], model: value }
  if (slash > 0) {
    throw new GatewayError('unknown_provider', `unknown provider "${value.slice(0, slash)}" in "${value}"`, {
      param,
    })
  }
  throw new GatewayError(
    'invalid_request',
    `model "${value}" must be given as provider/model (e.g. openai/gpt-4o-mini)`,
    {
      param,
    },
  )
}

/** The primary target and the fallbacks, in the order they are tried. */
export function resolveTargets(
  model: unknown,
  fallbacks: unknown,
  lookup: TargetLookup,
  defaultProvider?: string,
): Target[] {
  if (typeof model !== 'string' || model.length === 0) {
    throw new GatewayError('model_required', 'model is required', { param: 'model' })
  }
  const targets: Target[] = [{ ...parseModel(model, lookup, defaultProvider), index: 0 }]
  if (fallbacks !== undefined && fallbacks !== null) {
    if (!Array.isArray(fallbacks)) {
      throw new GatewayError('invalid_request', 'fallbacks must be an array of "provider/model" strings', {
        param: 'fallbacks',
      })
    }
    fallbacks.forEach((f: unknown, i) => {
      // Bifrost's Go SDK sends {provider, model} objects; accept both forms.
      const value =
        typeof f === 'string'
          ? f
          : f && typeof f === 'object' && typeof (f as { provider?: unknown }).provider === 'string'
            ? `${(f as { provider: string }).provider}/${String((f as { model?: unknown }).model ?? '')}`
            : undefined
      if (!value) {
        throw new GatewayError('invalid_request', `fallbacks[${i}] must be a "provider/model" string`, {
          param: 'fallbacks',
        })
      }
      targets.push({ ...parseModel(value, lookup, defaultProvider, `fallbacks[${i}]`), index: i + 1 })
    })
  }
  return targets
}
