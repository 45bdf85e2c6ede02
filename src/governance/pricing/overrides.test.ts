import { describe, expect, it } from 'vitest'
import { GatewayError } from '../../core/errors.js'
import type { Usage } from '../../core/schemas/index.js'
import { computeCost } from './cost.js'
import { applyPricingPatch, PricingOverrides, type PricingOverride } from './overrides.js'
import { thrownGatewayError } from '../../../test/helpers/gateway-error.js'

const pm = (n: number) => n / 1e6
const usage = (prompt: number, completion: number): Usage => ({
  prompt_tokens: prompt,
  completion_tokens: completion,
  total_tokens: prompt + completion,
})

let seq = 0
function override(fields: Partial<PricingOverride>, input = 1e-6): PricingOverride {
  seq++
  return {
    id: `o${String(seq).padStart(3, '0')}`,
    scope_kind: 'global',
    match_type: 'wildcard',
    pattern: '*',
    request_types: ['chat_completion'],
    patch: { input_cost_per_token: input },
    ...fields,
  }
}

describe('PricingOverrides.resolve', () => {
  const global = override({ id: 'global' })
  const provider = override({ id: 'provider', scope_kind: 'provider', provider_id: 'openai' })
  const providerKey = override({ id: 'provider-key', scope_kind: 'provider_key', provider_key_id: 'key-1' })
  const vk = override({ id: 'vk', scope_kind: 'virtual_key', virtual_key_id: 'vk-1' })
  const vkProvider = override({
    id: 'vk-provider',
    scope_kind: 'virtual_key_provider',
    virtual_key_id: 'vk-1',
    provider_id: 'openai',
  })
  const vkProviderKey = override({
    id: 'vk-provider-key',
    scope_kind: 'virtual_key_provider_key',
    virtual_key_id: 'vk-1',
    provider_key_id: 'key-1',
  })
  const all = [global, provider, providerKey, vk, vkProvider, vkProviderKey]
  const q = { provider: 'openai', model: 'gpt-4o', virtualKeyId: 'vk-1', providerKeyId: 'key-1' }

  it('picks the most specific scope', () => {
    const table = new PricingOverrides(all)
    const order = ['vk-provider-key', 'vk-provider', 'vk', 'provider-key', 'provider', 'global']
    for (const id of order) {
      expect(table.resolve(q)?.id).toBe(id)
      table.delete(id)
    }
    expect(table.resolve(q)).toBeUndefined()
  })

  it('does not depend on the order overrides were added in', () => {
    expect(new PricingOverrides([...all].reverse()).resolve(q)?.id).toBe('vk-provider-key')
  })

  it('applies a virtual key scope only to that key', () => {
    const table = new PricingOverrides(all)
    expect(table.resolve({ ...q, virtualKeyId: 'vk-2' })?.id).toBe('provider-key')
    expect(table.resolve({ provider: 'openai', model: 'gpt-4o' })?.id).toBe('provider')
    expect(table.resolve({ provider: 'anthropic', model: 'claude-haiku-4-5' })?.id).toBe('global')
  })

  it('prefers an exact pattern, then the longer wildcard, then the smaller id', () => {
    const table = new PricingOverrides([
      override({ id: 'b', pattern: 'gpt-*' }),
      override({ id: 'a', pattern: 'gpt-4o*' }),
      override({ id: 'c', pattern: 'gpt-4o', match_type: 'exact' }),
    ])
    expect(table.resolve({ provider: 'openai', model: 'gpt-4o' })?.id).toBe('c')
    expect(table.resolve({ provider: 'openai', model: 'gpt-4o-mini' })?.id).toBe('a')
    expect(table.resolve({ provider: 'openai', model: 'gpt-5' })?.id).toBe('b')
    const tie = new PricingOverrides([
      override({ id: 'y', pattern: 'gpt*' }),
      override({ id: 'x', pattern: 'gpt*' }),
    ])
    expect(tie.resolve({ provider: 'openai', model: 'gpt-5' })?.id).toBe('x')
  })

  it('matches wildcards anywhere, literal dots, ignoring case', () => {
    const table = new PricingOverrides([override({ id: 'claude3', pattern: 'Claude-3*' })])
    expect(table.resolve({ provider: 'anthropic', model: 'claude-3-5-haiku-20241022' })?.id).toBe('claude3')
    expect(table.resolve({ provider: 'anthropic', model: 'claude-sonnet-4' })).toBeUndefined()
    const dots = new PricingOverrides([override({ pattern: 'gpt-4.1*' })])
    expect(dots.resolve({ provider: 'openai', model: 'gpt-401' })).toBeUndefined()
    expect(dots.resolve({ provider: 'openai', model: 'gpt-4.1-mini' })).toBeDefined()
    const middle = new PricingOverrides([override({ pattern: '*sonnet*' })])
    expect(middle.resolve({ provider: 'anthropic', model: 'claude-3-7-sonnet-latest' })).toBeDefined()
  })

  it('matches an exact pattern only on the whole name', () => {
    const table = new PricingOverrides([override({ pattern: 'gpt-4o', match_type: 'exact' })])
    expect(table.resolve({ provider: 'openai', model: 'gpt-4o-2024-08-06' })).toBeUndefined()
    expect(table.resolve({ provider: 'openai', model: 'openai/gpt-4o' })).toBeDefined()
  })

  it('filters by request type, a stream counting as its base type', () => {
    const table = new PricingOverrides([override({ id: 'emb', request_types: ['embedding'] })])
    expect(
      table.resolve({ provider: 'openai', model: 'x', requestType: 'chat_completion_stream' }),
    ).toBeUndefined()
    expect(table.resolve({ provider: 'openai', model: 'x', requestType: 'embedding' })?.id).toBe('emb')
    const chat = new PricingOverrides([override({ id: 'chat', request_types: ['chat_completion'] })])
    expect(chat.resolve({ provider: 'openai', model: 'x', requestType: 'chat_completion_stream' })?.id).toBe(
      'chat',
    )
    expect(chat.resolve({ provider: 'openai', model: 'x' })?.id).toBe('chat')
  })

  it('gives computeCost its argument through context()', () => {
    const table = new PricingOverrides([provider])
    expect(table.context({ provider: 'openai', model: 'gpt-4o' })).toEqual({
      override: table.get('provider'),
    })
    expect(table.context({ provider: 'gemini', model: 'gemini-2.5-pro' })).toEqual({ override: undefined })
  })
})

describe('overrides in computeCost', () => {
  it('replaces only the fields the patch sets', () => {
    const table = new PricingOverrides([
      override({
        id: 'cheap',
        scope_kind: 'provider',
        provider_id: 'openai',
        pattern: 'gpt-4o',
        match_type: 'exact',
      }),
    ])
    const r = computeCost(
      'openai',
      'gpt-4o',
      usage(1_000, 100),
      table.context({ provider: 'openai', model: 'gpt-4o' }),
    )
    expect(r.cost).toBeCloseTo(1_000 * 1e-6 + 100 * pm(10), 12)
    expect(r.override_id).toBe('cheap')
    expect(r.priced_as).toEqual({ provider: 'openai', model: 'gpt-4o' })
  })

  it('lets the most specific override win for a virtual key', () => {
    const table = new PricingOverrides([
      override({ id: 'g' }, 1e-6),
      override({ id: 'v', scope_kind: 'virtual_key', virtual_key_id: 'vk-9' }, 3e-6),
    ])
    const ctx = (virtualKeyId?: string) =>
      table.context({ provider: 'openai', model: 'gpt-4o', virtualKeyId })
    expect(computeCost('openai', 'gpt-4o', usage(1_000, 0), ctx('vk-9')).cost).toBeCloseTo(0.003, 12)
    expect(computeCost('openai', 'gpt-4o', usage(1_000, 0), ctx('vk-1')).cost).toBeCloseTo(0.001, 12)
    expect(computeCost('openai', 'gpt-4o', usage(1_000, 0), ctx()).cost).toBeCloseTo(0.001, 12)
  })

  it('prices a model the table lacks', () => {
    const table = new PricingOverrides([
      override({
        id: 'local',
        scope_kind: 'provider',
        provider_id: 'ollama',
        patch: { input_cost_per_token: 1e-7, output_cost_per_token: 2e-7 },
      }),
    ])
    const r = computeCost(
      'ollama',
      'llama3.2',
      usage(1_000, 1_000),
      table.context({ provider: 'ollama', model: 'llama3.2' }),
    )
    expect(r).toMatchObject({ priced: true, override_id: 'local' })
    expect(r.cost).toBeCloseTo(3e-4, 12)
    expect(r.priced_as).toBeUndefined()
  })

  it('overrides cache and long-context prices', () => {
    const table = new PricingOverrides([
      override({
        patch: {
          cache_read_input_token_cost: 1e-8,
          input_cost_per_token_above_200k_tokens: 1e-5,
        },
      }),
    ])
    const ctx = table.context({ provider: 'anthropic', model: 'claude-sonnet-4-5' })
    const cached: Usage = { ...usage(1_000, 0), prompt_tokens_details: { cached_tokens: 1_000 } }
    expect(computeCost('anthropic', 'claude-sonnet-4-5', cached, ctx).cost).toBeCloseTo(1e-5, 12)
    expect(computeCost('anthropic', 'claude-sonnet-4-5', usage(300_000, 0), ctx).cost).toBeCloseTo(3, 10)
  })

  it('ignores zero fields and a patch with no token price, as Bifrost does', () => {
    const zero = new PricingOverrides([
      override({ patch: { input_cost_per_token: 0, output_cost_per_image: 0.04 } }),
    ])
    const r = computeCost(
      'openai',
      'gpt-4o',
      usage(1_000, 0),
      zero.context({ provider: 'openai', model: 'gpt-4o' }),
    )
    expect(r.cost).toBeCloseTo(1_000 * pm(2.5), 12)
    expect(r.override_id).toBeUndefined()
    const unknown = computeCost('x', 'y', usage(1, 1), zero.context({ provider: 'x', model: 'y' }))
    expect(unknown.priced).toBe(false)
  })
})

describe('applyPricingPatch', () => {
  it('lays positive fields over the price and leaves the original alone', () => {
    const base = { input_cost_per_token: 1, output_cost_per_token: 2 }
    expect(applyPricingPatch(base, { output_cost_per_token: 5, input_cost_per_token: null })).toEqual({
      input_cost_per_token: 1,
      output_cost_per_token: 5,
    })
    expect(base.output_cost_per_token).toBe(2)
  })
})

describe('PricingOverrides bookkeeping and validation', () => {
  it('decodes pricing_patch as stored (JSON text)', () => {
    const table = new PricingOverrides([
      override({ id: 'stored', patch: undefined, pricing_patch: '{"output_cost_per_token":0.00002}' }),
    ])
    expect(table.get('stored')?.patch).toEqual({ output_cost_per_token: 0.00002 })
  })

  it('replaces by id and deletes', () => {
    const table = new PricingOverrides()
    table.set(override({ id: 'a' }, 1e-6))
    table.set(override({ id: 'a' }, 2e-6))
    expect(table.size).toBe(1)
    expect(table.list()[0].patch).toEqual({ input_cost_per_token: 2e-6 })
    expect(table.delete('a')).toBe(true)
    expect(table.delete('a')).toBe(false)
  })

  it('keeps the previous overrides when replaceAll meets a bad one', () => {
    const table = new PricingOverrides([override({ id: 'keep' })])
    expect(() => table.replaceAll([override({ id: 'new' }), override({ scope_kind: 'provider' })])).toThrow(
      GatewayError,
    )
    expect(table.list().map((o) => o.id)).toEqual(['keep'])
  })

  it.each([
    [{ scope_kind: 'virtual_key' as const }, 'virtual_key_id'],
    [{ scope_kind: 'provider' as const }, 'provider_id'],
    [{ scope_kind: 'provider_key' as const }, 'provider_key_id'],
    [{ scope_kind: 'virtual_key_provider' as const, virtual_key_id: 'v' }, 'provider_id'],
    [{ scope_kind: 'virtual_key_provider_key' as const, virtual_key_id: 'v' }, 'provider_key_id'],
    [{ scope_kind: 'team' as never }, 'scope_kind'],
    [{ match_type: 'regex' as never }, 'match_type'],
    [{ pattern: ' ' }, 'pattern'],
    [{ id: '' }, 'id'],
    [{ request_types: 'chat_completion' as never }, 'request_types'],
    [{ patch: undefined, pricing_patch: '{oops' }, 'pricing_patch'],
    [{ patch: { input_cost_per_token: -1 } }, 'patch.input_cost_per_token'],
    [{ patch: { input_cost_per_token: '1' as never } }, 'patch.input_cost_per_token'],
    [{ patch: [] as never }, 'patch'],
  ])('refuses %j with a 400 naming %s', (fields, param) => {
    const err = thrownGatewayError(() => new PricingOverrides([override(fields)]))
    expect(err.code).toBe('invalid_request')
    expect(err.param).toBe(param)
  })
})
