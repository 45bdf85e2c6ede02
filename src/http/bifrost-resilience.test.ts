import { describe, expect, it } from 'vitest'
import { acceptResilience } from './bifrost-resilience.js'

function accept(config: Record<string, unknown>) {
  const warnings: { section: string; message: string }[] = []
  const providers = acceptResilience(
    config,
    config.providers as Record<string, unknown> | undefined,
    (section, message) => warnings.push({ section, message }),
  )
  return { providers: providers as Record<string, any>, warnings }
}

const providers = () => ({ openai: { keys: [] }, groq: { keys: [], circuit_breaker: { enabled: false } } })

describe("Bifrost's resilience sections onto providers' settings", () => {
  it('keeps the longest cooldown of the policies naming a provider, and a provider’s own breaker', () => {
    const { providers: out, warnings } = accept({
      providers: providers(),
      circuit_breaker_config: {
        policies: [
          { name: 'a', primary_provider: 'openai', default_cooldown: '10s' },
          { name: 'b', primary_provider: 'openai', default_cooldown: '2m' },
          { name: 'c', primary_provider: 'openai', default_cooldown: '5m', enabled: false },
          { name: 'd', primary_provider: 'groq', default_cooldown: '1m' },
          { name: 'e', primary_provider: 'openai', default_cooldown: 'soon' },
        ],
      },
    })
    expect(out.openai.circuit_breaker).toEqual({ enabled: true, open_seconds: 120 })
    expect(out.groq.circuit_breaker).toEqual({ enabled: false })
    expect(warnings.map((w) => w.section)).toEqual([
      'circuit_breaker_config.policies.3',
      'circuit_breaker_config.policies.4.default_cooldown',
    ])
    expect(warnings[0].message).toContain('its own circuit_breaker')
  })

  it('turns adaptive balancing on unless both selections are off, naming what it does not apply', () => {
    const on = accept({
      providers: providers(),
      load_balancer_config: { enabled: true, route_selection_enabled: false, bootstrap: {}, extra: 1 },
    })
    expect(on.providers.openai.adaptive_load_balancing).toEqual({ enabled: true })
    const messages = on.warnings.map((w) => w.message).join('\n')
    expect(messages).toContain('extra: not Bifrost fields')
    expect(messages).toContain('route_selection_enabled and direction_selection_enabled')
    expect(messages).toContain('bootstrap not applied')

    const off = accept({
      providers: providers(),
      load_balancer_config: {
        enabled: true,
        route_selection_enabled: false,
        direction_selection_enabled: false,
      },
    })
    expect(off.providers.openai.adaptive_load_balancing).toBeUndefined()
    expect(accept({ providers: providers(), load_balancer_config: { enabled: false } }).warnings).toEqual([])
    expect(accept({ load_balancer_config: { enabled: true } }).warnings[0].message).toContain(
      'no provider in config.json',
    )
  })
})
