import type { GatewayError } from '../errors.js'
import type { HealthSettings, HealthStatus, TargetHealthView } from './health.js'

export type Failure = 'error' | 'rate_limited' | 'timeout'

/** Buckets of the sliding window; each holds requests, errors, 429s, timeouts and the latency sum. */
const BUCKETS = 10
const FIELDS = 5
const REQ = 0
const ERR = 1
const RL = 2
const TO = 3
const LAT = 4
/** How much the latest latency moves the running average. */
const EWMA_ALPHA = 0.3

/** One node's window of a target, as it publishes it to the others: its own results only. */
export interface WindowSums {
  req: number
  err: number
  rl: number
  to: number
  /** Latency sum of the successes. */
  lat: number
  consecutive: number
  ewmaMs: number
}

/** Another node's window, until it is republished or falls out of the window. */
interface RemoteWindow extends WindowSums {
  until: number
}

/**
 * One (provider, key, model) target: its recent results in a ring of time buckets (fixed size,
 * nothing allocated per request), a latency average, and its circuit (closed, open, half-open).
 */
export class TargetHealth {
  private readonly ring = new Float64Array(BUCKETS * FIELDS)
  /** The bucket number (time / bucket length) of the newest bucket. */
  private epoch = 0
  private bucketMs = 0
  ewmaMs = 0
  consecutive = 0
  circuit: 'closed' | 'open' | 'half_open' = 'closed'
  openUntil = 0
  probeStartedAt = 0
  private probeSuccesses = 0
  reason: string | undefined
  lastError: string | undefined
  weightRatio = 1
  /** Share of the window's requests that succeeded (1 below 3 requests), as of the last reweigh. */
  reliability = 1
  weighedAt = 0
  /** The other nodes' windows of this target, by node; their sums below. */
  private remote: Map<string, RemoteWindow> | undefined
  private readonly others = new Float64Array(FIELDS)
  private othersConsecutive = 0
  /** Sum over the other nodes of latency average × successes, and of those successes. */
  private othersEwmaOk = 0
  private othersOk = 0
  private othersUntil = Infinity
  /** What this node last published of its window (requests, errors, 429s, timeouts, consecutive, latency). */
  private readonly sent = new Float64Array(6)

  constructor(
    readonly keyId: string,
    readonly keyName: string,
    readonly model: string,
    now: number,
  ) {
    this.weighedAt = now
  }

  /** Whether a request may go to this target now (an open circuit whose time is up lets one probe through). */
  admits(now: number, s: HealthSettings): boolean {
    if (this.circuit === 'closed') return true
    if (this.circuit === 'open') {
      if (now < this.openUntil) return false
      this.circuit = 'half_open'
      this.probeSuccesses = 0
      this.probeStartedAt = 0
    }
    // One probe at a time; one that never reported back (its caller went away) is replaced after a while.
    const probeTimeout = s.breaker?.openMs ?? 30_000
    return this.probeStartedAt === 0 || now - this.probeStartedAt > probeTimeout
  }

  success(now: number, latencyMs: number, s: HealthSettings): void {
    const i = this.slot(now, s) * FIELDS
    this.ring[i + REQ]++
    this.ring[i + LAT] += latencyMs
    this.ewmaMs = this.ewmaMs === 0 ? latencyMs : this.ewmaMs + EWMA_ALPHA * (latencyMs - this.ewmaMs)
    this.consecutive = 0
    if (this.circuit === 'half_open') {
      this.probeStartedAt = 0
      if (++this.probeSuccesses >= (s.breaker?.halfOpenProbes ?? 1)) this.close('a probe request succeeded')
    } else if (this.circuit === 'open' && !s.breaker) this.close('breaker off')
  }

  /** Records a failure; returns why the circuit changed, when it did. */
  failure(now: number, kind: Failure, error: GatewayError, s: HealthSettings): string | undefined {
    const i = this.slot(now, s) * FIELDS
    this.ring[i + REQ]++
    this.ring[i + ERR]++
    if (kind === 'rate_limited') this.ring[i + RL]++
    if (kind === 'timeout') this.ring[i + TO]++
    this.consecutive++
    this.lastError = `${error.status} ${error.message}`.slice(0, 300)
    const b = s.breaker
    if (!b) return undefined
    const retryAfter = error.status === 429 || error.status === 503 ? (error.retryAfterMs ?? 0) : 0
    if (this.circuit === 'open') return undefined
    let reason: string | undefined
    if (this.circuit === 'half_open') reason = `the probe request failed: ${this.lastError}`
    else if (this.consecutive + this.othersConsecutive >= b.failureThreshold)
      reason = `${this.consecutive + this.othersConsecutive} consecutive failures${this.remote?.size ? ' across nodes' : ''}, the last: ${this.lastError}`
    else {
      const [req, err] = this.totals(now, s)
      if (req >= b.minRequests && err / req >= b.errorRateThreshold)
        reason = `${err} of the last ${req} requests failed, the last: ${this.lastError}`
    }
    if (reason !== undefined) this.open(now + Math.max(b.openMs, retryAfter), reason)
    else if (retryAfter > 0) {
      // Below the thresholds, a Retry-After still keeps requests away for as long as the provider asked.
      reason = `the provider asked to wait (Retry-After ${Math.ceil(retryAfter / 1000)}s)`
      this.open(now + retryAfter, reason)
    }
    return reason
  }

  open(until: number, reason: string): void {
    this.circuit = 'open'
    this.openUntil = until
    this.probeStartedAt = 0
    this.reason = reason
  }

  close(reason: string): void {
    this.circuit = 'closed'
    this.consecutive = 0
    this.probeStartedAt = 0
    this.reason = reason
    // The failures that opened it are history: the error rate starts afresh, the other nodes' too.
    for (let f = 0; f < this.ring.length; f += FIELDS) {
      this.ring[f + ERR] = 0
      this.ring[f + RL] = 0
      this.ring[f + TO] = 0
    }
    if (this.remote) {
      this.remote.clear()
      this.sumOthers()
    }
  }

  /** This node's own window when it changed since the last call (what the other nodes merge). */
  windowIfChanged(now: number, s: HealthSettings): WindowSums | undefined {
    const [req, err, rl, to, lat] = this.localTotals(now, s)
    const ewmaMs = Math.round(this.ewmaMs)
    const sent = this.sent
    if (
      sent[0] === req &&
      sent[1] === err &&
      sent[2] === rl &&
      sent[3] === to &&
      sent[4] === this.consecutive &&
      sent[5] === ewmaMs
    )
      return undefined
    sent.set([req, err, rl, to, this.consecutive, ewmaMs])
    return { req, err, rl, to, lat, consecutive: this.consecutive, ewmaMs }
  }

  /** Another node's window: merged into the error rate, consecutive failures and latency until it falls out of the window. */
  mergeRemote(node: string, w: WindowSums, now: number, s: HealthSettings): void {
    const remote = (this.remote ??= new Map())
    if (w.req === 0 && w.consecutive === 0) remote.delete(node)
    else remote.set(node, { ...w, until: now + s.windowMs })
    this.sumOthers()
  }

  /** Nodes whose results this target's figures include (this one too). */
  get nodes(): number {
    return 1 + (this.remote?.size ?? 0)
  }

  /** Latency across nodes: the running averages weighted by successes; this node's alone when it is the only one. */
  latency(now: number, s: HealthSettings): number {
    if (this.othersOk > 0) this.expireOthers(now)
    if (this.othersOk === 0) return this.ewmaMs
    if (this.ewmaMs === 0) return this.othersEwmaOk / this.othersOk
    const [req, err] = this.localTotals(now, s)
    const ok = Math.max(1, req - err)
    return (this.ewmaMs * ok + this.othersEwmaOk) / (ok + this.othersOk)
  }

  private sumOthers(): void {
    this.others.fill(0)
    this.othersConsecutive = 0
    this.othersEwmaOk = 0
    this.othersOk = 0
    this.othersUntil = Infinity
    for (const w of this.remote?.values() ?? []) {
      this.others[REQ] += w.req
      this.others[ERR] += w.err
      this.others[RL] += w.rl
      this.others[TO] += w.to
      this.others[LAT] += w.lat
      this.othersConsecutive += w.consecutive
      if (w.ewmaMs > 0 && w.req > w.err) {
        this.othersEwmaOk += w.ewmaMs * (w.req - w.err)
        this.othersOk += w.req - w.err
      }
      this.othersUntil = Math.min(this.othersUntil, w.until)
    }
  }

  /** Drops the windows of nodes that have not republished for a whole window (stopped, or cut off). */
  private expireOthers(now: number): void {
    if (now < this.othersUntil || !this.remote) return
    for (const [node, w] of this.remote) if (w.until <= now) this.remote.delete(node)
    this.sumOthers()
  }

  /** The share of its configured weight the target gets: by latency against the fastest, and by errors. */
  reweigh(now: number, bestMs: number, minRatio: number, s: HealthSettings): void {
    this.weighedAt = now
    const [req, err] = this.totals(now, s)
    const speed = speedRatio(bestMs, this.latency(now, s))
    this.reliability = req >= 3 ? 1 - err / req : 1
    this.weightRatio = Math.min(1, Math.max(minRatio, speed * this.reliability))
  }

  view(now: number, s: HealthSettings): TargetHealthView {
    if (this.circuit === 'open' && now >= this.openUntil) this.admits(now, s)
    const [req, err, rl, to, lat] = this.totals(now, s)
    const ok = req - err
    const rate = req > 0 ? err / req : 0
    const latency = this.latency(now, s)
    return {
      key_id: this.keyId,
      key_name: this.keyName,
      model: this.model,
      status: this.status(req, rate, rl),
      circuit: this.circuit,
      requests: req,
      errors: err,
      rate_limited: rl,
      timeouts: to,
      error_rate: Math.round(rate * 1000) / 1000,
      latency_ms_avg: ok > 0 ? Math.round(lat / ok) : null,
      latency_ms_ewma: latency > 0 ? Math.round(latency) : null,
      consecutive_failures: this.consecutive + this.othersConsecutive,
      nodes: this.nodes,
      weight_ratio: Math.round(this.weightRatio * 1000) / 1000,
      open_until: this.circuit === 'open' ? new Date(this.openUntil).toISOString() : null,
      last_error: this.lastError ?? null,
      reason: this.circuit === 'closed' ? null : (this.reason ?? null),
    }
  }

  private status(req: number, rate: number, rateLimited: number): HealthStatus {
    if (this.circuit === 'open') return 'unhealthy'
    if (this.circuit === 'half_open') return 'recovering'
    if (req === 0) return 'idle'
    if (rate >= 0.5) return 'unhealthy'
    if (rate > 0.05 || rateLimited > 0) return 'degraded'
    return 'healthy'
  }

  /** Sums of the window across nodes: requests, errors, 429s, timeouts, latency of the successes. */
  private totals(now: number, s: HealthSettings): [number, number, number, number, number] {
    const sums = this.localTotals(now, s)
    if (this.remote === undefined || this.remote.size === 0) return sums
    this.expireOthers(now)
    for (let f = 0; f < FIELDS; f++) sums[f] += this.others[f]
    return sums
  }

  /** Sums of this node's own window. */
  private localTotals(now: number, s: HealthSettings): [number, number, number, number, number] {
    this.slot(now, s)
    let req = 0
    let err = 0
    let rl = 0
    let to = 0
    let lat = 0
    for (let f = 0; f < this.ring.length; f += FIELDS) {
      req += this.ring[f + REQ]
      err += this.ring[f + ERR]
      rl += this.ring[f + RL]
      to += this.ring[f + TO]
      lat += this.ring[f + LAT]
    }
    return [req, err, rl, to, lat]
  }

  /** The ring index of the bucket for `now`, clearing the buckets that fell out of the window. */
  private slot(now: number, s: HealthSettings): number {
    const bucketMs = s.windowMs / BUCKETS
    if (bucketMs !== this.bucketMs) {
      this.bucketMs = bucketMs
      this.ring.fill(0)
      this.epoch = Math.floor(now / bucketMs)
    }
    const epoch = Math.floor(now / bucketMs)
    const steps = Math.min(epoch - this.epoch, BUCKETS)
    for (let k = 1; k <= steps; k++)
      this.ring.fill(0, ((this.epoch + k) % BUCKETS) * FIELDS, ((this.epoch + k) % BUCKETS) * FIELDS + FIELDS)
    if (epoch > this.epoch) this.epoch = epoch
    return this.epoch % BUCKETS
  }
}

/**
 * How fast a latency is against the fastest seen (1: as fast). Latencies within half again the
 * fastest's, plus 20 ms, count as as fast, so that noise is not penalised.
 */
export function speedRatio(bestMs: number, ewmaMs: number): number {
  return ewmaMs > 0 && bestMs < Infinity ? Math.min(1, (bestMs * 1.5 + 20) / ewmaMs) : 1
}
