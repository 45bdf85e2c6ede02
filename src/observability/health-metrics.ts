import { Gauge, type Registry } from 'prom-client'
import type { TargetHealthView } from '../core/router/health.js'

/** The tracked targets of each provider, as the gateway's health tracker shows them. */
export type HealthSource = () => { provider: string; targets: TargetHealthView[] }[]

const CIRCUIT = { closed: 0, half_open: 1, open: 2 } as const

/**
 * Provider health gauges per (provider, key, model) target, read from the tracker at each scrape:
 * circuit state (0 closed, 1 half-open, 2 open), error rate and latency over the window, and the
 * share of its configured weight adaptive load balancing gives it.
 */
export function registerHealthGauges(registers: Registry[], source: HealthSource): void {
  const labelNames = ['provider', 'key', 'model']
  const gauge = (name: string, help: string, value: (t: TargetHealthView) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers,
      collect() {
        this.reset()
        for (const p of source()) {
          for (const t of p.targets) {
            const v = value(t)
            if (v !== null) this.set({ provider: p.provider, key: t.key_name, model: t.model }, v)
          }
        }
      },
    })
  gauge(
    'heimdall_provider_circuit_state',
    'Circuit of each provider key and model: 0 closed, 1 half-open, 2 open.',
    (t) => CIRCUIT[t.circuit],
  )
  gauge(
    'heimdall_provider_error_rate',
    'Share of failed requests of each provider key and model over its health window.',
    (t) => t.error_rate,
  )
  gauge(
    'heimdall_provider_latency_ms',
    'Running average latency (to the first byte for streams) of each provider key and model, in milliseconds.',
    (t) => t.latency_ms_ewma,
  )
  gauge(
    'heimdall_provider_weight_ratio',
    'Share of its configured weight adaptive load balancing gives each provider key and model (1: all of it).',
    (t) => t.weight_ratio,
  )
}
