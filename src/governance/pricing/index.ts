export { PRICES, type ModelPrice } from './prices.js'
export { pricingPort } from './port.js'
export { findPrice, lookupPrice, type PriceMatch } from './lookup.js'
export {
  computeCost,
  estimateCost,
  type CacheRateFallback,
  type CostBreakdown,
  type CostOptions,
  type CostResult,
} from './cost.js'
export {
  applyPricingPatch,
  PricingOverrides,
  type OverrideQuery,
  type PricingContext,
  type PricingMatchType,
  type PricingOverride,
  type PricingPatch,
  type PricingScopeKind,
} from './overrides.js'
export {
  ATTACHMENT_TOKENS,
  countTextTokens,
  DEFAULT_COMPLETION_TOKENS,
  estimateTokens,
  estimateUsageFromText,
  type TokenEstimate,
  type TokenEstimateOptions,
  type TokenEstimateRequest,
} from './token-estimate.js'
