import type { Usage } from '../../core/schemas/index.js'
import { findPrice } from './lookup.js'
import { applyPricingPatch, patchPricesTokens, type PricingContext } from './overrides.js'
import type { ModelPrice } from './prices.js'

/** Dollars per part of the usage; they add up to `cost`. */
export interface CostBreakdown {
  /** Prompt tokens neither read from nor written to a cache. */
  input: number
  cached_read: number
  /** All cache writes, 5-minute and 1-hour. */
  cache_write: number
  /** The part of `cache_write` spent on 1-hour writes. */
  cache_write_1h: number
  /** Completion tokens, reasoning included. */
  output: number
}

/** A part of the prompt whose own rate is not in the price list, billed at a fallback rate instead. */
export type CacheRateFallback =
  'cache_read_at_input_price' | 'cache_write_at_input_price' | 'cache_write_1h_at_5m_price'

export interface CostResult {
  /** US dollars. */
  cost: number
  /** The usage was estimated rather than reported by the provider. */
  estimated: boolean
  /** False when no price is known for the model: the cost is 0 and means "unknown", not "free". */
  priced: boolean
  breakdown: CostBreakdown
  /** The table entry used (e.g. `gpt-4o` for `gpt-4o-2024-08-06`), when one was. */
  priced_as?: { provider: string; model: string }
  /** The pricing override applied, if any. */
  override_id?: string
  /** Cache tokens billed at a fallback rate because the price list has none for them (never at $0). */
  fallbacks?: CacheRateFallback[]
}

export interface CostOptions extends PricingContext {
  /** Marks the result as estimated (the caller made the usage up, e.g. for a stream without usage). */
  estimated?: boolean
}

/** Prompts longer than these are billed at the long-context prices, every token of the request. */
const LONG_CONTEXT_200K = 200_000
const LONG_CONTEXT_128K = 128_000

const ZERO_PRICE: ModelPrice = { input_cost_per_token: 0, output_cost_per_token: 0 }

/**
 * The cost of one request. `prompt_tokens` holds everything the prompt was made of, so the uncached
 * part is what remains after the cache reads and writes are taken out, and each token is priced once:
 * uncached at the input price, reads at the cache-read price, writes at the cache-write price (each
 * falling back to the input price when none is listed: better to over-charge a budget than to
 * under-charge it). Completion tokens, reasoning included, cost the output price.
 */
export function computeCost(
  provider: string,
  model: string,
  usage: Usage,
  opts: CostOptions = {},
): CostResult {
  const estimated = opts.estimated ?? false
  const match = findPrice(provider, model)
  const override = opts.override && patchPricesTokens(opts.override.patch) ? opts.override : undefined
  if (!match && !override) {
    return {
      cost: 0,
      estimated,
      priced: false,
      breakdown: { input: 0, cached_read: 0, cache_write: 0, cache_write_1h: 0, output: 0 },
    }
  }
  const price = applyPricingPatch(match?.price ?? ZERO_PRICE, override?.patch)
  const tokens = splitUsage(usage)
  const rates = ratesFor(price, tokens.prompt)
  const write1h = tokens.cacheWrite1h * rates.cacheWrite1h
  const breakdown: CostBreakdown = {
    input: tokens.uncached * rates.input,
    cached_read: tokens.cacheRead * rates.cacheRead,
    cache_write: (tokens.cacheWrite - tokens.cacheWrite1h) * rates.cacheWrite + write1h,
    cache_write_1h: write1h,
    output: tokens.completion * rates.output,
  }
  const result: CostResult = {
    cost: breakdown.input + breakdown.cached_read + breakdown.cache_write + breakdown.output,
    estimated,
    priced: true,
    breakdown,
  }
  if (match) result.priced_as = { provider: match.provider, model: match.model }
  if (override) result.override_id = override.id
  const fallbacks: CacheRateFallback[] = []
  if (tokens.cacheRead && rates.fallbacks.read) fallbacks.push('cache_read_at_input_price')
  if (tokens.cacheWrite > tokens.cacheWrite1h && rates.fallbacks.write)
    fallbacks.push('cache_write_at_input_price')
  if (tokens.cacheWrite1h && rates.fallbacks.write1h) fallbacks.push('cache_write_1h_at_5m_price')
  if (fallbacks.length) result.fallbacks = fallbacks
  return result
}

/** Dollars to reserve at admission for an estimated request (no cache discount assumed). */
export function estimateCost(
  provider: string,
  model: string,
  promptTokens: number,
  completionTokens: number,
  opts: PricingContext = {},
): number {
  const prompt = count(promptTokens)
  const completion = count(completionTokens)
  const usage: Usage = {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
  }
  return computeCost(provider, model, usage, { ...opts, estimated: true }).cost
}

interface TokenSplit {
  prompt: number
  uncached: number
  cacheRead: number
  /** All cache writes; `cacheWrite1h` of them are 1-hour writes. */
  cacheWrite: number
  cacheWrite1h: number
  completion: number
}

/** Cache figures larger than the prompt (a provider's bad arithmetic) are capped, so nothing goes negative. */
function splitUsage(usage: Usage): TokenSplit {
  const prompt = count(usage.prompt_tokens)
  const details = usage.prompt_tokens_details
  // DeepSeek reports its cache hits in its own field.
  const reported = details?.cached_tokens ?? usage.prompt_cache_hit_tokens
  const cacheRead = Math.min(count(reported), prompt)
  const written = details?.cache_creation_tokens ?? details?.cached_write_tokens
  const cacheWrite = Math.min(count(written), prompt - cacheRead)
  return {
    prompt,
    uncached: prompt - cacheRead - cacheWrite,
    cacheRead,
    cacheWrite,
    cacheWrite1h: Math.min(count(details?.cached_write_1h_tokens), cacheWrite),
    completion: count(usage.completion_tokens),
  }
}

function count(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0
}

interface Rates {
  input: number
  output: number
  cacheRead: number
  cacheWrite: number
  cacheWrite1h: number
  /** Which cache rates were missing from the price list and fell back. */
  fallbacks: { read: boolean; write: boolean; write1h: boolean }
}

/** Listed cache rates, each falling back (reads and writes to the input price, 1-hour writes to the write price). */
function cacheRates(
  input: number,
  read: number | undefined,
  write: number | undefined,
  write1h: number | undefined,
): Pick<Rates, 'cacheRead' | 'cacheWrite' | 'cacheWrite1h' | 'fallbacks'> {
  const cacheWrite = write ?? input
  return {
    cacheRead: read ?? input,
    cacheWrite,
    cacheWrite1h: write1h ?? cacheWrite,
    fallbacks: { read: read === undefined, write: write === undefined, write1h: write1h === undefined },
  }
}

function ratesFor(p: ModelPrice, promptTokens: number): Rates {
  const has200k =
    p.input_cost_per_token_above_200k_tokens !== undefined ||
    p.output_cost_per_token_above_200k_tokens !== undefined ||
    p.cache_read_input_token_cost_above_200k_tokens !== undefined ||
    p.cache_creation_input_token_cost_above_200k_tokens !== undefined
  if (promptTokens > LONG_CONTEXT_200K && has200k) {
    const input = p.input_cost_per_token_above_200k_tokens ?? p.input_cost_per_token
    return {
      input,
      output: p.output_cost_per_token_above_200k_tokens ?? p.output_cost_per_token,
      ...cacheRates(
        input,
        p.cache_read_input_token_cost_above_200k_tokens ?? p.cache_read_input_token_cost,
        p.cache_creation_input_token_cost_above_200k_tokens ?? p.cache_creation_input_token_cost,
        p.cache_creation_input_token_cost_above_1hr_above_200k_tokens ??
          p.cache_creation_input_token_cost_above_1hr,
      ),
    }
  }
  const has128k =
    p.input_cost_per_token_above_128k_tokens !== undefined ||
    p.output_cost_per_token_above_128k_tokens !== undefined
  const long128k = promptTokens > LONG_CONTEXT_128K && has128k
  const input = (long128k ? p.input_cost_per_token_above_128k_tokens : undefined) ?? p.input_cost_per_token
  return {
    input,
    output: (long128k ? p.output_cost_per_token_above_128k_tokens : undefined) ?? p.output_cost_per_token,
    ...cacheRates(
      input,
      p.cache_read_input_token_cost,
      p.cache_creation_input_token_cost,
      p.cache_creation_input_token_cost_above_1hr,
    ),
  }
}
