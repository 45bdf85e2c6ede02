import { Counter, Histogram, Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { BoundCounter, BoundHistogram } from '../src/observability/bound-series.js'

const BUCKETS = [0.001, 0.01, 0.1, 1]

function metricsOf(registry: Registry) {
  const counter = new Counter({
    name: 't_requests_total',
    help: 'h',
    labelNames: ['provider', 'status'],
    registers: [registry],
  })
  const histogram = new Histogram({
    name: 't_duration_seconds',
    help: 'h',
    labelNames: ['provider'],
    buckets: BUCKETS,
    registers: [registry],
  })
  return { counter, histogram }
}

const events: [string, string, number][] = [
  ['openai', '2xx', 0.0005],
  ['openai', '2xx', 0.02],
  ['anthropic', '5xx', 3],
  ['openai', '4xx', 0.01],
  ['openai', '2xx', 0.5],
  ['anthropic', '5xx', 0.001],
]

describe('bound metric series', () => {
  it('serves the same /metrics text as prom-client updated label by label, across a reset', async () => {
    const plain = new Registry()
    const viaPublic = metricsOf(plain)
    const fast = new Registry()
    const m = metricsOf(fast)
    const counter = new BoundCounter(m.counter)
    const histogram = new BoundHistogram(m.histogram, BUCKETS)

    const play = () => {
      for (const [provider, status, v] of events) {
        viaPublic.counter.inc({ provider, status }, 2)
        viaPublic.histogram.observe({ provider }, v)
        counter.inc(`${provider}\u0001${status}`, () => ({ provider, status }), 2)
        histogram.observe(provider, () => ({ provider }), v)
      }
    }
    play()
    play()
    const text = await fast.metrics()
    expect(text).toBe(await plain.metrics())
    expect(text).toContain('t_requests_total{provider="openai",status="2xx"} 12')
    expect(text).toContain('t_duration_seconds_bucket{le="0.01",provider="anthropic"} 2')
    expect(text).toContain('t_duration_seconds_count{provider="anthropic"} 4')

    // After a reset the series start again from nothing, as prom-client's own do.
    m.counter.reset()
    m.histogram.reset()
    viaPublic.counter.reset()
    viaPublic.histogram.reset()
    play()
    expect(await fast.metrics()).toBe(await plain.metrics())
    expect(await fast.metrics()).toContain('t_requests_total{provider="openai",status="2xx"} 6')
  })
})
