import type { Cluster } from '../../cluster/index.js'
import { AccessProfileService, governanceKeyStore, UserService } from '../../governance/index.js'
import { registerProviderHealth } from '../provider-health.js'
import { registerAccessProfileRoutes } from '../routes/access-profiles.js'
import { CONFIG_TOPIC, loadClientConfig, registerConfigRoutes } from '../routes/config.js'
import { registerGovernanceRoutes } from '../routes/governance.js'
import { registerModelLimitRoutes } from '../routes/model-limits.js'
import { registerModelRoutes } from '../routes/models.js'
import { loadPricingOverrides, PRICING_TOPIC, registerPricingRoutes } from '../routes/pricing.js'
import { PROVIDERS_TOPIC, registerProviderRoutes } from '../routes/providers.js'
import { proxyConfigView, registerProxyConfigRoutes } from '../routes/proxy-config.js'
import { registerQuotaRoute } from '../routes/quota.js'
import { registerRoutingRuleRoutes } from '../routes/routing-rules.js'
import { registerSessionRoutes } from '../routes/session.js'
import { registerUserRoutes } from '../routes/users.js'
import type { Base, Stores } from './foundation.js'
import type { GatewayParts } from './gateway.js'
import type { HttpServer } from './server.js'

const VERSION = '0.1.0'

/**
 * The management API of the configuration: session, providers, models, client config, proxy,
 * pricing, governance, routing rules, users and access profiles. Changes reach the other nodes.
 */
export async function registerManagementRoutes(
  base: Base,
  deps: Stores & GatewayParts & { cluster: Cluster; server: HttpServer },
): Promise<void> {
  const { client, config } = base
  const { store, cluster, registry, reloads, governance, server } = deps
  const { app, adminAuth } = server
  registerSessionRoutes(app, { adminAuth, enforceAuthOnInference: deps.enforceAuth })
  registerProviderRoutes(app, {
    registry,
    store,
    onChange: (name) => cluster.bus.publish(PROVIDERS_TOPIC, { name }),
  })
  // GET /api/provider-health and its reset, health shared with the other nodes, SSE keep-alive.
  await registerProviderHealth(app, {
    health: deps.gateway.health,
    registry,
    bus: cluster.bus,
    records: cluster.records,
    client,
    onError: (err, what) => base.logger.warn({ err: err.message }, `provider health: ${what}`),
  })
  registerModelRoutes(app, { registry })
  registerQuotaRoute(app, { state: governance.state, usage: governance.usage })
  registerConfigRoutes(app, {
    store,
    client,
    fileClient: config.client,
    auth: server.authBlock as { is_enabled?: boolean; admin_username?: string } | undefined,
    isCacheConnected: () => cluster.kind === 'redis',
    isLogsConnected: () => server.logs.connected(),
    onChange: () => cluster.bus.publish(CONFIG_TOPIC, {}),
    version: VERSION,
    proxyConfig: () => proxyConfigView(store),
  })
  reloads.add('client config', () => loadClientConfig(store, client, config.client))
  cluster.bus.subscribe(CONFIG_TOPIC, () => reloads.reload('client config'))
  await registerProxyConfigRoutes(app, { store, bus: cluster.bus, adminAuth })
  await loadPricingOverrides(store, governance.pricing)
  reloads.add('pricing overrides', () => loadPricingOverrides(store, governance.pricing))
  cluster.bus.subscribe(PRICING_TOPIC, () => reloads.reload('pricing overrides'))
  registerPricingRoutes(app, {
    store,
    overrides: governance.pricing,
    onChange: () => cluster.bus.publish(PRICING_TOPIC, {}),
  })
  registerGovernanceRoutes(app, { service: governance.service, usage: governance.usage })
  registerModelLimitRoutes(app, { modelLimits: governance.modelLimits, usage: governance.usage })
  registerRoutingRuleRoutes(app, { routing: deps.routing })
  const users = new UserService(store.db)
  const accessProfiles = new AccessProfileService(store.db, governanceKeyStore(governance.service))
  registerUserRoutes(app, { store, users, accessProfiles })
  registerAccessProfileRoutes(app, { users, accessProfiles })
}
