import type { Pricing } from '../../core/pricing.js'
import { computeCost } from './cost.js'
import { findPrice } from './lookup.js'
import type { PricingOverrides } from './overrides.js'
import { PRICES } from './prices.js'
import { estimateTokens, type TokenEstimateRequest } from './token-estimate.js'

/** Core's Pricing port: the price list with these overrides, for logs, cost recalculation and metrics. */
export function pricingPort(overrides: PricingOverrides): Pricing {
  return {
    cost({ provider, model, virtualKeyId, estimated }, usage) {
      const context = overrides.context({ provider, model, virtualKeyId })
      const result = computeCost(provider, model, usage, { ...context, estimated })
      return { cost: result.cost, estimated: result.estimated, priced: result.priced }
    },
    promptTokens: (request) =>
      estimateTokens(request && typeof request === 'object' ? (request as TokenEstimateRequest) : {}).prompt,
    providers: Object.keys(PRICES),
    pricedModel: (provider, model) => findPrice(provider, model)?.model,
  }
}
