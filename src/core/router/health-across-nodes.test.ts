import { describe, expect, it } from 'vitest'
import { GatewayError } from '../errors.js'
import type { ProviderConfig } from '../schemas/index.js'
import { keysWithIds, openaiProviderOf } from '../../../test/helpers/provider-keys.js'
import { HealthTracker } from './health.js'

/** Two nodes' trackers exchanging their windows by hand, as the change bus does every 300 ms. */

const keys = keysWithIds(['a', 'b'])
const fail500 = new GatewayError('upstream_error', 'injected', { status: 500 })

const provider = (extra: Partial<ProviderConfig>) => openaiProviderOf(keys, extra)

function exchange(from: HealthTracker, to: HealthTracker, cfg: ProviderConfig): void {
  for (const w of from.windows()) to.mergeWindow(from.node, w, cfg)
}

describe('health held across nodes', () => {
  it("opens on the error rate of both nodes' requests, which neither reaches alone", () => {
    const now = 1_000_000
    const cfg = provider({
      circuit_breaker: { enabled: true, failure_threshold: 100, min_requests: 6, window_seconds: 10 },
    })
    const a = new HealthTracker(() => now)
    const b = new HealthTracker(() => now)
    for (let i = 0; i < 3; i++) a.failure(cfg, keys[0], 'm', fail500)
    b.success(cfg, keys[0], 'm', 100)
    b.success(cfg, keys[0], 'm', 100)
    // Alone, a has 3 requests (below min_requests): closed.
    expect(a.snapshot()[0].targets[0].circuit).toBe('closed')
    exchange(a, b, cfg)
    exchange(b, a, cfg)
    expect(a.snapshot()[0].targets[0]).toMatchObject({ requests: 5, errors: 3, nodes: 2 })
    // The next failure, on b, makes 4 of 6 across both nodes.
    b.failure(cfg, keys[0], 'm', fail500)
    const t = b.snapshot()[0].targets[0]
    expect(t.circuit).toBe('open')
    expect(t.reason).toContain('4 of the last 6 requests failed')
    // Nothing new: nothing to publish.
    expect(a.windows()).toEqual([])
  })

  it('counts consecutive failures of every node, and forgets a node that stopped publishing', () => {
    let now = 2_000_000
    const cfg = provider({ circuit_breaker: { enabled: true, failure_threshold: 3, window_seconds: 10 } })
    const a = new HealthTracker(() => now)
    const b = new HealthTracker(() => now)
    const c = new HealthTracker(() => now)
    c.success(cfg, keys[1], 'm', 50)
    a.failure(cfg, keys[1], 'm', fail500)
    a.failure(cfg, keys[1], 'm', fail500)
    // One publication reaches every other node.
    const published = a.windows()
    for (const w of published) for (const to of [b, c]) to.mergeWindow(a.node, w, cfg)
    // b's own first failure is the third in a row.
    b.failure(cfg, keys[1], 'm', fail500)
    expect(b.snapshot()[0].targets[0]).toMatchObject({ circuit: 'open', consecutive_failures: 3 })

    expect(c.snapshot()[0].targets[0]).toMatchObject({ nodes: 2, errors: 2 })
    // a says nothing for a whole window: c goes by its own view again.
    now += 10_001
    expect(c.snapshot()[0].targets[0]).toMatchObject({ nodes: 1, errors: 0 })
  })

  it("weighs keys by every node's latency", () => {
    let now = 3_000_000
    const cfg = provider({ adaptive_load_balancing: { enabled: true, recompute_seconds: 1 } })
    const a = new HealthTracker(() => now)
    const b = new HealthTracker(() => now)
    // a saw key a slow; b has only seen key b, fast.
    for (let i = 0; i < 5; i++) a.success(cfg, keys[0], 'm', 2000)
    for (let i = 0; i < 5; i++) b.success(cfg, keys[1], 'm', 100)
    exchange(a, b, cfg)
    now += 1001
    const view = b.view(cfg, 'm')!
    expect(view.weightOf!(keys[0])).toBeLessThan(0.2)
    expect(view.weightOf!(keys[1])).toBe(1)
  })

  it('resets circuits by provider, key or model, and forgets their failures', () => {
    const cfg = provider({ circuit_breaker: { enabled: true, failure_threshold: 1, open_seconds: 60 } })
    const h = new HealthTracker()
    h.failure(cfg, keys[0], 'm1', fail500)
    h.failure(cfg, keys[0], 'm2', fail500)
    h.failure(cfg, keys[1], 'm1', fail500)
    expect(h.openCircuits()).toHaveLength(3)
    expect(h.reset('openai', 'a', 'm1')).toBe(1)
    expect(h.openCircuits().map((t) => `${t.keyId}/${t.model}`)).toEqual(['a/m2', 'b/m1'])
    expect(h.reset('openai')).toBe(2)
    expect(h.openCircuits()).toEqual([])
    expect(h.snapshot()[0].targets.every((t) => t.errors === 0 && t.reason === null)).toBe(true)
    // The pick sees every key again.
    expect(h.view(cfg, 'm1')?.exclude(new Set()).size ?? 0).toBe(0)
  })
})
