import type { FastifyInstance } from 'fastify'
import type { ChangeBus } from '../cluster/index.js'
import { GatewayError } from '../core/errors.js'
import {
  DEFAULT_ADAPTIVE,
  DEFAULT_CIRCUIT_BREAKER,
  type CircuitTransition,
  type HealthStatus,
  type HealthTracker,
  type TargetHealthView,
} from '../core/router/health.js'
import type { ProviderRegistry } from '../core/router/registry.js'
import type { GatewayPlugin } from '../core/plugins.js'
import type { ClientConfig, ProviderKey } from '../core/schemas/index.js'
import type { ProviderAdapter } from '../providers/index.js'

/** Circuit changes, told to every node (Redis pub/sub with several). */
export const HEALTH_TOPIC = 'providers.health'

export interface ProviderHealthDeps {
  health: HealthTracker
  registry: ProviderRegistry<ProviderAdapter>
  bus: ChangeBus
  /** The live client settings (`stream_keepalive_seconds`). */
  client: ClientConfig
}

export interface ProviderHealthView {
  provider: string
  status: HealthStatus | 'unknown'
  circuit_breaker: Record<string, unknown>
  adaptive_load_balancing: Record<string, unknown>
  targets: TargetHealthView[]
}

/**
 * Provider health: `GET /api/providers/health`, circuit changes shared with the other nodes, and
 * SSE keep-alive comments (`client.stream_keepalive_seconds`) for the stream writers.
 */
export function registerProviderHealth(app: FastifyInstance, deps: ProviderHealthDeps): void {
  const { health, registry, bus } = deps
  health.onTransition((t) => void bus.publish(HEALTH_TOPIC, t).catch(() => undefined))
  bus.subscribe(HEALTH_TOPIC, (m) => {
    const msg = m as Partial<CircuitTransition>
    if (typeof msg?.provider !== 'string' || typeof msg.keyId !== 'string' || typeof msg.model !== 'string')
      return
    const entry = registry.get(msg.provider)
    if (entry) health.applyRemote(msg as CircuitTransition, entry.config)
  })
  registry.onChange((name) => {
    if (!registry.has(name)) health.forget(name)
  })
  app.decorate('sseKeepAliveMs', () => (deps.client.stream_keepalive_seconds ?? 0) * 1000)

  app.get<{ Querystring: { provider?: string } }>('/api/providers/health', async (request) => {
    const only = request.query.provider
    if (only !== undefined && !registry.has(only)) {
      throw new GatewayError('not_found', `provider ${only} not found`, { param: 'provider' })
    }
    const providers = providerHealth(health, registry).filter(
      (p) => only === undefined || p.provider === only,
    )
    return { providers, count: providers.length }
  })
}

/**
 * A stream that failed after its first byte reached the client (the key pick saw it succeed):
 * the failure counts against the target that served it, as one before the first byte would.
 */
export function streamFailures(
  health: HealthTracker,
  registry: ProviderRegistry<ProviderAdapter>,
): GatewayPlugin {
  return {
    name: 'stream-health',
    critical: false,
    onEnd(ctx) {
      const error = ctx.error
      if (!error || ctx.firstChunkNs === undefined || !ctx.model) return
      const served = ctx.attemptLog.at(-1)
      const config = served && !served.error ? registry.get(served.provider)?.config : undefined
      if (!config || !served) return
      health.failure(config, { id: served.keyId, name: served.keyName } as ProviderKey, ctx.model, error)
    },
  }
}

/** Every configured provider with its tracked targets, for the API and /metrics. */
export function providerHealth(
  health: HealthTracker,
  registry: ProviderRegistry<ProviderAdapter>,
): ProviderHealthView[] {
  const tracked = new Map(health.snapshot().map((p) => [p.provider, p.targets]))
  return registry.list().map(({ config }) => {
    const targets = tracked.get(config.name) ?? []
    return {
      provider: config.name,
      status: providerStatus(targets),
      circuit_breaker: { ...DEFAULT_CIRCUIT_BREAKER, enabled: false, ...config.circuit_breaker },
      adaptive_load_balancing: { ...DEFAULT_ADAPTIVE, enabled: false, ...config.adaptive_load_balancing },
      targets,
    }
  })
}

/** A provider is healthy when its targets are; unhealthy when every target that saw traffic is; else degraded. */
function providerStatus(targets: TargetHealthView[]): ProviderHealthView['status'] {
  const seen = targets.filter((t) => t.status !== 'idle')
  if (seen.length === 0) return 'unknown'
  if (seen.every((t) => t.status === 'unhealthy')) return 'unhealthy'
  if (seen.every((t) => t.status === 'healthy')) return 'healthy'
  return 'degraded'
}
