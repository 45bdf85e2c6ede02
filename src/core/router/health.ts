import { GatewayError } from '../errors.js'
import type { ProviderConfig, ProviderKey } from '../schemas/index.js'
import { TargetHealth, type Failure, type WindowSums } from './target-health.js'

export { speedRatio, TargetHealth, type Failure, type WindowSums } from './target-health.js'

/** A provider's health settings with defaults applied. */
export interface HealthSettings {
  windowMs: number
  breaker:
    | {
        failureThreshold: number
        errorRateThreshold: number
        minRequests: number
        openMs: number
        halfOpenProbes: number
      }
    | undefined
  adaptive: { minWeightRatio: number; recomputeMs: number } | undefined
}

export const DEFAULT_CIRCUIT_BREAKER = {
  failure_threshold: 5,
  error_rate_threshold: 0.5,
  min_requests: 10,
  window_seconds: 30,
  open_seconds: 30,
  half_open_probes: 1,
} as const

export const DEFAULT_ADAPTIVE = { min_weight_ratio: 0.1, recompute_seconds: 5 } as const

export function healthSettings(cfg: ProviderConfig): HealthSettings {
  const b = cfg.circuit_breaker
  const a = cfg.adaptive_load_balancing
  const d = DEFAULT_CIRCUIT_BREAKER
  return {
    windowMs: (b?.window_seconds ?? d.window_seconds) * 1000,
    breaker:
      b?.enabled === true
        ? {
            failureThreshold: b.failure_threshold ?? d.failure_threshold,
            errorRateThreshold: b.error_rate_threshold ?? d.error_rate_threshold,
            minRequests: b.min_requests ?? d.min_requests,
            openMs: (b.open_seconds ?? d.open_seconds) * 1000,
            halfOpenProbes: b.half_open_probes ?? d.half_open_probes,
          }
        : undefined,
    adaptive:
      a?.enabled === true
        ? {
            minWeightRatio: a.min_weight_ratio ?? DEFAULT_ADAPTIVE.min_weight_ratio,
            recomputeMs: (a.recompute_seconds ?? DEFAULT_ADAPTIVE.recompute_seconds) * 1000,
          }
        : undefined,
  }
}

/** One node's window of one target, as published to the other nodes. */
export interface TargetWindow extends WindowSums {
  provider: string
  keyId: string
  keyName: string
  model: string
}

/** A change of a target's circuit, as told to the other nodes. */
export interface CircuitTransition {
  provider: string
  keyId: string
  keyName: string
  model: string
  state: 'open' | 'closed'
  /** Epoch ms; for `open`. */
  openUntil?: number
  reason: string
  node: string
}

export type HealthStatus = 'healthy' | 'degraded' | 'unhealthy' | 'recovering' | 'idle'

/** One (key, model) target as the health API and /metrics show it. */
export interface TargetHealthView {
  key_id: string
  key_name: string
  model: string
  status: HealthStatus
  circuit: 'closed' | 'open' | 'half_open'
  requests: number
  errors: number
  rate_limited: number
  timeouts: number
  error_rate: number
  latency_ms_avg: number | null
  latency_ms_ewma: number | null
  consecutive_failures: number
  /** Nodes whose results the figures include (1: this node's alone). */
  nodes: number
  weight_ratio: number
  open_until: string | null
  last_error: string | null
  reason: string | null
}

/**
 * The targets of one provider and model that a request may use, seen once per key pick: which are
 * open, their adaptive weights, and the claim of a half-open target's probe.
 */
export interface PickView {
  /** `dead` plus the keys whose circuit is open (or whose probe is already out). */
  exclude(dead: ReadonlySet<string>): ReadonlySet<string>
  /** Weights scaled by observed latency and errors; undefined when adaptive balancing is off. */
  weightOf: ((k: ProviderKey) => number) | undefined
  /** Marks the chosen key's probe as sent when its circuit is half-open. */
  claim(key: ProviderKey): void
  /** The refusal when every key that could serve is open. */
  refusal(): GatewayError
}

interface ProviderEntry {
  config: ProviderConfig
  settings: HealthSettings
  /** keyId -> model -> target */
  targets: Map<string, Map<string, TargetHealth>>
  /** Targets whose circuit is not closed: none means picks need not look. */
  unavailable: number
  /** One reusable pick view per model. */
  views: Map<string, ModelView>
  /** Bumped whenever a circuit that is not closed changes (state, probe): cached exclusions expire. */
  version: number
  /** Targets tracked, at most MAX_TARGETS_PER_PROVIDER. */
  size: number
}

const MAX_TARGETS_PER_PROVIDER = 10_000

/** The targets of one provider and model, as key picks see them; reused, so a pick allocates nothing. */
class ModelView implements PickView {
  readonly byKey = new Map<string, TargetHealth>()
  now = 0

  constructor(
    private readonly entry: ProviderEntry,
    private readonly model: string,
    private readonly refuse: (entry: ProviderEntry, model: string, now: number) => GatewayError,
  ) {}

  get weightOf(): ((k: ProviderKey) => number) | undefined {
    return this.entry.settings.adaptive ? this.adaptiveWeight : undefined
  }

  private readonly adaptiveWeight = (k: ProviderKey): number =>
    k.weight * (this.byKey.get(k.id)?.weightRatio ?? 1)

  /** The open keys, kept until a circuit changes or the first of them may take a probe. */
  private excluded: Set<string> | undefined
  private excludedVersion = -1
  private excludedUntil = 0

  exclude(dead: ReadonlySet<string>): ReadonlySet<string> {
    const entry = this.entry
    if (entry.unavailable === 0) return dead
    if (dead.size === 0 && this.excludedVersion === entry.version && this.now < this.excludedUntil)
      return this.excluded ?? dead
    let out: Set<string> | undefined
    let until = Infinity
    const probeTimeout = entry.settings.breaker?.openMs ?? 30_000
    for (const t of this.byKey.values()) {
      if (t.admits(this.now, entry.settings)) continue
      ;(out ??= new Set(dead)).add(t.keyId)
      until = Math.min(until, t.circuit === 'open' ? t.openUntil : t.probeStartedAt + probeTimeout)
    }
    if (dead.size === 0) {
      this.excluded = out
      this.excludedVersion = entry.version
      this.excludedUntil = until
    }
    return out ?? dead
  }

  claim(key: ProviderKey): void {
    const t = this.byKey.get(key.id)
    if (t && t.circuit === 'half_open') {
      t.probeStartedAt = this.now
      this.entry.version++
    }
  }

  refusal(): GatewayError {
    return this.refuse(this.entry, this.model, this.now)
  }

  /** Adaptive weights from the latest observations, at most once per `recomputeMs`. */
  recompute(adaptive: NonNullable<HealthSettings['adaptive']>): void {
    let stale = false
    for (const t of this.byKey.values()) if (this.now - t.weighedAt >= adaptive.recomputeMs) stale = true
    if (!stale) return
    let best = Infinity
    for (const t of this.byKey.values()) {
      const ms = t.latency(this.now, this.entry.settings)
      if (ms > 0 && ms < best) best = ms
    }
    for (const t of this.byKey.values())
      t.reweigh(this.now, best, adaptive.minWeightRatio, this.entry.settings)
  }
}

/**
 * Health of every (provider, key, model) target from its recent results: a sliding window of
 * requests, errors, 429s, timeouts and latency; a circuit breaker per target; adaptive weights.
 * In memory, cheap on the hot path (no allocation per request once a target is known); circuit
 * changes are announced (`onTransition`) so that other nodes can apply them (`applyRemote`).
 */
export class HealthTracker {
  private readonly providers = new Map<string, ProviderEntry>()
  private readonly listeners = new Set<(t: CircuitTransition) => void>()
  readonly node: string

  constructor(private readonly now: () => number = Date.now) {
    this.node = Math.random().toString(36).slice(2, 10)
  }

  onTransition(listener: (t: CircuitTransition) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** What a key pick must consider for this provider and model; undefined when nothing (the common case). */
  view(config: ProviderConfig, model: string): PickView | undefined {
    const entry = this.entry(config)
    const adaptive = entry.settings.adaptive
    if (entry.unavailable === 0 && !adaptive) return undefined
    let view = entry.views.get(model)
    if (!view) {
      view = new ModelView(entry, model, (e, m, now) => this.refusal(e, m, now))
      for (const models of entry.targets.values()) {
        const t = models.get(model)
        if (t) view.byKey.set(t.keyId, t)
      }
      entry.views.set(model, view)
    }
    view.now = this.now()
    if (adaptive) view.recompute(adaptive)
    return view
  }

  /**
   * How a provider serves a model now, for weighing it against other providers (a virtual key's
   * provider weights): its fastest usable key's latency and that key's success share; undefined
   * when adaptive balancing is off for it or it has no measurement yet.
   */
  providerSpeed(config: ProviderConfig, model: string): { ewmaMs: number; reliability: number } | undefined {
    const entry = this.entry(config)
    if (!entry.settings.adaptive) return undefined
    const view = this.view(config, model) as ModelView
    let best: TargetHealth | undefined
    let bestMs = Infinity
    for (const t of view.byKey.values()) {
      const ms = t.latency(view.now, entry.settings)
      if (ms === 0 || !t.admits(view.now, entry.settings)) continue
      if (ms < bestMs) [best, bestMs] = [t, ms]
    }
    return best && { ewmaMs: bestMs, reliability: best.reliability }
  }

  /** A target served: its latency (to the first item, for streams). */
  success(config: ProviderConfig, key: ProviderKey, model: string, latencyMs: number): void {
    if (key.id === 'direct') return
    const entry = this.entry(config)
    const t = this.target(entry, key, model)
    const was = t.circuit
    t.success(this.now(), latencyMs, entry.settings)
    if (was === 'closed') return
    entry.version++
    if (t.circuit === 'closed') this.changed(entry, t, was, 'a probe request succeeded')
  }

  /** A target failed with an upstream error; errors that say nothing of its health are ignored. */
  failure(config: ProviderConfig, key: ProviderKey, model: string, error: GatewayError): void {
    const kind = failureKind(error)
    if (kind === undefined || key.id === 'direct') return
    const entry = this.entry(config)
    const t = this.target(entry, key, model)
    const was = t.circuit
    const reason = t.failure(this.now(), kind, error, entry.settings)
    if (was !== 'closed' || reason !== undefined) entry.version++
    if (reason !== undefined) this.changed(entry, t, was, reason)
  }

  /** A circuit change made on another node, to a provider configured here. */
  applyRemote(msg: CircuitTransition, config: ProviderConfig): void {
    if (msg.node === this.node) return
    const entry = this.entry(config)
    if (!entry.settings.breaker) return
    const t = this.target(entry, { id: msg.keyId, name: msg.keyName } as ProviderKey, msg.model)
    const was = t.circuit
    if (msg.state === 'open') t.open(msg.openUntil ?? this.now(), `${msg.reason} (seen by another node)`)
    else t.close(`${msg.reason} (seen by another node)`)
    entry.version++
    this.count(entry, was, t.circuit)
  }

  /**
   * This node's window of each target that changed since the last call, for the other nodes to
   * merge; only of providers whose breaker or adaptive balancing is on (the others decide nothing).
   */
  windows(): TargetWindow[] {
    const now = this.now()
    const out: TargetWindow[] = []
    for (const [provider, entry] of this.providers) {
      if (!entry.settings.breaker && !entry.settings.adaptive) continue
      for (const models of entry.targets.values())
        for (const t of models.values()) {
          const w = t.windowIfChanged(now, entry.settings)
          if (w) out.push({ provider, keyId: t.keyId, keyName: t.keyName, model: t.model, ...w })
        }
    }
    return out
  }

  /** A window another node published, to a provider configured here. */
  mergeWindow(node: string, w: TargetWindow, config: ProviderConfig): void {
    if (node === this.node) return
    const entry = this.entry(config)
    if (!entry.settings.breaker && !entry.settings.adaptive) return
    if (w.keyId !== 'keyless' && !config.keys.some((k) => k.id === w.keyId)) return
    const t = this.target(entry, { id: w.keyId, name: w.keyName } as ProviderKey, w.model)
    t.mergeRemote(node, w, this.now(), entry.settings)
  }

  /** The circuits open now, as transitions: what a node re-publishes when shared state was lost. */
  openCircuits(): CircuitTransition[] {
    const now = this.now()
    const out: CircuitTransition[] = []
    for (const [provider, entry] of this.providers)
      for (const models of entry.targets.values())
        for (const t of models.values()) {
          if (t.circuit !== 'open' || t.openUntil <= now) continue
          out.push({
            provider,
            keyId: t.keyId,
            keyName: t.keyName,
            model: t.model,
            state: 'open',
            openUntil: t.openUntil,
            reason: t.reason ?? '',
            node: this.node,
          })
        }
    return out
  }

  /**
   * Closes circuits by hand (an administrator's reset): every target of the provider, or of one key,
   * or of one model; their failures are forgotten. Returns how many circuits were not closed.
   */
  reset(provider: string, keyId?: string, model?: string): number {
    const entry = this.providers.get(provider)
    if (!entry) return 0
    let reset = 0
    for (const [id, models] of entry.targets) {
      if (keyId !== undefined && id !== keyId) continue
      for (const t of models.values()) {
        if (model !== undefined && t.model !== model) continue
        const was = t.circuit
        if (was !== 'closed') reset++
        t.close('reset by an administrator')
        this.count(entry, was, 'closed')
      }
    }
    entry.version++
    return reset
  }

  /** Every tracked target of each provider, for the health API and /metrics. */
  snapshot(): { provider: string; targets: TargetHealthView[] }[] {
    const now = this.now()
    const out: { provider: string; targets: TargetHealthView[] }[] = []
    for (const [provider, entry] of this.providers) {
      const targets: TargetHealthView[] = []
      for (const models of entry.targets.values())
        for (const t of models.values()) targets.push(t.view(now, entry.settings))
      out.push({ provider, targets })
    }
    return out
  }

  /** Forgets a provider (deleted) or resets its circuits (config changed). */
  forget(provider: string): void {
    this.providers.delete(provider)
  }

  private entry(config: ProviderConfig): ProviderEntry {
    let entry = this.providers.get(config.name)
    if (entry === undefined) {
      entry = {
        config,
        settings: healthSettings(config),
        targets: new Map(),
        unavailable: 0,
        views: new Map(),
        version: 0,
        size: 0,
      }
      this.providers.set(config.name, entry)
    } else if (entry.config !== config) {
      // The provider was reconfigured: new settings, removed keys forgotten; a breaker switched off
      // lets every target through.
      entry.config = config
      entry.settings = healthSettings(config)
      const kept = new Set(config.keys.map((k) => k.id)).add('keyless')
      entry.unavailable = 0
      entry.size = 0
      for (const [keyId, models] of entry.targets) {
        if (!kept.has(keyId)) {
          entry.targets.delete(keyId)
          for (const view of entry.views.values()) view.byKey.delete(keyId)
          continue
        }
        for (const t of models.values()) {
          if (!entry.settings.breaker) t.close('breaker off')
          if (t.circuit !== 'closed') entry.unavailable++
          entry.size++
        }
      }
      entry.version++
    }
    return entry
  }

  private target(entry: ProviderEntry, key: ProviderKey, model: string): TargetHealth {
    let models = entry.targets.get(key.id)
    if (!models) entry.targets.set(key.id, (models = new Map()))
    let t = models.get(model)
    if (!t) {
      t = new TargetHealth(key.id, key.name, model, this.now())
      // Model names come from callers: past the cap, new ones are measured but not kept.
      if (entry.size >= MAX_TARGETS_PER_PROVIDER) return t
      entry.size++
      models.set(model, t)
      entry.views.get(model)?.byKey.set(key.id, t)
    }
    return t
  }

  private changed(entry: ProviderEntry, t: TargetHealth, was: TargetHealth['circuit'], reason: string): void {
    this.count(entry, was, t.circuit)
    if (t.circuit === 'half_open') return
    const msg: CircuitTransition = {
      provider: entry.config.name,
      keyId: t.keyId,
      keyName: t.keyName,
      model: t.model,
      state: t.circuit,
      reason,
      node: this.node,
    }
    if (t.circuit === 'open') msg.openUntil = t.openUntil
    for (const l of this.listeners) l(msg)
  }

  private count(entry: ProviderEntry, was: TargetHealth['circuit'], now: TargetHealth['circuit']): void {
    if (was === 'closed' && now !== 'closed') entry.unavailable++
    else if (was !== 'closed' && now === 'closed') entry.unavailable = Math.max(0, entry.unavailable - 1)
  }

  private refusal(entry: ProviderEntry, model: string, now: number): GatewayError {
    let until = Infinity
    let reason = ''
    for (const models of entry.targets.values()) {
      const t = models.get(model)
      if (!t || t.circuit === 'closed') continue
      const at = t.circuit === 'open' ? t.openUntil : now + 1000
      if (at < until) {
        until = at
        reason = t.reason ?? ''
      }
    }
    const seconds = Math.max(1, Math.ceil(((until === Infinity ? now : until) - now) / 1000))
    return new GatewayError(
      'circuit_open',
      `every key of ${entry.config.name} that serves ${model} is unhealthy (circuit open: ${reason}); next probe in ${seconds}s`,
      { retryable: true, retryAfterMs: seconds * 1000, headers: { 'retry-after': String(seconds) } },
    )
  }
}

/** Heimdall's own failures and refusals: they say nothing of the provider. */
const OURS = new Set([
  'queue_full',
  'request_cancelled',
  'circuit_open',
  'plugin_error',
  'internal',
  'shutting_down',
])

/** What an upstream error says of the target's health; undefined: nothing (the caller's mistake, our own state). */
export function failureKind(e: GatewayError): Failure | undefined {
  if (OURS.has(e.code)) return undefined
  if (e.keyDead) return 'error'
  if (!e.retryable) return undefined
  if (e.status === 429) return 'rate_limited'
  if (e.code === 'upstream_timeout' || e.status === 504 || e.status === 408) return 'timeout'
  return 'error'
}
