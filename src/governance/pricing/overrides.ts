import { GatewayError } from '../../core/errors.js'
import type { ModelPrice } from './prices.js'

/**
 * Bifrost's pricing overrides (`/api/governance/pricing-overrides`): custom prices for the models
 * matching a pattern within a scope. Exactly one override applies to a request, the most specific:
 * by scope first (virtual_key_provider_key > virtual_key_provider > virtual_key > provider_key >
 * provider > global), then an exact pattern before a wildcard, then the wildcard with the most
 * literal characters, then the smallest id, so every node picks the same one.
 */

export type PricingScopeKind =
  'global' | 'provider' | 'provider_key' | 'virtual_key' | 'virtual_key_provider' | 'virtual_key_provider_key'

export type PricingMatchType = 'exact' | 'wildcard'

/** Price fields to override, per token in USD. As in Bifrost, only fields above zero apply. */
export interface PricingPatch {
  input_cost_per_token?: number | null
  output_cost_per_token?: number | null
  cache_read_input_token_cost?: number | null
  cache_creation_input_token_cost?: number | null
  cache_creation_input_token_cost_above_1hr?: number | null
  input_cost_per_token_above_128k_tokens?: number | null
  output_cost_per_token_above_128k_tokens?: number | null
  input_cost_per_token_above_200k_tokens?: number | null
  output_cost_per_token_above_200k_tokens?: number | null
  cache_read_input_token_cost_above_200k_tokens?: number | null
  cache_creation_input_token_cost_above_200k_tokens?: number | null
  /** Bifrost's other fields (images, audio, batch...) are kept, not used for token costs. */
  [field: string]: number | null | undefined
}

export interface PricingOverride {
  id: string
  name?: string
  scope_kind: PricingScopeKind
  virtual_key_id?: string | null
  provider_id?: string | null
  provider_key_id?: string | null
  match_type: PricingMatchType
  /** A model name, or with `wildcard` a pattern where `*` stands for any characters (`claude-3*`). */
  pattern: string
  /** When set, the override applies only to these request types (a `_stream` variant counts as its base). */
  request_types?: string[] | null
  patch?: PricingPatch | null
  /** The patch as the database stores it (JSON text); read when `patch` is absent. */
  pricing_patch?: string | PricingPatch | null
  created_at?: string
  updated_at?: string
}

export interface OverrideQuery {
  provider: string
  model: string
  virtualKeyId?: string | null
  providerKeyId?: string | null
  requestType?: string
}

/** What computeCost needs from the overrides: the one that applies, if any. */
export interface PricingContext {
  override?: PricingOverride
}

type ScopeField = 'virtual_key_id' | 'provider_id' | 'provider_key_id'

interface ScopeRule {
  rank: number
  /** Ids the scope must name. */
  needs: readonly ScopeField[]
  /** Ids that, when named, must match the request. */
  checks: readonly ScopeField[]
}

const SCOPES: Readonly<Record<PricingScopeKind, ScopeRule>> = {
  global: { rank: 0, needs: [], checks: [] },
  provider: { rank: 1, needs: ['provider_id'], checks: ['provider_id'] },
  provider_key: { rank: 2, needs: ['provider_key_id'], checks: ['provider_key_id', 'provider_id'] },
  virtual_key: { rank: 3, needs: ['virtual_key_id'], checks: ['virtual_key_id'] },
  virtual_key_provider: {
    rank: 4,
    needs: ['virtual_key_id', 'provider_id'],
    checks: ['virtual_key_id', 'provider_id'],
  },
  virtual_key_provider_key: {
    rank: 5,
    needs: ['virtual_key_id', 'provider_key_id'],
    checks: ['virtual_key_id', 'provider_key_id', 'provider_id'],
  },
}

/** The fields of a PricingPatch that replace a ModelPrice's. */
const PRICE_FIELDS: readonly (keyof ModelPrice)[] = [
  'input_cost_per_token',
  'output_cost_per_token',
  'cache_read_input_token_cost',
  'cache_creation_input_token_cost',
  'cache_creation_input_token_cost_above_1hr',
  'input_cost_per_token_above_128k_tokens',
  'output_cost_per_token_above_128k_tokens',
  'input_cost_per_token_above_200k_tokens',
  'output_cost_per_token_above_200k_tokens',
  'cache_read_input_token_cost_above_200k_tokens',
  'cache_creation_input_token_cost_above_200k_tokens',
]

interface CompiledOverride {
  override: PricingOverride
  rule: ScopeRule
  exact: boolean
  literalLength: number
  matches: (model: string) => boolean
  requestTypes: ReadonlySet<string> | undefined
}

export class PricingOverrides {
  private byId = new Map<string, CompiledOverride>()

  constructor(overrides: Iterable<PricingOverride> = []) {
    this.replaceAll(overrides)
  }

  /** Adds or replaces (by id) one override; throws a 400 naming the field when it is malformed. */
  set(override: PricingOverride): void {
    const compiled = compile(override)
    this.byId.set(compiled.override.id, compiled)
  }

  delete(id: string): boolean {
    return this.byId.delete(id)
  }

  /** Replaces every override at once; nothing changes when one of them is malformed. */
  replaceAll(overrides: Iterable<PricingOverride>): void {
    const next = new Map<string, CompiledOverride>()
    for (const o of overrides) {
      const compiled = compile(o)
      next.set(compiled.override.id, compiled)
    }
    this.byId = next
  }

  get(id: string): PricingOverride | undefined {
    return this.byId.get(id)?.override
  }

  list(): PricingOverride[] {
    return [...this.byId.values()].map((c) => c.override)
  }

  get size(): number {
    return this.byId.size
  }

  /** The override that applies to a request, with its decoded `patch`. */
  resolve(q: OverrideQuery): PricingOverride | undefined {
    const provider = q.provider.trim().toLowerCase()
    let model = q.model.trim().toLowerCase()
    if (model.startsWith(`${provider}/`)) model = model.slice(provider.length + 1)
    const requestType = q.requestType === undefined ? undefined : baseRequestType(q.requestType)
    const ids: Record<ScopeField, string | undefined> = {
      virtual_key_id: q.virtualKeyId ?? undefined,
      provider_id: provider,
      provider_key_id: q.providerKeyId ?? undefined,
    }
    let best: CompiledOverride | undefined
    for (const c of this.byId.values()) {
      if (!c.rule.checks.every((f) => isBlank(c.override[f]) || normaliseId(f, c.override[f]) === ids[f]))
        continue
      if (requestType !== undefined && c.requestTypes && !c.requestTypes.has(requestType)) continue
      if (!c.matches(model)) continue
      if (!best || moreSpecific(c, best)) best = c
    }
    return best?.override
  }

  /** The argument computeCost takes for a request. */
  context(q: OverrideQuery): PricingContext {
    return { override: this.resolve(q) }
  }
}

/** A price with a patch's positive fields laid over it. */
export function applyPricingPatch(price: ModelPrice, patch: PricingPatch | null | undefined): ModelPrice {
  const out: ModelPrice = { ...price }
  for (const field of PRICE_FIELDS) {
    const value = patch?.[field]
    if (typeof value === 'number' && value > 0) out[field] = value
  }
  return out
}

/** Whether a patch sets any token price (an override can then price a model the table lacks). */
export function patchPricesTokens(patch: PricingPatch | null | undefined): boolean {
  return PRICE_FIELDS.some((field) => {
    const value = patch?.[field]
    return typeof value === 'number' && value > 0
  })
}

function moreSpecific(a: CompiledOverride, b: CompiledOverride): boolean {
  if (a.rule.rank !== b.rule.rank) return a.rule.rank > b.rule.rank
  if (a.exact !== b.exact) return a.exact
  if (a.literalLength !== b.literalLength) return a.literalLength > b.literalLength
  return a.override.id < b.override.id
}

function baseRequestType(type: string): string {
  return type.endsWith('_stream') ? type.slice(0, -'_stream'.length) : type
}

function isBlank(v: unknown): boolean {
  return v === undefined || v === null || v === ''
}

function normaliseId(field: ScopeField, v: unknown): string {
  const s = String(v)
  return field === 'provider_id' ? s.trim().toLowerCase() : s
}

function invalid(message: string, param: string): GatewayError {
  return new GatewayError('invalid_request', message, { param })
}

function compile(o: PricingOverride): CompiledOverride {
  if (!o || typeof o !== 'object') throw invalid('a pricing override must be an object', 'pricing_override')
  if (typeof o.id !== 'string' || o.id === '') throw invalid('a pricing override needs an id', 'id')
  const rule = Object.hasOwn(SCOPES, o.scope_kind) ? SCOPES[o.scope_kind] : undefined
  if (!rule) {
    throw invalid(`scope_kind must be one of ${Object.keys(SCOPES).join(', ')}`, 'scope_kind')
  }
  for (const field of rule.needs) {
    if (isBlank(o[field])) throw invalid(`scope_kind ${o.scope_kind} needs ${field}`, field)
  }
  if (o.match_type !== 'exact' && o.match_type !== 'wildcard') {
    throw invalid('match_type must be exact or wildcard', 'match_type')
  }
  if (typeof o.pattern !== 'string' || o.pattern.trim() === '') {
    throw invalid('a pricing override needs a model pattern', 'pattern')
  }
  if (o.request_types != null && !(Array.isArray(o.request_types) && o.request_types.every(isString))) {
    throw invalid('request_types must be a list of request types', 'request_types')
  }
  const patch = decodePatch(o)
  const pattern = o.pattern.trim().toLowerCase()
  const exact = o.match_type === 'exact'
  const glob = exact ? undefined : globToRegExp(pattern)
  return {
    override: { ...o, patch },
    rule,
    exact,
    literalLength: pattern.replace(/\*/g, '').length,
    matches: glob ? (model) => glob.test(model) : (model) => model === pattern,
    requestTypes: o.request_types?.length ? new Set(o.request_types.map(baseRequestType)) : undefined,
  }
}

function decodePatch(o: PricingOverride): PricingPatch {
  let raw: unknown = o.patch ?? o.pricing_patch ?? {}
  if (typeof raw === 'string') {
    try {
      raw = JSON.parse(raw)
    } catch {
      throw invalid('pricing_patch is not valid JSON', 'pricing_patch')
    }
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    throw invalid('the pricing patch must be an object of price fields', 'patch')
  }
  const patch: PricingPatch = {}
  for (const [field, value] of Object.entries(raw)) {
    if (value === null || value === undefined) continue
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw invalid(`patch.${field} must be a number of dollars of at least 0`, `patch.${field}`)
    }
    patch[field] = value
  }
  return patch
}

function isString(v: unknown): v is string {
  return typeof v === 'string'
}

function globToRegExp(pattern: string): RegExp {
  const body = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*')
  return new RegExp(`^${body}$`, 's')
}
