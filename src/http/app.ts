import type { FastifyInstance } from 'fastify'
import type { Cluster } from '../cluster/index.js'
import type { Gateway } from '../core/gateway.js'
import { GatewayError } from '../core/errors.js'
import type { ProviderRegistry } from '../core/router/registry.js'
import type { GovernanceRuntime } from '../governance/index.js'
import type { McpClientManager } from '../mcp/index.js'
import type { Logger } from '../observability/logger.js'
import { createObservability } from '../observability/index.js'
import { isBuiltinProvider, type ProviderAdapter } from '../providers/index.js'
import type { ConfigStore } from '../store/index.js'
import { setupAsyncInference, type AsyncJobsSettings } from './async-setup.js'
import {
  joinCluster,
  loadConfig,
  openStores,
  type ClientSettings,
  type HeimdallOptions,
} from './compose/foundation.js'
import { startGateway } from './compose/gateway.js'
import { Closers, lifecycle, type Lifecycle } from './compose/lifecycle.js'
import { registerManagementRoutes } from './compose/management-routes.js'
import { startMcpClients } from './compose/mcp-clients.js'
import { registerMcpParts } from './compose/mcp-routes.js'
import { startServer } from './compose/server.js'
import { startPlugins } from './plugins-setup.js'
import { registerObservabilityRoutes } from './routes/observability.js'
import { registerUi } from './ui.js'

export type { HeimdallOptions }

export interface Heimdall extends Lifecycle {
  app: FastifyInstance
  gateway: Gateway
  registry: ProviderRegistry<ProviderAdapter>
  store: ConfigStore
  cluster: Cluster
  governance: GovernanceRuntime
  mcp: McpClientManager
  client: ClientSettings
  logger: Logger
}

/**
 * Assembles Heimdall from its parts, in this order: config, stores and providers, MCP clients,
 * cluster, gateway with its built-in hooks, HTTP server, routes, observability, plugins, async jobs.
 * A part that fails closes what the earlier ones opened.
 */
export async function createHeimdall(opts: HeimdallOptions): Promise<Heimdall> {
  const base = await loadConfig(opts)
  const { config, client, logger, env } = base
  const closers = new Closers()
  try {
    const stores = await openStores(base, closers)
    const { store, registry, reloads } = stores
    const mcp = await startMcpClients(base, {
      store,
      closers,
      virtualKeyName: (id) => parts.governance.state.virtualKey(id)?.name,
    })
    const cluster = await joinCluster(base, closers)
    const parts = await startGateway(base, { ...stores, cluster, mcp, closers })
    const { gateway, governance } = parts
    const server = await startServer(base, { gateway, store, cluster, mcp })
    const { app, adminAuth } = server
    await registerManagementRoutes(base, { ...stores, ...parts, cluster, server })
    await registerMcpParts(base, { ...parts, store, cluster, reloads, mcp, server, closers })

    const observability = await createObservability({
      app,
      config,
      client,
      configStore: store,
      appDir: base.appDir,
      env,
      logger,
      cluster,
      pricing: governance.prices,
      owners: governance.state,
      isBuiltinProvider,
      providerHealth: () => gateway.health.snapshot(),
    })
    closers.add(() => observability.close())
    registerObservabilityRoutes(app, observability, { config, client, configStore: store, env, adminAuth })
    server.logs.connected = () => observability.logsConnected()
    server.logs.ping = () => observability.pingLogs()
    for (const hook of observability.hooks) gateway.addHook(hook)
    // Configured plugins (mocker, jsonparser, users' modules) run after the built-in ones by default.
    const { configPath } = base
    const plugins = await startPlugins({ app, gateway, store, cluster, config, configPath, reloads, logger })
    closers.add(() => plugins.close())
    // Async inference and webhooks: jobs replay the synchronous routes, so they come after them.
    const asyncInference = await setupAsyncInference({
      app,
      store,
      governance,
      client,
      settings: (config as { async_jobs?: AsyncJobsSettings }).async_jobs,
      redisUrl: base.redisUrl,
      clusterPrefix: config.cluster?.prefix,
      enforceAuth: parts.enforceAuth,
      logger,
      env,
      events: parts.events,
      health: gateway.health,
    })
    registerUi(app)

    reloads.start()
    // Stopped first on shutdown, so that no reload starts while the rest closes.
    closers.add(() => reloads.close())
    const { listen, close } = lifecycle({
      app,
      logger,
      closers,
      port: opts.port,
      host: opts.host,
      graceMs: () => client.shutdown_timeout_seconds * 1000,
      jobs: asyncInference,
    })
    return {
      app,
      gateway,
      registry,
      store,
      cluster,
      governance,
      mcp: mcp.manager,
      client,
      logger,
      listen,
      close,
    }
  } catch (err) {
    await closers.run()
    throw err
  }
}

export { GatewayError }
