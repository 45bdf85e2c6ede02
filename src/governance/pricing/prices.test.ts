import { describe, expect, it } from 'vitest'
import { PRICES, type ModelPrice } from './prices.js'

const entries = Object.entries(PRICES).flatMap(([provider, table]) =>
  Object.entries(table).map(([model, price]) => ({ provider, model, price })),
)

describe('the price table', () => {
  it('covers the main providers', () => {
    for (const provider of [
      'openai',
      'anthropic',
      'gemini',
      'groq',
      'mistral',
      'xai',
      'cerebras',
      'deepseek',
      'perplexity',
      'openrouter',
    ]) {
      expect(Object.keys(PRICES[provider]).length, provider).toBeGreaterThan(0)
    }
  })

  it('names models in lower case', () => {
    for (const { provider, model } of entries) expect(model, provider).toBe(model.toLowerCase())
  })

  it('holds prices per token, not per million: nothing above $0.001 a token', () => {
    for (const { provider, model, price } of entries) {
      for (const [field, value] of Object.entries(price) as [keyof ModelPrice, number][]) {
        expect(Number.isFinite(value) && value >= 0 && value < 0.001, `${provider}/${model} ${field}`).toBe(
          true,
        )
      }
      expect(
        price.input_cost_per_token + price.output_cost_per_token,
        `${provider}/${model}`,
      ).toBeGreaterThan(0)
    }
  })

  it('prices Anthropic cache writes at 1.25× and reads at 0.1× the input price', () => {
    for (const [model, price] of Object.entries(PRICES.anthropic)) {
      if (model === 'claude-3-haiku') continue // published as rounded $0.30 / $0.03
      expect(price.cache_creation_input_token_cost, model).toBeCloseTo(price.input_cost_per_token * 1.25, 15)
      expect(price.cache_read_input_token_cost, model).toBeCloseTo(price.input_cost_per_token * 0.1, 15)
    }
  })

  it('lists a cache-read price below the input price wherever it lists one', () => {
    for (const { provider, model, price } of entries) {
      if (price.cache_read_input_token_cost === undefined) continue
      expect(price.cache_read_input_token_cost, `${provider}/${model}`).toBeLessThan(
        price.input_cost_per_token,
      )
    }
  })

  it('has long-context tiers for Sonnet 4 / 4.5 and Gemini 2.5 Pro', () => {
    for (const p of [PRICES.anthropic['claude-sonnet-4'], PRICES.anthropic['claude-sonnet-4-5']]) {
      expect(p.input_cost_per_token_above_200k_tokens).toBeCloseTo(6e-6, 15)
      expect(p.output_cost_per_token_above_200k_tokens).toBeCloseTo(22.5e-6, 15)
    }
    expect(PRICES.gemini['gemini-2.5-pro'].input_cost_per_token_above_200k_tokens).toBeCloseTo(2.5e-6, 15)
  })

  it('keeps self-hosted engines unpriced', () => {
    for (const provider of ['ollama', 'vllm', 'sgl']) expect(PRICES[provider]).toEqual({})
  })
})
