import { describe, expect, it } from 'vitest'
import { normalizeProvider } from '../config.js'
import { GatewayError } from '../errors.js'
import type { ProviderConfig } from '../schemas/index.js'
import { HealthTracker } from './health.js'

const key = {
  id: 'k',
  name: 'k',
  value: 'sk',
  models: ['*'],
  blacklisted_models: [],
  weight: 1,
  enabled: true,
}
const fail500 = new GatewayError('upstream_error', 'injected', { status: 500 })

function provider(breaker: ProviderConfig['circuit_breaker']): ProviderConfig {
  return {
    name: 'openai',
    keys: [key],
    network_config: {},
    concurrency_and_buffer_size: { concurrency: 1, buffer_size: 1 },
    circuit_breaker: breaker,
  }
}

describe('HealthTracker', () => {
  it('opens on the error rate over the window, and forgets failures that left the window', () => {
    let now = 1_000_000
    const health = new HealthTracker(() => now)
    const cfg = provider({ enabled: true, failure_threshold: 100, min_requests: 4, window_seconds: 10 })
    health.failure(cfg, key, 'm', fail500)
    health.failure(cfg, key, 'm', fail500)
    // The window moves on: those two failures are gone.
    now += 11_000
    health.success(cfg, key, 'm', 100)
    health.success(cfg, key, 'm', 100)
    health.failure(cfg, key, 'm', fail500)
    expect(health.snapshot()[0].targets[0]).toMatchObject({ circuit: 'closed', requests: 3, errors: 1 })
    health.failure(cfg, key, 'm', fail500)
    const t = health.snapshot()[0].targets[0]
    expect(t).toMatchObject({ circuit: 'open', requests: 4, errors: 2 })
    expect(t.reason).toContain('2 of the last 4 requests failed')
  })

  it("ignores the caller's mistakes and its own refusals", () => {
    const health = new HealthTracker()
    const cfg = provider({ enabled: true, failure_threshold: 1 })
    health.failure(cfg, key, 'm', new GatewayError('invalid_request', 'bad', { status: 400 }))
    health.failure(cfg, key, 'm', new GatewayError('queue_full', 'busy'))
    expect(health.snapshot()).toEqual([])
  })

  it('holds a target out for its Retry-After, then lets one probe through', () => {
    let now = 5_000_000
    const health = new HealthTracker(() => now)
    const cfg = provider({ enabled: true })
    health.failure(
      cfg,
      key,
      'm',
      new GatewayError('rate_limited', 'slow down', { status: 429, retryAfterMs: 2000 }),
    )
    const view = health.view(cfg, 'm')!
    expect(view.exclude(new Set()).has('k')).toBe(true)
    expect(() => {
      throw view.refusal()
    }).toThrow(/Retry-After 2s/)
    now += 2001
    const probe = health.view(cfg, 'm')!
    expect(probe.exclude(new Set()).has('k')).toBe(false)
    probe.claim(key)
    // While the probe is out, no other request goes there.
    expect(health.view(cfg, 'm')!.exclude(new Set()).has('k')).toBe(true)
    health.success(cfg, key, 'm', 50)
    expect(health.snapshot()[0].targets[0].circuit).toBe('closed')
  })
})

describe('resilience settings', () => {
  it('refuses a wrong value or an unknown member, naming it', () => {
    const bad = (input: Record<string, unknown>) => {
      try {
        normalizeProvider('openai', input)
      } catch (err) {
        return err as GatewayError
      }
      throw new Error('accepted')
    }
    expect(bad({ circuit_breaker: { min_requests: 0 } }).param).toBe('circuit_breaker.min_requests')
    expect(bad({ adaptive_load_balancing: { minimum: 1 } }).message).toContain('adaptive_load_balancing')
    expect(normalizeProvider('openai', { circuit_breaker: { enabled: true } }).circuit_breaker).toEqual({
      enabled: true,
    })
  })
})
