import { describe, expect, it } from 'vitest'
import type { Usage } from '../../core/schemas/index.js'
import { computeCost, estimateCost } from './cost.js'

/** USD per million tokens → per token, as the hand computations below read the providers' pages. */
const pm = (n: number) => n / 1e6

function usage(prompt: number, completion: number, details: Partial<Usage> = {}): Usage {
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    ...details,
  }
}

describe('computeCost', () => {
  it('prices OpenAI cached tokens once, at the cache rate (cached_tokens is part of prompt_tokens)', () => {
    // gpt-4o: $2.50 input, $1.25 cached input, $10 output per million.
    const r = computeCost(
      'openai',
      'gpt-4o',
      usage(10_000, 500, { prompt_tokens_details: { cached_tokens: 4_000 } }),
    )
    expect(r.priced).toBe(true)
    expect(r.estimated).toBe(false)
    expect(r.breakdown.input).toBeCloseTo(6_000 * pm(2.5), 12)
    expect(r.breakdown.cached_read).toBeCloseTo(4_000 * pm(1.25), 12)
    expect(r.breakdown.cache_write).toBe(0)
    expect(r.breakdown.output).toBeCloseTo(500 * pm(10), 12)
    expect(r.cost).toBeCloseTo(0.025, 12)
    expect(r.cost).toBeLessThan(computeCost('openai', 'gpt-4o', usage(10_000, 500)).cost)
    expect(r.priced_as).toEqual({ provider: 'openai', model: 'gpt-4o' })
  })

  it('prices Anthropic cache reads and writes at their own rates, each token once', () => {
    // claude-sonnet-4-5: $3 input, $3.75 cache write, $0.30 cache read, $15 output per million.
    // Anthropic's input_tokens 1,000 + cache_read 20,000 + cache_creation 5,000 = prompt_tokens 26,000.
    const u = usage(26_000, 800, {
      prompt_tokens_details: { cached_tokens: 20_000, cache_creation_tokens: 5_000 },
    })
    const r = computeCost('anthropic', 'claude-sonnet-4-5-20250929', u)
    const hand = 1_000 * pm(3) + 20_000 * pm(0.3) + 5_000 * pm(3.75) + 800 * pm(15)
    expect(hand).toBeCloseTo(0.03975, 12)
    expect(r.cost).toBeCloseTo(hand, 12)
    expect(r.breakdown).toEqual({
      input: expect.closeTo(0.003, 12),
      cached_read: expect.closeTo(0.006, 12),
      cache_write: expect.closeTo(0.01875, 12),
      cache_write_1h: 0,
      output: expect.closeTo(0.012, 12),
    })
    expect(r.priced_as).toEqual({ provider: 'anthropic', model: 'claude-sonnet-4-5' })
  })

  it('prices reasoning tokens as output, inside completion_tokens, not on top', () => {
    // o3: $2 input, $8 output; 3,000 completion tokens of which 2,500 reasoning.
    const u = usage(1_000, 3_000, { completion_tokens_details: { reasoning_tokens: 2_500 } })
    const r = computeCost('openai', 'o3', u)
    expect(r.breakdown.output).toBeCloseTo(3_000 * pm(8), 12)
    expect(r.cost).toBeCloseTo(0.026, 12)
  })

  it('prices Gemini cached content at the cache rate and thinking as output', () => {
    // gemini-2.5-flash: $0.30 input, $0.03 cached, $2.50 output.
    const u = usage(10_000, 100, {
      prompt_tokens_details: { cached_tokens: 8_000 },
      completion_tokens_details: { reasoning_tokens: 60 },
    })
    expect(computeCost('gemini', 'gemini-2.5-flash', u).cost).toBeCloseTo(
      2_000 * pm(0.3) + 8_000 * pm(0.03) + 100 * pm(2.5),
      12,
    )
  })

  it('reads DeepSeek cache hits from prompt_cache_hit_tokens', () => {
    // deepseek-chat: $0.28 miss, $0.028 hit, $0.42 output.
    const r = computeCost(
      'deepseek',
      'deepseek-chat',
      usage(10_000, 1_000, { prompt_cache_hit_tokens: 6_000 }),
    )
    expect(r.cost).toBeCloseTo(4_000 * pm(0.28) + 6_000 * pm(0.028) + 1_000 * pm(0.42), 12)
  })

  describe('long context', () => {
    it('bills every token of a Sonnet 4 request above 200k prompt tokens at the long-context prices', () => {
      // $6 input, $0.60 cache read, $22.50 output per million above 200k.
      const u = usage(250_000, 1_000, { prompt_tokens_details: { cached_tokens: 50_000 } })
      const r = computeCost('anthropic', 'claude-sonnet-4-20250514', u)
      expect(r.cost).toBeCloseTo(200_000 * pm(6) + 50_000 * pm(0.6) + 1_000 * pm(22.5), 10)
      expect(r.cost).toBeCloseTo(1.2525, 10)
    })

    it('keeps the base prices at exactly 200k', () => {
      expect(computeCost('anthropic', 'claude-sonnet-4', usage(200_000, 1_000)).cost).toBeCloseTo(
        200_000 * pm(3) + 1_000 * pm(15),
        10,
      )
    })

    it('bills Gemini 2.5 Pro above 200k at $2.50 / $15', () => {
      expect(computeCost('gemini', 'gemini-2.5-pro', usage(300_000, 2_000)).cost).toBeCloseTo(0.78, 10)
    })

    it('bills Grok 4 above 128k at its higher tier', () => {
      expect(computeCost('xai', 'grok-4', usage(150_000, 1_000)).cost).toBeCloseTo(
        150_000 * pm(6) + 1_000 * pm(30),
        10,
      )
    })

    it('leaves models without a tier at their base prices', () => {
      expect(computeCost('openai', 'gpt-4.1', usage(300_000, 0)).cost).toBeCloseTo(300_000 * pm(2), 10)
    })
  })

  describe('fallbacks and bad figures', () => {
    it('prices cache reads at the input price when no cache price is listed', () => {
      // llama-3.3-70b-versatile on Groq: $0.59 input, no cache price listed.
      const u = usage(1_000, 0, { prompt_tokens_details: { cached_tokens: 400 } })
      const r = computeCost('groq', 'llama-3.3-70b-versatile', u)
      expect(r.breakdown.cached_read).toBeCloseTo(400 * pm(0.59), 12)
      expect(r.cost).toBeCloseTo(1_000 * pm(0.59), 12)
    })

    it('prices cache writes at the input price when no write price is listed', () => {
      const u = usage(1_000, 0, { prompt_tokens_details: { cache_creation_tokens: 1_000 } })
      const r = computeCost('openai', 'gpt-4o', u)
      expect(r.breakdown.cache_write).toBeCloseTo(1_000 * pm(2.5), 12)
      expect(r.fallbacks).toEqual(['cache_write_at_input_price'])
    })

    it('caps cache figures at the prompt, so no part goes negative', () => {
      const u = usage(1_000, 0, { prompt_tokens_details: { cached_tokens: 900, cache_creation_tokens: 500 } })
      const r = computeCost('anthropic', 'claude-haiku-4-5', u)
      expect(r.breakdown.input).toBe(0)
      expect(r.breakdown.cached_read).toBeCloseTo(900 * pm(0.1), 12)
      expect(r.breakdown.cache_write).toBeCloseTo(100 * pm(1.25), 12)
      const over = computeCost(
        'openai',
        'gpt-4o',
        usage(100, 0, { prompt_tokens_details: { cached_tokens: 5_000 } }),
      )
      expect(over.breakdown).toEqual({
        input: 0,
        cached_read: expect.closeTo(100 * pm(1.25), 12),
        cache_write: 0,
        cache_write_1h: 0,
        output: 0,
      })
    })

    it('treats negative, missing or non-numeric counts as zero', () => {
      const u = { prompt_tokens: -5, completion_tokens: Number.NaN, total_tokens: 0 } as Usage
      expect(computeCost('openai', 'gpt-4o', u)).toMatchObject({ cost: 0, priced: true })
      const partial = { completion_tokens: 10 } as unknown as Usage
      expect(computeCost('openai', 'gpt-4o', partial).cost).toBeCloseTo(10 * pm(10), 12)
    })
  })

  it('returns cost 0 with priced false for an unknown model', () => {
    expect(computeCost('openai', 'gpt-unknown', usage(1_000, 1_000))).toEqual({
      cost: 0,
      estimated: false,
      priced: false,
      breakdown: { input: 0, cached_read: 0, cache_write: 0, cache_write_1h: 0, output: 0 },
    })
    expect(computeCost('ollama', 'llama3.2', usage(1_000, 1_000)).priced).toBe(false)
  })

  it('carries the estimated flag the caller gives', () => {
    expect(computeCost('openai', 'gpt-4o', usage(10, 10), { estimated: true }).estimated).toBe(true)
    expect(computeCost('openai', 'nope', usage(10, 10), { estimated: true })).toMatchObject({
      estimated: true,
      priced: false,
    })
  })

  it('prices embeddings at the input price with no output', () => {
    expect(computeCost('openai', 'text-embedding-3-small', usage(1_000_000, 0)).cost).toBeCloseTo(0.02, 12)
  })

  it('prices an OpenRouter id at the vendor list price', () => {
    expect(computeCost('openrouter', 'openai/gpt-4o', usage(1_000, 1_000)).cost).toBeCloseTo(
      1_000 * pm(2.5) + 1_000 * pm(10),
      12,
    )
  })
})

describe('estimateCost', () => {
  it('prices the estimate with no cache discount', () => {
    expect(estimateCost('openai', 'gpt-4o', 1_000, 1_024)).toBeCloseTo(1_000 * pm(2.5) + 1_024 * pm(10), 12)
  })

  it('uses the long-context tier when the estimated prompt exceeds it', () => {
    expect(estimateCost('gemini', 'gemini-2.5-pro', 300_000, 2_000)).toBeCloseTo(0.78, 10)
  })

  it('is 0 for an unknown model and for nonsense counts', () => {
    expect(estimateCost('openai', 'gpt-unknown', 1_000, 1_000)).toBe(0)
    expect(estimateCost('openai', 'gpt-4o', -1, Number.NaN)).toBe(0)
  })
})
