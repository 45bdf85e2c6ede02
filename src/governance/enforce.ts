import { newReservationId, type CounterStore } from '../cluster/index.js'
import type { GatewayContext, GatewayHook, Target } from '../core/context.js'
import { GatewayError, type ErrorCode } from '../core/errors.js'
import type { GatewayEvents } from '../core/events.js'
import { parseModel, type TargetLookup } from '../core/router/targets.js'
import { noteRoutingEngine } from '../core/routing-engines.js'
import { authenticateVirtualKey } from '../core/virtual-keys.js'
import type { Usage } from '../core/schemas/index.js'
import { planDeploymentLimits } from './deployment-limits.js'
import { planBudget, planRateLimit, type PlannedCheck, type Scope } from './limits.js'
import type { Budget, VirtualKeyProviderConfig, VirtualKeyRecord } from './model.js'
import { computeCost, estimateCost, estimateTokens, type PricingOverrides } from './pricing/index.js'
import type { GovernanceState } from './state.js'

/** Whether a list admits a name: `*` for all, `regex:` entries, else exact names; `[]` admits none. */
export function listAdmits(list: readonly string[], name: string): boolean {
  for (const entry of list) {
    if (entry === '*' || entry === name) return true
    if (entry.startsWith('regex:')) {
      try {
        if (new RegExp(`^(?:${entry.slice(6)})$`).test(name)) return true
      } catch {
        // An invalid pattern admits nothing.
      }
    }
  }
  return false
}

export function providerConfigAdmits(pc: VirtualKeyProviderConfig, model: string): boolean {
  return listAdmits(pc.allowed_models, model) && !listAdmits(pc.blacklisted_models, model)
}

interface Reservation {
  id: string
  target: Target
  planned: PlannedCheck[]
  /** The prompt's estimated tokens, for a stream that ends without usage (estimated on demand). */
  promptTokens: () => number
}

/** What admission holds for a request: its estimated tokens and cost. */
interface AdmissionEstimate {
  prompt: number
  tokens: number
  cost: number
}

const RESERVATION_STATE = 'governance.reservation'

/** A hold's default lifetime: the default request timeout (60 s) plus a margin for slow settles. */
export const DEFAULT_RESERVATION_TTL_MS = 120_000

export interface GovernanceHookOptions {
  state: GovernanceState
  counters: CounterStore
  /** `client.enforce_auth_on_inference`, read per request so that a config change applies at once. */
  enforceAuth: () => boolean
  lookup: TargetLookup
  pricing?: PricingOverrides
  /**
   * How long a hold counts when nobody settles or releases it (its node died, Redis stalled):
   * no longer than a request can run. Defaults to DEFAULT_RESERVATION_TTL_MS.
   */
  reservationTtlMs?: number
  /** Called with every limit that was charged and what it was charged, so that usage can be persisted in batches. */
  onCharged?: (planned: PlannedCheck[], actual: number[]) => void
  /** Told `budget.exhausted` when a budget refuses a request (once per budget and window). */
  events?: GatewayEvents
  now?: () => number
}

/**
 * Governance on every request: who the caller is (virtual key), what it may reach (providers,
 * models, provider keys) and what it may spend (budgets, request and token limits at every level
 * that applies: provider config, key, team, customer). Admission reserves an estimate atomically;
 * the end of the request settles the real figure, so concurrent requests cannot overspend by more
 * than what was in flight.
 */
export class GovernanceHook implements GatewayHook {
  readonly name = 'governance'
  private readonly ttlMs: number
  private readonly now: () => number
  /** Budget id -> the end of the window whose exhaustion was told. */
  private readonly toldExhausted = new Map<string, number>()
  /** Settlements sent and not yet answered. */
  private readonly settling = new Set<Promise<unknown>>()

  constructor(private opts: GovernanceHookOptions) {
    this.ttlMs = opts.reservationTtlMs ?? DEFAULT_RESERVATION_TTL_MS
    this.now = opts.now ?? Date.now
  }

  /** Tells `budget.exhausted` the first time this node sees a budget refuse in its current window. */
  private budgetExhausted(p: PlannedCheck, used: number): void {
    const events = this.opts.events
    if (!events || this.toldExhausted.get(p.limitId) === p.windowEnd) return
    if (this.toldExhausted.size > 10_000) this.toldExhausted.clear()
    this.toldExhausted.set(p.limitId, p.windowEnd)
    events.emit('budget.exhausted', {
      budget_id: p.limitId,
      scope: p.scope.kind,
      scope_id: p.scope.id,
      scope_name: p.scope.name,
      max_limit: p.check.limit,
      used,
      reset_duration: p.duration,
      reset_at: iso(p.windowEnd),
    })
  }

  beforeRequest(ctx: GatewayContext, req: Record<string, unknown>): Target[] | undefined {
    const vk = authenticateVirtualKey(this.opts.state, ctx.headers, this.opts.enforceAuth(), this.now())
    if (!vk) return undefined
    ctx.facts.virtualKey = vk
    const targets = this.routeByWeight(vk, req)
    if (targets) noteRoutingEngine(ctx, 'governance')
    return targets
  }

  async beforeTarget(ctx: GatewayContext, target: Target, req: Record<string, unknown>): Promise<void> {
    const vk = ctx.facts.virtualKey
    // Model and provider limits apply to every request, with a virtual key or without.
    if (!vk && !this.opts.state.hasDeploymentLimits) return
    const pc = vk ? this.admitTarget(ctx, vk, target) : undefined

    const now = this.now()
    // Estimated only when a budget or a token limit needs it: counting a prompt with the model's
    // tokenizer costs tens of µs, which a key with request limits alone need not pay.
    let estimate: AdmissionEstimate | undefined
    const estimated = (): AdmissionEstimate => {
      if (estimate) return estimate
      const tokens = estimateTokens(req, { model: target.model })
      const cost = estimateCost(target.provider, target.model, tokens.prompt, tokens.completion)
      return (estimate = { prompt: tokens.prompt, tokens: tokens.prompt + tokens.completion, cost })
    }
    const planned = this.plan(target, vk, pc, estimated, now)
    if (planned.length === 0) return
    // The id is ours before Redis answers: a reserve that timed out is released all the same, and
    // one that lands late finds itself released.
    const reservationId = newReservationId()
    let result
    try {
      result = await this.opts.counters.reserve(
        planned.map((p) => p.check),
        { ttlMs: this.ttlMs, reservationId },
      )
    } catch (err) {
      void this.opts.counters.release(reservationId).catch(() => undefined)
      throw new GatewayError(
        'governance_unavailable',
        `budgets and rate limits cannot be checked right now: ${(err as Error).message}`,
        {
          cause: err,
          retryable: false,
        },
      )
    }
    if (!result.ok) {
      const refused = planned[result.index]
      if (refused.kind === 'budget') this.budgetExhausted(refused, result.used + result.reserved)
      throw refusal(refused, result.used + result.reserved, now)
    }
    ctx.state.set(RESERVATION_STATE, {
      id: result.reservationId,
      target,
      planned,
      promptTokens: () => estimated().prompt,
    } satisfies Reservation)
    rateLimitHeaders(ctx, planned, result.remaining, now)
  }

  /** The key's provider config for the target, when the key may use the target at all; also the keys it may use. */
  private admitTarget(ctx: GatewayContext, vk: VirtualKeyRecord, target: Target): VirtualKeyProviderConfig {
    const pc = vk.provider_configs.find((p) => p.provider === target.provider)
    if (!pc) {
      throw decision('provider_blocked', `virtual key "${vk.name}" may not use provider ${target.provider}`)
    }
    if (!providerConfigAdmits(pc, target.model)) {
      throw decision(
        'model_blocked',
        `virtual key "${vk.name}" may not use model ${target.model} of ${target.provider}`,
      )
    }
    if (!pc.allow_all_keys && !pc.key_ids.includes('*')) {
      if (pc.key_ids.length === 0) {
        throw decision(
          'provider_blocked',
          `virtual key "${vk.name}" may use no key of provider ${target.provider} (its key_ids are empty; ["*"] allows all)`,
        )
      }
      ctx.allowedKeyIds = new Set(pc.key_ids)
    } else {
      ctx.allowedKeyIds = undefined
    }
    return pc
  }

  admitsModel(ctx: GatewayContext, provider: string, model: string): boolean {
    const vk = ctx.facts.virtualKey
    if (!vk) return true
    const pc = vk.provider_configs.find((p) => p.provider === provider)
    return pc !== undefined && providerConfigAdmits(pc, model)
  }

  async afterTargetFailed(ctx: GatewayContext, target: Target): Promise<void> {
    const r = ctx.state.get(RESERVATION_STATE) as Reservation | undefined
    if (!r || r.target !== target) return
    ctx.state.delete(RESERVATION_STATE)
    await this.opts.counters.release(r.id).catch(() => undefined)
  }

  async onEnd(ctx: GatewayContext): Promise<void> {
    const r = ctx.state.get(RESERVATION_STATE) as Reservation | undefined
    if (!r) {
      // No budget to settle, but the cost is still the request's: for the cost header, metrics
      // and logs, priced once, with the pricing overrides.
      const usage = ctx.usage ?? ctx.result?.usage
      if (usage) this.recordCost(ctx, usage, false)
      return
    }
    ctx.state.delete(RESERVATION_STATE)
    // A request that failed before anything was generated costs nothing.
    if (ctx.error && !ctx.usage && ctx.streamedChars === 0) {
      await this.opts.counters.release(r.id).catch(() => undefined)
      return
    }
    let usage = ctx.usage
    let estimated = false
    if (!usage) {
      // The provider sent no usage (a cancelled or broken stream): estimate what was served.
      const completion = Math.ceil(ctx.streamedChars / 4)
      const prompt = r.promptTokens()
      usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion }
      estimated = true
    }
    const cost = this.recordCost(ctx, usage, estimated)
    const actual = r.planned.map((p) =>
      p.kind === 'budget' ? cost : p.kind === 'requests' ? 1 : usage.total_tokens,
    )
    const checks = r.planned.map((p) => p.check)
    // Not awaited: the settlement is sent now (Redis runs a connection's commands in order, so the
    // caller's next request is checked after it), and the answer does not wait a round trip for
    // it. Its failures were never the caller's (a lost settle is retried or its hold expires);
    // drain() lets close wait for the ones still under way.
    const settled = this.opts.counters
      .settle(r.id, actual, checks)
      .catch(() => undefined)
      .then(() => this.opts.onCharged?.(r.planned, actual))
      .catch(() => undefined)
    this.settling.add(settled)
    void settled.finally(() => this.settling.delete(settled))
  }

  /** Waits for the settlements still under way (graceful close). */
  async drain(): Promise<void> {
    while (this.settling.size > 0) await Promise.allSettled([...this.settling])
  }

  private recordCost(ctx: GatewayContext, usage: Usage, estimated: boolean): number {
    const provider = ctx.provider ?? ''
    const model = ctx.model ?? ''
    const vk = ctx.facts.virtualKey
    // An answer a plugin gave (a response-cache hit, a mock) made no provider call: it costs nothing.
    const result = ctx.facts.shortCircuitedBy
      ? { cost: 0, priced: true, estimated: false }
      : computeCost(
          provider,
          model,
          usage,
          this.opts.pricing?.context({ provider, model, virtualKeyId: vk?.id }),
        )
    const isEstimated = estimated || result.estimated
    ctx.facts.cost = { cost: result.cost, estimated: isEstimated, priced: result.priced }
    ctx.responseHeaders['x-bifrost-cost-usd'] = result.cost.toFixed(8)
    return result.cost
  }

  /** Every budget and rate limit that applies to this key on this provider, each once. */
  private plan(
    target: Target,
    vk: VirtualKeyRecord | undefined,
    pc: VirtualKeyProviderConfig | undefined,
    estimated: () => AdmissionEstimate,
    now: number,
  ): PlannedCheck[] {
    const tokens = () => estimated().tokens
    const deployment = planDeploymentLimits(this.opts.state, target, vk, tokens, () => estimated().cost, now)
    const planned: PlannedCheck[] = [...deployment.beforeKey]
    if (!vk || !pc) return planned
    const seen = new Set<string>()
    const budgets = (list: (Budget | null | undefined)[], scope: Scope) => {
      for (const b of list) {
        if (!b || seen.has(`b:${b.id}`)) continue
        seen.add(`b:${b.id}`)
        planned.push(planBudget(b, scope, estimated().cost, now))
      }
    }
    const pcScope: Scope = {
      kind: 'provider_config',
      id: String(pc.id),
      name: `${pc.provider} of virtual key "${vk.name}"`,
    }
    const vkScope: Scope = { kind: 'virtual_key', id: vk.id, name: `virtual key "${vk.name}"` }
    if (pc.rate_limit) planned.push(...planRateLimit(pc.rate_limit, pcScope, tokens, now))
    if (vk.rate_limit) planned.push(...planRateLimit(vk.rate_limit, vkScope, tokens, now))
    budgets(pc.budgets, pcScope)
    budgets(vk.budgets, vkScope)
    const team = this.opts.state.team(vk.team_id)
    if (team) {
      const scope: Scope = { kind: 'team', id: team.id, name: `team "${team.name}"` }
      if (team.rate_limit) planned.push(...planRateLimit(team.rate_limit, scope, tokens, now))
      budgets([team.budget, ...(team.budgets ?? [])], scope)
    }
    const customer = this.opts.state.customer(vk.customer_id ?? team?.customer_id)
    if (customer) {
      const scope: Scope = { kind: 'customer', id: customer.id, name: `customer "${customer.name}"` }
      if (customer.rate_limit) planned.push(...planRateLimit(customer.rate_limit, scope, tokens, now))
      budgets([customer.budget, ...(customer.budgets ?? [])], scope)
    }
    planned.push(...deployment.afterKey)
    return planned
  }

  /**
   * A model without a provider prefix goes to one of the key's providers that admit it, drawn by
   * weight; when the request named no fallbacks the others follow, heaviest first (Bifrost 11.1).
   */
  routeByWeight(vk: VirtualKeyRecord, req: Record<string, unknown>): Target[] | undefined {
    const model = req.model
    if (typeof model !== 'string' || model.length === 0) return undefined
    const slash = model.indexOf('/')
    if (slash > 0 && this.opts.lookup.isProviderName(model.slice(0, slash))) return undefined
    const eligible = vk.provider_configs.filter(
      (pc) =>
        pc.weight !== null &&
        pc.weight > 0 &&
        providerConfigAdmits(pc, model) &&
        this.opts.lookup.isProviderName(pc.provider),
    )
    if (eligible.length === 0) return undefined
    const total = eligible.reduce((n, pc) => n + (pc.weight ?? 0), 0)
    let r = Math.random() * total
    let chosen = eligible[eligible.length - 1]
    for (const pc of eligible) {
      r -= pc.weight ?? 0
      if (r < 0) {
        chosen = pc
        break
      }
    }
    const targets: Target[] = [{ provider: chosen.provider, model, index: 0 }]
    const fallbacks = req.fallbacks
    if (Array.isArray(fallbacks) && fallbacks.length > 0) {
      fallbacks.forEach((f, i) => {
        if (typeof f === 'string')
          targets.push({ ...parseModel(f, this.opts.lookup, undefined, `fallbacks[${i}]`), index: i + 1 })
      })
    } else {
      eligible
        .filter((pc) => pc !== chosen)
        .sort((a, b) => (b.weight ?? 0) - (a.weight ?? 0))
        .forEach((pc, i) => targets.push({ provider: pc.provider, model, index: i + 1 }))
    }
    return targets
  }
}

function decision(
  code: ErrorCode,
  message: string,
  extra?: Record<string, unknown>,
  headers?: Record<string, string>,
): GatewayError {
  return new GatewayError(code, message, {
    isBifrostError: false,
    topLevelType: code,
    retryable: false,
    extra,
    headers,
  })
}

function iso(ms: number): string {
  return new Date(ms).toISOString()
}

/** The refusal for the first limit that did not admit the request: which scope, how much, until when. */
function refusal(p: PlannedCheck, used: number, now: number): GatewayError {
  const resetAt = iso(p.windowEnd)
  const retryAfter = Math.max(1, Math.ceil((p.windowEnd - now) / 1000))
  const extra = {
    governance: {
      scope: p.scope.kind,
      scope_id: p.scope.id,
      scope_name: p.scope.name,
      limit_kind: p.kind,
      limit_id: p.limitId,
      limit: p.check.limit,
      used,
      reset_duration: p.duration,
      reset_at: resetAt,
    },
  }
  if (p.kind === 'budget') {
    return decision(
      'budget_exceeded',
      `${p.scope.name} budget exceeded: ${used.toFixed(4)} >= ${p.check.limit.toFixed(4)} dollars (resets every ${p.duration}; next reset ${resetAt})`,
      extra,
      { 'retry-after': String(retryAfter) },
    )
  }
  const what = p.kind === 'requests' ? 'requests' : 'tokens'
  const headers: Record<string, string> = {
    'retry-after': String(retryAfter),
    [`x-ratelimit-limit-${what}`]: String(p.check.limit),
    [`x-ratelimit-remaining-${what}`]: '0',
    [`x-ratelimit-reset-${what}`]: `${retryAfter}s`,
  }
  return decision(
    p.kind === 'requests' ? 'request_limited' : 'token_limited',
    `${p.scope.name}: ${p.kind === 'requests' ? 'request' : 'token'} limit exceeded (${Math.round(used)}/${p.check.limit}, resets every ${p.duration}; next reset ${resetAt})`,
    extra,
    headers,
  )
}

const RATE_KINDS = ['requests', 'tokens'] as const

/** The header names, built once: a name built per request is a new string to hash into the headers object. */
const RATE_HEADERS = {
  requests: {
    limit: 'x-ratelimit-limit-requests',
    remaining: 'x-ratelimit-remaining-requests',
    reset: 'x-ratelimit-reset-requests',
  },
  tokens: {
    limit: 'x-ratelimit-limit-tokens',
    remaining: 'x-ratelimit-remaining-tokens',
    reset: 'x-ratelimit-reset-tokens',
  },
} as const

/**
 * x-ratelimit-* headers for the request and token limits that admitted the request: the one with
 * the least room left (counting this request's own hold) speaks.
 */
function rateLimitHeaders(
  ctx: GatewayContext,
  planned: PlannedCheck[],
  remaining: number[] | undefined,
  now: number,
): void {
  for (const what of RATE_KINDS) {
    let tightest = -1
    for (let i = 0; i < planned.length; i++) {
      if (planned[i].kind !== what) continue
      const room = remaining?.[i] ?? planned[i].check.limit
      const best = tightest === -1 ? Infinity : (remaining?.[tightest] ?? planned[tightest].check.limit)
      if (room < best) tightest = i
    }
    if (tightest === -1) continue
    const p = planned[tightest]
    const names = RATE_HEADERS[what]
    ctx.responseHeaders[names.limit] = String(p.check.limit)
    const left = remaining?.[tightest]
    if (left !== undefined && Number.isFinite(left))
      ctx.responseHeaders[names.remaining] = String(Math.max(0, Math.floor(left)))
    ctx.responseHeaders[names.reset] = `${Math.max(1, Math.ceil((p.windowEnd - now) / 1000))}s`
  }
}
