import type { Usage } from './schemas/index.js'

/** What a request cost. */
export interface RequestCost {
  cost: number
  /** Priced from estimated tokens (the provider sent no usage). */
  estimated: boolean
  /** Whether a price was known for the model (else `cost` is 0 and means nothing). */
  priced: boolean
}

/** The request to price: where it went, for whom, and whether its tokens are an estimate. */
export interface PricedRequest {
  provider: string
  model: string
  virtualKeyId?: string | null
  estimated?: boolean
}

/**
 * Prices, for the parts that report costs (request logs and their cost recalculation, metric
 * labels) without importing governance: governance implements it with its price list and pricing
 * overrides, and src/http hands it in.
 */
export interface Pricing {
  /** What `usage` costs at today's prices, with the pricing override that applies. */
  cost(request: PricedRequest, usage: Usage): RequestCost
  /** The prompt tokens of a unified request, estimated (for a stream that ended without usage). */
  promptTokens(request: unknown): number
  /** The providers the price list knows. */
  readonly providers: readonly string[]
  /** The priced model a name (a snapshot, an alias) folds into, or undefined when it has no price. */
  pricedModel(provider: string, model: string): string | undefined
}
