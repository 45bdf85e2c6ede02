import type { FastifyInstance } from 'fastify'
import type { ChangeBus, SharedRecords } from '../cluster/index.js'
import { GatewayError } from '../core/errors.js'
import {
  DEFAULT_ADAPTIVE,
  DEFAULT_CIRCUIT_BREAKER,
  type HealthStatus,
  type HealthTracker,
  type TargetHealthView,
} from '../core/router/health.js'
import type { ProviderRegistry } from '../core/router/registry.js'
import type { GatewayPlugin } from '../core/plugins.js'
import type { ClientConfig, ProviderKey } from '../core/schemas/index.js'
import type { ProviderAdapter } from '../providers/index.js'
import { shareHealth, type ResetRequest } from './health-sharing.js'

export interface ProviderHealthDeps {
  health: HealthTracker
  registry: ProviderRegistry<ProviderAdapter>
  bus: ChangeBus
  records: SharedRecords
  /** The live client settings (`stream_keepalive_seconds`). */
  client: ClientConfig
  onError?: (err: Error, what: string) => void
}

export interface ProviderHealthView {
  provider: string
  status: HealthStatus | 'unknown'
  circuit_breaker: Record<string, unknown>
  adaptive_load_balancing: Record<string, unknown>
  targets: TargetHealthView[]
}

/**
 * Provider health: `GET /api/provider-health`, `POST /api/provider-health/reset`, health shared
 * with the other nodes (`health-sharing.ts`), and SSE keep-alive comments
 * (`client.stream_keepalive_seconds`) for the stream writers. Not under `/api/providers/`, where
 * `health` would shadow a custom provider of that name.
 */
export async function registerProviderHealth(app: FastifyInstance, deps: ProviderHealthDeps): Promise<void> {
  const { health, registry } = deps
  const sharing = shareHealth(deps)
  app.addHook('onClose', async () => sharing.stop())
  // A node that starts after circuits opened elsewhere skips those keys from its first request.
  await sharing.load().catch((err: unknown) => deps.onError?.(err as Error, 'loading open circuits'))
  registry.onChange((name) => {
    if (!registry.has(name)) health.forget(name)
  })
  app.decorate('sseKeepAliveMs', () => (deps.client.stream_keepalive_seconds ?? 0) * 1000)

  app.get<{ Querystring: { provider?: string } }>('/api/provider-health', async (request) => {
    const only = request.query.provider
    if (only !== undefined && !registry.has(only)) {
      throw new GatewayError('not_found', `provider ${only} not found`, { param: 'provider' })
    }
    const providers = providerHealth(health, registry).filter(
      (p) => only === undefined || p.provider === only,
    )
    return { providers, count: providers.length }
  })

  app.post('/api/provider-health/reset', async (request) => {
    const req = resetRequest(request.body)
    if (!registry.has(req.provider)) {
      throw new GatewayError('not_found', `provider ${req.provider} not found`, { param: 'provider' })
    }
    const { reset, shared } = await sharing.reset(req)
    const what = [req.provider, req.key_id && `key ${req.key_id}`, req.model && `model ${req.model}`]
      .filter(Boolean)
      .join(', ')
    return {
      message: shared
        ? `circuits of ${what} reset on every node`
        : `circuits of ${what} reset on this node only (the other nodes could not be told)`,
      reset,
      shared,
    }
  })
}

/** The body of a reset: `provider` required; `key_id` and `model` narrow it. */
function resetRequest(body: unknown): ResetRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new GatewayError('invalid_request', 'the body must be a JSON object with provider', {
      param: 'provider',
    })
  }
  const b = body as Record<string, unknown>
  for (const field of ['provider', 'key_id', 'model'] as const) {
    const v = b[field]
    if ((v !== undefined || field === 'provider') && (typeof v !== 'string' || v === '')) {
      throw new GatewayError('invalid_request', `${field} must be a non-empty string`, { param: field })
    }
  }
  return {
    provider: b.provider as string,
    ...(b.key_id !== undefined ? { key_id: b.key_id as string } : {}),
    ...(b.model !== undefined ? { model: b.model as string } : {}),
  }
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
