import type { Cluster } from '../../cluster/index.js'
import { GatewayEvents } from '../../core/events.js'
import { Gateway } from '../../core/gateway.js'
import { createGovernanceRuntime, type GovernanceRuntime, RoutingRuntime } from '../../governance/index.js'
import { McpToolInjection } from '../../mcp/index.js'
import { isKeyless } from '../../providers/index.js'
import { AdaptiveProviderWeights } from '../adaptive-weights.js'
import { streamFailures } from '../provider-health.js'
import { PROVIDERS_TOPIC } from '../routes/providers.js'
import { syncProviders } from '../store-reloads.js'
import type { Base, Stores } from './foundation.js'
import type { Closers } from './lifecycle.js'
import type { McpClients } from './mcp-clients.js'

export interface GatewayParts {
  gateway: Gateway
  governance: GovernanceRuntime
  routing: RoutingRuntime
  /** `client.enforce_auth_on_inference`, read on each request. */
  enforceAuth: () => boolean
  /** Operational events (budget exhausted, key rotated) for the webhooks. */
  events: GatewayEvents
}

/**
 * The gateway and its built-in hooks in their order: governance (which resolves the virtual key),
 * routing rules, MCP tool injection. Provider changes made through one node's API reach the others.
 */
export async function startGateway(
  base: Base,
  deps: Stores & { cluster: Cluster; mcp: McpClients; closers: Closers },
): Promise<GatewayParts> {
  const { client, config, logger } = base
  const { store, cluster, registry, reloads, mcp, closers } = deps
  const gateway = new Gateway({
    registry,
    isKeyless,
    maxTotalAttempts: client.max_total_attempts,
    dropExcessRequests: () => client.drop_excess_requests === true,
    env: base.env,
  })

  // Key-bound per-user MCP credentials whose virtual key lost access to their client are orphaned,
  // by the node that made the governance change.
  const orphanUnreachable = async () => {
    const hasAccess = (vkId: string, clientId: string) => {
      const cfg = mcp.manager.config(clientId)
      if (!cfg) return false
      if (cfg.allow_on_all_virtual_keys) return true
      const vk = governance.state.virtualKey(vkId)
      return vk?.mcp_configs.some((m) => m.mcp_client_name === cfg.name) ?? false
    }
    await mcp.perUserOAuth.orphanUnreachable(hasAccess)
  }
  const enforceAuth = () => client.enforce_auth_on_inference === true
  const events = new GatewayEvents()
  const governance: GovernanceRuntime = await createGovernanceRuntime({
    store,
    cluster,
    logger,
    lookup: gateway.lookup,
    enforceAuth,
    fileGovernance: config.governance,
    fileProviders: config.providers,
    env: base.env,
    reservationTtlMs: (config.cluster?.reservation_ttl_seconds ?? client.request_timeout_seconds + 60) * 1000,
    afterChange: orphanUnreachable,
    reloads,
    vkRotationCooldown: () => client.vk_rotation_cooldown,
    events,
  })
  closers.add(() => governance.close())
  gateway.addHook(governance.hook)
  // A virtual key's provider weights, scaled by health where adaptive load balancing is on.
  const adaptive = new AdaptiveProviderWeights(gateway.health, registry)
  gateway.addHook(adaptive.plugin((vk, req) => governance.hook.routeByWeight(vk, req)))
  // Streams that fail after their first byte count against the provider key that served them.
  gateway.addHook(streamFailures(gateway.health, registry))
  // Routing rules, key pinning and session affinity: after governance, which resolves the virtual key.
  const routing = await RoutingRuntime.create({
    store,
    cluster,
    logger,
    state: governance.state,
    lookup: gateway.lookup,
    routeByWeight: adaptive.wrap((vk, req) => governance.hook.routeByWeight(vk, req)),
    providerKeys: (provider) => registry.get(provider)?.config.keys,
    chainMaxDepth: () => (client as { routing_chain_max_depth?: number }).routing_chain_max_depth,
    fileRules: (config.governance as { routing_rules?: unknown } | undefined)?.routing_rules,
    reloads,
  })
  closers.add(() => routing.close())
  gateway.addHook(routing.plugin)
  // After governance, which resolves the virtual key whose MCP tools are added.
  gateway.addHook(new McpToolInjection({ source: mcp.manager, anonymousTools: mcp.anonymousTools }))

  reloads.add('providers', () => syncProviders(store, registry, logger))
  cluster.bus.subscribe(PROVIDERS_TOPIC, () => reloads.reload('providers'))
  return { gateway, governance, routing, enforceAuth, events }
}
