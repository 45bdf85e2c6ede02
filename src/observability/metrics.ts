import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import { BoundCounter, BoundHistogram } from './bound-series.js'
import { registerHealthGauges } from './health-metrics.js'
import { overheadNs, type GatewayContext, type GatewayHook } from '../core/context.js'
import { ERRORS, type ErrorCode } from '../core/errors.js'
import type { Pricing } from '../core/pricing.js'
import type { ObservabilityDeps, ObservabilityPart } from './index.js'
import type { LogQueueStats } from './logs/index.js'

/**
 * config.json's `plugins` entry named `telemetry` (Bifrost's Prometheus plugin). Labels stay
 * bounded unless asked: per-key and per-team series multiply with every key a deployment creates.
 */
export interface TelemetryConfig {
  /** Serve /metrics; default true. */
  metrics_enabled?: boolean
  /** Adds a `virtual_key` label (the key's id) to the request and token series. */
  virtual_key_labels?: boolean
  /** Adds a `team` label (the key's team id) to the request and token series. */
  team_labels?: boolean
}

/** The `config` of the enabled `plugins` entry with this name, if any. */
export function pluginConfig(
  config: ObservabilityDeps['config'],
  name: string,
): Record<string, unknown> | undefined {
  const entry = (config.plugins ?? []).find((p) => p.name === name)
  if (!entry || entry.enabled === false) return undefined
  return entry.config ?? {}
}

/** Governance decisions counted as rejections (rate limits, budgets, blocked keys ...). */
const GOVERNANCE_CODES = new Set<ErrorCode>([
  'virtual_key_required',
  'virtual_key_not_found',
  'virtual_key_blocked',
  'provider_blocked',
  'model_blocked',
  'budget_exceeded',
  'rate_limited',
  'request_limited',
  'token_limited',
])

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60, 120, 300, 600]
const TTFT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300]
const OVERHEAD_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]

const OTHER = 'other'

/** Folds provider and model names into a bounded set: what is priced or configured, else `other`. */
class LabelFolding {
  private readonly providers: Set<string>
  private readonly models = new Set<string>()

  constructor(
    config: ObservabilityDeps['config'],
    private readonly isBuiltinProvider: (name: string) => boolean,
    private readonly pricing: Pricing,
  ) {
    this.providers = new Set(pricing.providers)
    for (const [name, provider] of Object.entries(config.providers ?? {})) {
      this.providers.add(name)
      const keys = (provider as { keys?: unknown }).keys
      if (!Array.isArray(keys)) continue
      for (const key of keys as { models?: unknown }[]) {
        if (!Array.isArray(key?.models)) continue
        for (const m of key.models) if (typeof m === 'string' && !m.includes('*')) this.models.add(m)
      }
    }
  }

  provider(ctx: GatewayContext, name: string | undefined): string {
    if (!name) return 'none'
    // A provider an attempt went to is configured (the registry had it).
    if (
      this.providers.has(name) ||
      this.isBuiltinProvider(name) ||
      ctx.attemptLog.some((a) => a.provider === name)
    )
      return name
    return OTHER
  }

  model(provider: string | undefined, name: string | undefined): string {
    if (!name) return 'none'
    if (this.models.has(name)) return name
    // The pricing table's name, snapshots and aliases folded into their model.
    return (provider && this.pricing.pricedModel(provider, name)) || OTHER
  }
}

function statusClass(ctx: GatewayContext): string {
  if (!ctx.error) return '2xx'
  return `${Math.floor(ctx.error.status / 100)}xx`
}

const seconds = (ns: bigint) => Number(ns) / 1e9

type LabelsOf = () => Record<string, string>

/** The series keys (label values joined) of a request's labels, and their label sets for a series' first use. */
interface RequestKeys {
  provider: string
  model: string
  route: string
  status: string
  whoKey: string
  pm: string
  pmrs: string
  pmrsw: string
  pmw: string
  pmLabels: LabelsOf
  pmrsLabels: LabelsOf
  pmrswLabels: LabelsOf
  pmwLabels: LabelsOf
  routeLabels: LabelsOf
}

/** The same for an upstream attempt (`model` is '' when the attempt has no latency). */
interface AttemptKeys {
  provider: string
  model: string
  outcome: string
  po: string
  pmo: string
  poLabels: LabelsOf
  pmoLabels: LabelsOf
}

export interface Metrics extends ObservabilityPart {
  /** The Prometheus text that `GET /metrics` serves (src/http registers the route); absent when metrics are off. */
  scrape?(): Promise<{ contentType: string; text: string }>
}

/**
 * Prometheus metrics for `GET /metrics`, in a registry of this instance's own. Everything is
 * measured once per request, at its end, from what the gateway context holds.
 */
export function createMetrics(deps: ObservabilityDeps, sources: { logQueue: () => LogQueueStats }): Metrics {
  const settings = (pluginConfig(deps.config, 'telemetry') ?? {}) as TelemetryConfig
  if (settings.metrics_enabled === false) return { close: async () => undefined }

  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const folding = new LabelFolding(deps.config, deps.isBuiltinProvider, deps.pricing)
  const extra = [
    ...(settings.virtual_key_labels === true ? ['virtual_key'] : []),
    ...(settings.team_labels === true ? ['team'] : []),
  ]
  const registers = [registry]

  const requests = new Counter({
    name: 'heimdall_requests_total',
    help: 'Requests that reached the gateway pipeline, by provider, model, route and status class.',
    labelNames: ['provider', 'model', 'route', 'status_class', ...extra],
    registers,
  })
  const errors = new Counter({
    name: 'heimdall_errors_total',
    help: 'Requests that ended in an error, by error code (src/core/errors.ts) and provider.',
    labelNames: ['code', 'provider'],
    registers,
  })
  const duration = new Histogram({
    name: 'heimdall_request_duration_seconds',
    help: 'Time from arrival to the end of the response (the last byte of a stream).',
    labelNames: ['provider', 'model', 'route', 'status_class'],
    buckets: LATENCY_BUCKETS,
    registers,
  })
  const ttft = new Histogram({
    name: 'heimdall_time_to_first_token_seconds',
    help: 'Streams: time from arrival to the first event from the provider.',
    labelNames: ['provider', 'model'],
    buckets: TTFT_BUCKETS,
    registers,
  })
  const overhead = new Histogram({
    name: 'heimdall_overhead_seconds',
    help: "The gateway's own time per request: its duration minus the time spent waiting on providers.",
    labelNames: ['route'],
    buckets: OVERHEAD_BUCKETS,
    registers,
  })
  const upstreamLatency = new Histogram({
    name: 'heimdall_upstream_latency_seconds',
    help: 'Duration of each upstream attempt (to the response headers; streams to their first event).',
    labelNames: ['provider', 'model', 'outcome'],
    buckets: LATENCY_BUCKETS,
    registers,
  })
  const attempts = new Counter({
    name: 'heimdall_upstream_attempts_total',
    help: 'Calls made to providers, retries and fallbacks included.',
    labelNames: ['provider', 'outcome'],
    registers,
  })
  const retries = new Counter({
    name: 'heimdall_retries_total',
    help: 'Attempts after the first on the same target (another try, or another key).',
    labelNames: ['provider'],
    registers,
  })
  const fallbacks = new Counter({
    name: 'heimdall_fallbacks_total',
    help: 'Fallback targets tried, by the fallback provider.',
    labelNames: ['provider'],
    registers,
  })
  const inputTokens = new Counter({
    name: 'heimdall_input_tokens_total',
    help: 'Prompt tokens, as the provider reported them (or as estimated).',
    labelNames: ['provider', 'model', ...extra],
    registers,
  })
  const outputTokens = new Counter({
    name: 'heimdall_output_tokens_total',
    help: 'Completion tokens, as the provider reported them (or as estimated).',
    labelNames: ['provider', 'model', ...extra],
    registers,
  })
  const cost = new Counter({
    name: 'heimdall_cost_usd_total',
    help: 'Cost in US dollars, as governance priced it.',
    labelNames: ['provider', 'model', ...extra],
    registers,
  })
  const cacheHits = new Counter({
    name: 'heimdall_cache_hits_total',
    help: 'Requests answered by the response cache (semantic_cache plugin), by hit type (direct, semantic).',
    labelNames: ['hit_type'],
    registers,
  })
  const rejections = new Counter({
    name: 'heimdall_governance_rejections_total',
    help: 'Requests refused by governance, by decision (rate_limited, request_limited, token_limited, budget_exceeded ...).',
    labelNames: ['reason'],
    registers,
  })
  new Gauge({
    name: 'heimdall_log_queue_depth',
    help: 'Request log entries waiting to be written.',
    registers,
    collect() {
      this.set(sources.logQueue().depth)
    },
  })
  new Counter({
    name: 'heimdall_log_queue_dropped_total',
    help: 'Request log entries dropped because the queue was full.',
    registers,
    collect() {
      this.reset()
      this.inc(sources.logQueue().dropped)
    },
  })

  if (deps.providerHealth) registerHealthGauges(registers, deps.providerHealth)

  function governanceLabels(ctx: GatewayContext): Record<string, string> {
    const vk = ctx.facts.virtualKey
    const labels: Record<string, string> = {}
    if (settings.virtual_key_labels === true) labels.virtual_key = vk?.id ?? 'none'
    if (settings.team_labels === true) labels.team = vk?.team_id ?? 'none'
    return labels
  }

  // Each series is named by its label values joined with \u0001 (no label value holds it), so a
  // request's increments skip prom-client's per-call label hashing (bound-series.ts).
  const S = '\u0001'
  const bound = {
    requests: new BoundCounter(requests),
    errors: new BoundCounter(errors),
    rejections: new BoundCounter(rejections),
    cacheHits: new BoundCounter(cacheHits),
    attempts: new BoundCounter(attempts),
    retries: new BoundCounter(retries),
    fallbacks: new BoundCounter(fallbacks),
    inputTokens: new BoundCounter(inputTokens),
    outputTokens: new BoundCounter(outputTokens),
    cost: new BoundCounter(cost),
    duration: new BoundHistogram(duration, LATENCY_BUCKETS),
    ttft: new BoundHistogram(ttft, TTFT_BUCKETS),
    overhead: new BoundHistogram(overhead, OVERHEAD_BUCKETS),
    upstreamLatency: new BoundHistogram(upstreamLatency, LATENCY_BUCKETS),
  }
  const none: Record<string, string> = {}

  // A request's series keys, kept for the next request with the same labels (nearly always, under
  // load): its keys are the same strings, their hashes computed once, and no label closure is made.
  let lastRequest: RequestKeys | undefined
  const requestKeys = (
    provider: string,
    model: string,
    route: string,
    status: string,
    whoKey: string,
    who: Record<string, string>,
  ): RequestKeys => {
    const l = lastRequest
    if (
      l &&
      l.provider === provider &&
      l.model === model &&
      l.route === route &&
      l.status === status &&
      l.whoKey === whoKey
    )
      return l
    const pm = `${provider}${S}${model}`
    const pmrs = `${pm}${S}${route}${S}${status}`
    return (lastRequest = {
      provider,
      model,
      route,
      status,
      whoKey,
      pm,
      pmrs,
      pmrsw: pmrs + whoKey,
      pmw: pm + whoKey,
      pmLabels: () => ({ provider, model }),
      pmrsLabels: () => ({ provider, model, route, status_class: status }),
      pmrswLabels: () => ({ provider, model, route, status_class: status, ...who }),
      pmwLabels: () => ({ provider, model, ...who }),
      routeLabels: () => ({ route }),
    })
  }
  let lastAttempt: AttemptKeys | undefined
  const attemptKeys = (provider: string, model: string, outcome: string): AttemptKeys => {
    const l = lastAttempt
    if (l && l.provider === provider && l.model === model && l.outcome === outcome) return l
    return (lastAttempt = {
      provider,
      model,
      outcome,
      po: `${provider}${S}${outcome}`,
      pmo: `${provider}${S}${model}${S}${outcome}`,
      poLabels: () => ({ provider, outcome }),
      pmoLabels: () => ({ provider, model, outcome }),
    })
  }

  const hook: GatewayHook = {
    name: 'metrics',
    onEnd(ctx) {
      const end = process.hrtime.bigint()
      const provider = folding.provider(ctx, ctx.provider)
      const model = folding.model(ctx.provider, ctx.model ?? ctx.modelRequested)
      const route = ctx.route ?? OTHER
      const status = statusClass(ctx)
      const who = extra.length === 0 ? none : governanceLabels(ctx)
      const whoKey = extra.length === 0 ? '' : `${S}${who.virtual_key ?? ''}${S}${who.team ?? ''}`
      const k = requestKeys(provider, model, route, status, whoKey, who)
      bound.requests.inc(k.pmrsw, k.pmrswLabels)
      bound.duration.observe(k.pmrs, k.pmrsLabels, seconds(end - ctx.startNs))
      bound.overhead.observe(route, k.routeLabels, seconds(overheadNs(ctx, end)))
      if (ctx.error) {
        const code = ctx.error.code in ERRORS ? ctx.error.code : 'internal'
        bound.errors.inc(`${code}${S}${provider}`, () => ({ code, provider }))
        if (GOVERNANCE_CODES.has(code)) bound.rejections.inc(code, () => ({ reason: code }))
      }
      if (ctx.facts.cacheDebug?.cache_hit && !ctx.error) {
        const hitType = ctx.facts.cacheDebug.hit_type ?? 'direct'
        bound.cacheHits.inc(hitType, () => ({ hit_type: hitType }))
      }
      if (ctx.firstChunkNs !== undefined)
        bound.ttft.observe(k.pm, k.pmLabels, seconds(ctx.firstChunkNs - ctx.startNs))

      let previous: { provider: string; fallbackIndex: number } | undefined
      for (const a of ctx.attemptLog) {
        const p = folding.provider(ctx, a.provider)
        const outcome = a.error ? 'error' : 'success'
        const pk = attemptKeys(p, a.endNs === undefined ? '' : folding.model(a.provider, a.model), outcome)
        bound.attempts.inc(pk.po, pk.poLabels)
        if (a.endNs !== undefined)
          bound.upstreamLatency.observe(pk.pmo, pk.pmoLabels, seconds(a.endNs - a.startNs))
        if (previous && previous.fallbackIndex === a.fallbackIndex)
          bound.retries.inc(p, () => ({ provider: p }))
        else if (a.fallbackIndex > 0) bound.fallbacks.inc(p, () => ({ provider: p }))
        previous = a
      }

      const usage = ctx.usage ?? ctx.result?.usage
      if (usage) {
        if (usage.prompt_tokens > 0) bound.inputTokens.inc(k.pmw, k.pmwLabels, usage.prompt_tokens)
        if (usage.completion_tokens > 0) bound.outputTokens.inc(k.pmw, k.pmwLabels, usage.completion_tokens)
      }
      const priced = ctx.facts.cost
      if (priced?.cost !== undefined && priced.cost > 0) bound.cost.inc(k.pmw, k.pmwLabels, priced.cost)
    },
  }

  return {
    hook,
    scrape: async () => ({ contentType: registry.contentType, text: await registry.metrics() }),
    close: async () => registry.clear(),
  }
}
