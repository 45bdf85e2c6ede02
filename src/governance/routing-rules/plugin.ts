import type { GatewayContext, Target } from '../../core/context.js'
import type { GatewayPlugin } from '../../core/plugins.js'
import { GatewayError } from '../../core/errors.js'
import { parseModel, resolveTargets, type TargetLookup } from '../../core/router/targets.js'
import { noteRoutingEngine } from '../../core/routing-engines.js'
import type { ProviderKey } from '../../core/schemas/index.js'
import type { VirtualKeyRecord } from '../model.js'
import type { GovernanceState } from '../state.js'
import type { Capacity, RoutingDecision, RoutingEngine } from './engine.js'
import type { SessionPins } from './sessions.js'

/** Which rule routed a request (`extra_fields.routing_info`, `x-bifrost-routing-info-*`, the log entry). */
export interface RoutingFacts {
  rule_id?: string
  rule_name?: string
  /** Every rule of a chain that matched, in order. */
  rule_chain?: string[]
  /** Set when `x-bf-session-id` pinned the request to what served the session before. */
  session_id?: string
  session_pinned?: boolean
  primary_provider?: string
  primary_model?: string
}

declare module '../../core/plugins.js' {
  interface RequestFacts {
    routing?: RoutingFacts
  }
}

/** How a target's key was chosen for it: by a rule's target, or by the session's earlier key. */
interface KeyPin {
  keyId: string
  source: 'rule' | 'session'
}

const KEY_PINS = 'routing.key_pins'
/** Bifrost's default lifetime of a session pin when `x-bf-session-ttl` is absent. */
export const DEFAULT_SESSION_TTL_SECONDS = 3600

export interface RoutingPluginOptions {
  engine: RoutingEngine
  state: GovernanceState
  lookup: TargetLookup
  /** A virtual key's weighted provider choice (governance, Bifrost 11.1), for rules that keep the provider. */
  routeByWeight: (vk: VirtualKeyRecord, req: Record<string, unknown>) => Target[] | undefined
  /** The configured keys of a provider. */
  providerKeys: (provider: string) => readonly ProviderKey[] | undefined
  capacity: (vk: VirtualKeyRecord | undefined, provider: string, model: string) => Promise<Capacity>
  sessions: SessionPins
}

/**
 * Routing after governance: routing rules (CEL) choose the provider, model and key before a
 * virtual key's weights do; `x-bf-api-key` / `x-bf-api-key-id` pin a provider key within the key's
 * `key_ids`; `x-bf-session-id` keeps a session on the provider and key that first served it.
 */
export class RoutingPlugin implements GatewayPlugin {
  readonly name = 'routing'

  constructor(private readonly opts: RoutingPluginOptions) {}

  /** Synchronous when there is nothing to route (no rules, no session): no promise made per request. */
  beforeRequest(
    ctx: GatewayContext,
    req: Record<string, unknown>,
  ): Target[] | undefined | Promise<Target[] | undefined> {
    const model = req.model
    if (typeof model !== 'string' || model === '') return undefined
    const sessionId = header(ctx, 'x-bf-session-id')
    if (this.opts.engine.size === 0 && !sessionId) return undefined
    return this.route(ctx, req, model, sessionId)
  }

  private async route(
    ctx: GatewayContext,
    req: Record<string, unknown>,
    model: string,
    sessionId: string | undefined,
  ): Promise<Target[] | undefined> {
    const vk = ctx.facts.virtualKey
    const base = this.baseTargets(vk, req)
    let targets: Omit<Target, 'index'>[] | undefined
    const pins = new Map<Omit<Target, 'index'>, KeyPin>()

    const decision = await this.decide(ctx, vk, req, base, model)
    if (decision) {
      const primary = { provider: decision.provider, model: decision.model }
      if (decision.keyId) pins.set(primary, { keyId: decision.keyId, source: 'rule' })
      const fallbacks =
        decision.fallbacks.length > 0
          ? decision.fallbacks.flatMap((f) => this.ruleFallback(f, decision.model))
          : (base?.slice(1) ?? [])
      targets = [primary, ...fallbacks]
      noteRoutingEngine(ctx, 'routing-rule')
      ctx.facts.routing = {
        rule_id: decision.rule.id,
        rule_name: decision.rule.name,
        rule_chain: decision.chain,
        primary_provider: primary.provider,
        primary_model: primary.model,
      }
    }

    const pin = sessionId ? this.opts.sessions.get(sessionId) : undefined
    if (sessionId) (ctx.facts.routing ??= {}).session_id = sessionId
    if (pin && pin.requested === ctx.modelRequested) {
      // The session goes where it went before; what it would get otherwise is its one failover.
      const pinned = { provider: pin.provider, model: pin.model }
      if (pin.keyId) pins.set(pinned, { keyId: pin.keyId, source: 'session' })
      targets = [pinned, ...(targets ?? base ?? [])]
      Object.assign(ctx.facts.routing!, {
        session_pinned: true,
        primary_provider: pin.provider,
        primary_model: pin.model,
      })
    }
    if (!targets) return undefined
    const indexed = targets.map((t, index) => ({ ...t, index }))
    ctx.state.set(
      KEY_PINS,
      new Map(indexed.flatMap((t, i) => (pins.has(targets[i]) ? [[t, pins.get(targets[i])!]] : []))),
    )
    return indexed
  }

  beforeTarget(ctx: GatewayContext, target: Target): void {
    const vk = ctx.facts.virtualKey
    // Governance sets the key's allowed keys for each target; without a virtual key they are ours to reset.
    if (!vk) ctx.allowedKeyIds = undefined
    const allowed = ctx.allowedKeyIds
    const byHeader = this.headerPin(ctx, target)
    if (byHeader) {
      if (allowed && !allowed.has(byHeader.id)) {
        throw new GatewayError(
          'forbidden',
          `virtual key "${vk?.name}" may not use key "${byHeader.name}" of provider ${target.provider} (not in its key_ids)`,
          { param: header(ctx, 'x-bf-api-key-id') ? 'x-bf-api-key-id' : 'x-bf-api-key', retryable: false },
        )
      }
      ctx.allowedKeyIds = new Set([byHeader.id])
      return
    }
    const pin = (ctx.state.get(KEY_PINS) as Map<Target, KeyPin> | undefined)?.get(target)
    if (!pin) return
    if (allowed && !allowed.has(pin.keyId)) {
      // A session's old key the virtual key no longer allows: the session moves on.
      if (pin.source === 'session') return
      throw new GatewayError(
        'forbidden',
        `routing rule "${ctx.facts.routing?.rule_name}" pins key ${pin.keyId} of ${target.provider}, which virtual key "${vk?.name}" may not use`,
        { retryable: true },
      )
    }
    ctx.allowedKeyIds = new Set([pin.keyId])
  }

  onEnd(ctx: GatewayContext): Promise<void> | undefined {
    const sessionId = ctx.facts.routing?.session_id
    if (!sessionId || ctx.error) return
    const served = ctx.attemptLog.findLast((a) => a.error === undefined && a.endNs !== undefined)
    if (!served || !ctx.model) return
    const keyId = served.keyId === 'keyless' || served.keyId === 'direct' ? null : served.keyId
    const ttl = Number(header(ctx, 'x-bf-session-ttl'))
    const ttlSeconds = Number.isFinite(ttl) && ttl > 0 ? ttl : DEFAULT_SESSION_TTL_SECONDS
    return this.opts.sessions
      .set(
        sessionId,
        { provider: served.provider, model: ctx.model, keyId, requested: ctx.modelRequested },
        ttlSeconds * 1000,
      )
      .catch(() => undefined)
  }

  /**
   * What the rules make of a sample request, without sending it (Heimdall's rule tester): the
   * decision (capacity variables read as they stand now), and the targets the request would get
   * without rules.
   */
  async dryRun(sample: {
    body: Record<string, unknown>
    headers: GatewayContext['headers']
    requestType: string
    virtualKey?: VirtualKeyRecord
  }): Promise<{ decision?: RoutingDecision; base?: Target[] }> {
    const base = this.baseTargets(sample.virtualKey, sample.body)
    const model = typeof sample.body.model === 'string' ? sample.body.model : ''
    const decision = await this.decide(sample, sample.virtualKey, sample.body, base, model)
    return { decision, base }
  }

  /** What the request would get without rules: the key's weighted choice, or its model and fallbacks. */
  private baseTargets(vk: VirtualKeyRecord | undefined, req: Record<string, unknown>): Target[] | undefined {
    const weighted = vk ? this.opts.routeByWeight(vk, req) : undefined
    if (weighted) return weighted
    try {
      return resolveTargets(req.model, req.fallbacks, this.opts.lookup)
    } catch {
      // The gateway answers a model it cannot route; a rule may still route it.
      return undefined
    }
  }

  private async decide(
    ctx: { requestType: string; headers: GatewayContext['headers'] },
    vk: VirtualKeyRecord | undefined,
    req: Record<string, unknown>,
    base: Target[] | undefined,
    model: string,
  ): Promise<RoutingDecision | undefined> {
    if (this.opts.engine.size === 0) return undefined
    const team = this.opts.state.team(vk?.team_id)
    const decision = await this.opts.engine.evaluate({
      model: base?.[0]?.model ?? model,
      provider: base?.[0]?.provider ?? '',
      requestType: ctx.requestType.replace(/_stream$/, ''),
      headers: flatHeaders(ctx.headers),
      params: paramsOf(req),
      virtualKey: vk,
      team,
      customer: this.opts.state.customer(vk?.customer_id ?? team?.customer_id),
      capacity: (provider, m) => this.opts.capacity(vk, provider, m),
    })
    // A rule that keeps the provider of a request whose provider is unknown routes nowhere.
    return decision && decision.provider ? decision : undefined
  }

  /**
   * A rule's fallback: `provider/model`, or `provider/` for the routed model (Bifrost). One naming a
   * provider this gateway does not know is left out rather than failing the request.
   */
  private ruleFallback(f: string, model: string): Omit<Target, 'index'>[] {
    if (f.endsWith('/') && this.opts.lookup.isProviderName(f.slice(0, -1))) {
      return [{ provider: f.slice(0, -1), model }]
    }
    try {
      return [parseModel(f, this.opts.lookup)]
    } catch {
      return []
    }
  }

  private headerPin(ctx: GatewayContext, target: Target): ProviderKey | undefined {
    const id = header(ctx, 'x-bf-api-key-id')
    const name = id ? undefined : header(ctx, 'x-bf-api-key')
    if (!id && !name) return undefined
    const keys = this.opts.providerKeys(target.provider) ?? []
    const key = id ? keys.find((k) => k.id === id) : keys.find((k) => k.name === name)
    if (!key) {
      throw new GatewayError(
        'invalid_request',
        `provider ${target.provider} has no key ${id ? `with id "${id}"` : `named "${name}"`}`,
        { param: id ? 'x-bf-api-key-id' : 'x-bf-api-key', retryable: false },
      )
    }
    return key
  }
}

function header(ctx: GatewayContext, name: string): string | undefined {
  const v = ctx.headers[name]
  const s = Array.isArray(v) ? v[0] : v
  return s === undefined || s === '' ? undefined : s.trim()
}

function flatHeaders(headers: GatewayContext['headers']): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v
  }
  return out
}

/** The request's parameters (temperature, max_tokens, user ...): its fields other than the content. */
function paramsOf(req: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(req)) {
    if (k === 'messages' || k === 'input' || k === 'prompt' || k === 'model' || k === 'fallbacks') continue
    if (v !== undefined && v !== null) out[k] = v
  }
  return out
}
