import { describe, expect, it } from 'vitest'
import { findPrice, lookupPrice } from './lookup.js'
import { PRICES } from './prices.js'

const perMillion = (n: number) => n / 1e6

describe('lookupPrice', () => {
  it('finds an exact name', () => {
    expect(lookupPrice('openai', 'gpt-4o')).toEqual({
      input_cost_per_token: perMillion(2.5),
      output_cost_per_token: perMillion(10),
      cache_read_input_token_cost: perMillion(1.25),
    })
  })

  it.each([
    ['openai', 'gpt-4o-2024-08-06', 'gpt-4o'],
    ['openai', 'gpt-4o-mini-2024-07-18', 'gpt-4o-mini'],
    ['openai', 'gpt-4.1-2025-04-14', 'gpt-4.1'],
    ['openai', 'gpt-5-mini-2025-08-07', 'gpt-5-mini'],
    ['openai', 'o3-mini-2025-01-31', 'o3-mini'],
    ['openai', 'gpt-4-0613', 'gpt-4'],
    ['openai', 'gpt-3.5-turbo-0125', 'gpt-3.5-turbo'],
    ['openai', 'gpt-4-turbo-2024-04-09', 'gpt-4-turbo'],
    ['openai', 'gpt-4-turbo-preview', 'gpt-4-turbo'],
    ['openai', 'o1-preview', 'o1'],
    ['anthropic', 'claude-sonnet-4-5-20250929', 'claude-sonnet-4-5'],
    ['anthropic', 'claude-3-5-haiku-20241022', 'claude-3-5-haiku'],
    ['anthropic', 'claude-3-7-sonnet-latest', 'claude-3-7-sonnet'],
    ['anthropic', 'claude-opus-4-1-20250805', 'claude-opus-4-1'],
    ['anthropic', 'claude-haiku-4-5', 'claude-haiku-4-5'],
    ['anthropic', 'claude-sonnet-4.5', 'claude-sonnet-4-5'],
    ['anthropic', 'Claude-Sonnet-4-5', 'claude-sonnet-4-5'],
    ['gemini', 'models/gemini-2.5-pro', 'gemini-2.5-pro'],
    ['gemini', 'gemini-2.0-flash-001', 'gemini-2.0-flash'],
    ['gemini', 'gemini-2.5-flash-preview-05-20', 'gemini-2.5-flash'],
    ['gemini', 'gemini-2.5-flash-preview-09-2025', 'gemini-2.5-flash'],
    ['gemini', 'gemini-2.5-flash-lite-preview-06-17', 'gemini-2.5-flash-lite'],
    ['gemini', 'gemini-2.5-pro-latest', 'gemini-2.5-pro'],
    ['mistral', 'mistral-large-2411', 'mistral-large'],
    ['mistral', 'mistral-small-latest', 'mistral-small'],
    ['xai', 'grok-4-0709', 'grok-4'],
    ['xai', 'grok-2-1212', 'grok-2'],
  ])('%s %s is priced as %s', (provider, model, entry) => {
    expect(findPrice(provider, model)).toEqual({ provider, model: entry, price: PRICES[provider][entry] })
  })

  it('prefers an exact snapshot entry over its family', () => {
    expect(lookupPrice('openai', 'gpt-4o-2024-05-13')?.input_cost_per_token).toBe(perMillion(5))
    expect(lookupPrice('openai', 'gpt-4-1106-preview')?.input_cost_per_token).toBe(perMillion(10))
  })

  it('drops a prefix naming the same provider', () => {
    expect(findPrice('openai', 'openai/gpt-4o')?.model).toBe('gpt-4o')
  })

  it('does not strip what is part of a name', () => {
    expect(lookupPrice('openai', 'gpt-4o-audio-preview')).toBeUndefined()
    expect(lookupPrice('openai', 'gpt-4o-realtime-preview-2024-12-17')).toBeUndefined()
    expect(lookupPrice('openai', 'gpt-6')).toBeUndefined()
  })

  it('returns undefined for an unknown model or provider', () => {
    expect(lookupPrice('openai', 'no-such-model')).toBeUndefined()
    expect(lookupPrice('groq', 'gpt-4o')).toBeUndefined()
    expect(lookupPrice('fireworks', 'accounts/fireworks/models/llama-v3p1-8b-instruct')).toBeUndefined()
    expect(lookupPrice('openai', 'constructor')).toBeUndefined()
    expect(lookupPrice('constructor', 'toString')).toBeUndefined()
  })

  describe('providers without a table of their own', () => {
    it.each([
      ['azure', 'gpt-4o', 'openai', 'gpt-4o'],
      ['azure', 'gpt-4.1-mini-2025-04-14', 'openai', 'gpt-4.1-mini'],
      ['vertex', 'claude-sonnet-4-5@20250929', 'anthropic', 'claude-sonnet-4-5'],
      ['vertex', 'gemini-2.5-pro', 'gemini', 'gemini-2.5-pro'],
      ['bedrock', 'us.anthropic.claude-sonnet-4-20250514-v1:0', 'anthropic', 'claude-sonnet-4'],
      ['bedrock', 'anthropic.claude-3-haiku-20240307-v1:0', 'anthropic', 'claude-3-haiku'],
      ['my-proxy', 'o4-mini', 'openai', 'o4-mini'],
    ])('%s %s borrows %s/%s', (provider, model, vendor, entry) => {
      expect(findPrice(provider, model)).toEqual({
        provider: vendor,
        model: entry,
        price: PRICES[vendor][entry],
      })
    })

    it('borrow nothing for other model families', () => {
      expect(lookupPrice('azure', 'my-deployment')).toBeUndefined()
      expect(lookupPrice('fireworks', 'gpt-oss-120b')).toBeUndefined()
    })

    it('do not include self-hosted engines, even with a look-alike model name', () => {
      expect(lookupPrice('ollama', 'gpt-4o')).toBeUndefined()
      expect(lookupPrice('vllm', 'claude-sonnet-4-5')).toBeUndefined()
    })
  })

  describe('OpenRouter', () => {
    it.each([
      ['openai/gpt-4o', 'openai', 'gpt-4o'],
      ['openai/gpt-4o-mini', 'openai', 'gpt-4o-mini'],
      ['anthropic/claude-sonnet-4.5', 'anthropic', 'claude-sonnet-4-5'],
      ['anthropic/claude-3.7-sonnet', 'anthropic', 'claude-3-7-sonnet'],
      ['google/gemini-2.5-pro', 'gemini', 'gemini-2.5-pro'],
      ['x-ai/grok-4', 'xai', 'grok-4'],
      ['mistralai/mistral-large-2411', 'mistral', 'mistral-large'],
      ['openai/gpt-4o:nitro', 'openai', 'gpt-4o'],
    ])('prices %s as %s/%s', (model, vendor, entry) => {
      expect(findPrice('openrouter', model)).toEqual({
        provider: vendor,
        model: entry,
        price: PRICES[vendor][entry],
      })
    })

    it('has its own prices for open models', () => {
      expect(findPrice('openrouter', 'meta-llama/llama-3.3-70b-instruct')?.provider).toBe('openrouter')
      expect(lookupPrice('openrouter', 'openai/gpt-oss-120b')).toBe(PRICES.openrouter['openai/gpt-oss-120b'])
    })

    it('prices :free variants at zero', () => {
      expect(lookupPrice('openrouter', 'deepseek/deepseek-r1:free')).toEqual({
        input_cost_per_token: 0,
        output_cost_per_token: 0,
      })
    })

    it('does not guess for unknown vendors or bare names', () => {
      expect(lookupPrice('openrouter', 'some-lab/some-model')).toBeUndefined()
      expect(lookupPrice('openrouter', 'gpt-4o')).toBeUndefined()
    })
  })
})
