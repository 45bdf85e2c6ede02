import type { GatewayContext, Target } from '../core/context.js'
import type { GatewayPlugin } from '../core/plugins.js'
import { DEFAULT_ADAPTIVE, speedRatio, type HealthTracker } from '../core/router/health.js'
import { noteRoutingEngine } from '../core/routing-engines.js'
import type { ProviderRegistry } from '../core/router/registry.js'
import type { VirtualKeyRecord } from '../governance/index.js'
import type { ProviderAdapter } from '../providers/index.js'

type RouteByWeight = (vk: VirtualKeyRecord, req: Record<string, unknown>) => Target[] | undefined

/**
 * A virtual key's provider weights with adaptive load balancing: each provider whose
 * `adaptive_load_balancing` is on keeps the share of its weight that its latency (against the
 * fastest of the key's providers) and its errors earn, never below its `min_weight_ratio`.
 */
export class AdaptiveProviderWeights {
  constructor(
    private readonly health: HealthTracker,
    private readonly registry: ProviderRegistry<ProviderAdapter>,
  ) {}

  /** The key with its weights scaled; undefined when none of its providers has a measurement to go by. */
  scale(vk: VirtualKeyRecord, model: unknown): VirtualKeyRecord | undefined {
    if (typeof model !== 'string') return undefined
    let best = Infinity
    const speeds = vk.provider_configs.map((pc) => {
      const cfg = this.registry.get(pc.provider)?.config
      const speed = cfg && pc.weight ? this.health.providerSpeed(cfg, model) : undefined
      if (speed && speed.ewmaMs < best) best = speed.ewmaMs
      const min = cfg?.adaptive_load_balancing?.min_weight_ratio ?? DEFAULT_ADAPTIVE.min_weight_ratio
      return speed && { ...speed, min }
    })
    if (best === Infinity) return undefined
    const provider_configs = vk.provider_configs.map((pc, i) => {
      const s = speeds[i]
      if (!s || !pc.weight) return pc
      const ratio = Math.min(1, Math.max(s.min, speedRatio(best, s.ewmaMs) * s.reliability))
      return { ...pc, weight: pc.weight * ratio }
    })
    return { ...vk, provider_configs }
  }

  /** `route` with the key's weights scaled where that applies. */
  wrap(route: RouteByWeight): RouteByWeight {
    return (vk, req) => route(this.scale(vk, req.model) ?? vk, req)
  }

  /**
   * A plugin after governance (which drew a provider by the configured weights): draws again by the
   * scaled weights when the caller's key has adaptive providers; otherwise leaves governance's choice.
   */
  plugin(route: RouteByWeight): GatewayPlugin {
    return {
      name: 'adaptive-weights',
      beforeRequest: (ctx: GatewayContext, req: Record<string, unknown>) => {
        const vk = ctx.facts.virtualKey
        const scaled = vk && this.scale(vk, req.model)
        const targets = scaled ? route(scaled, req) : undefined
        if (targets) noteRoutingEngine(ctx, 'loadbalancing')
        return targets
      },
    }
  }
}
