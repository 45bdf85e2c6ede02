import { mkdir } from 'node:fs/promises'
import type { Socket } from 'node:net'
import { resolve } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { resolveSecret } from '../core/config.js'
import { Gateway } from '../core/gateway.js'
import { GatewayError } from '../core/errors.js'
import { ProviderRegistry } from '../core/router/registry.js'
import {
  DEFAULT_CLIENT,
  type ClientConfig,
  type ConfigFile,
  type ProviderConfigInput,
} from '../core/schemas/index.js'
import { createLogger, type Logger } from '../observability/logger.js'
import { createAdapter, isBuiltinProvider, isKeyless, type ProviderAdapter } from '../providers/index.js'
import { openConfigStore, ProviderObjects, reconcileProviders, type ConfigStore } from '../store/index.js'
import { createCluster, type Cluster } from '../cluster/index.js'
import { governanceKeyStore } from '../governance/access-profile-shapes.js'
import { AccessProfileService } from '../governance/access-profiles.js'
import { RoutingRuntime } from '../governance/routing-rules/index.js'
import { createGovernanceRuntime, type GovernanceRuntime } from '../governance/runtime.js'
import { UserService } from '../governance/users.js'
import { installAdminAuth } from './auth.js'
import { assertStdioAllowed, withoutStdioClients } from './mcp-stdio-policy.js'
import { installPageHeaders } from './page-headers.js'
import { installOriginGuard, refusedOrigin, type OriginPolicy } from './origin-guard.js'
import { announceSetupToken, setupToken } from './setup-token.js'
import { registerAccessProfileRoutes } from './routes/access-profiles.js'
import { registerGovernanceRoutes } from './routes/governance.js'
import { registerRoutingRuleRoutes } from './routes/routing-rules.js'
import { McpClientManager, SqlMcpClientRepo } from '../mcp/index.js'
import { DEFAULT_MCP_AGENT_DEPTH } from '../mcp/agent.js'
import { McpToolInjection } from '../mcp/inject.js'
import { parseAnonymousTools, type AnonymousToolGrants } from '../mcp/access.js'
import { sandboxLimitsFromConfig } from '../mcp/code-mode/index.js'
import { registerMcpServerRoute } from '../mcp/server.js'
import { VirtualMcps } from '../mcp/virtual.js'
import { registerVirtualMcpRoutes, VIRTUAL_MCP_TOPIC } from './routes/mcp-virtual.js'
import { AuthorizationServer, consentIdentity, type OAuthServerConfig } from '../mcp/oauth-server/index.js'
import { registerOAuthServerRoutes, requestOrigin } from './routes/oauth-server.js'
import { MCP_TOPIC, registerMcpRoutes } from './routes/mcp.js'
import { PerUserOAuth } from '../mcp/oauth-client/index.js'
import { registerMcpSessionRoutes, sessionCaller } from './routes/mcp-sessions.js'
import { registerUpstreamLoginRoutes } from './routes/upstream-login.js'
import { currentRequestOrigin, installRequestOrigin } from './request-origin.js'
import { registerMcpInferenceRoutes } from './routes/mcp-inference.js'
import { PROVIDERS_TOPIC, registerProviderRoutes } from './routes/providers.js'
import { loadPricingOverrides, PRICING_TOPIC, registerPricingRoutes } from './routes/pricing.js'
import { registerModelRoutes } from './routes/models.js'
import { proxyConfigView, registerProxyConfigRoutes } from './routes/proxy-config.js'
import { registerQuotaRoute } from './routes/quota.js'
import { CONFIG_TOPIC, loadClientConfig, registerConfigRoutes } from './routes/config.js'
import { registerSessionRoutes } from './routes/session.js'
import { registerUserRoutes } from './routes/users.js'
import { registerObservabilityRoutes } from './routes/observability.js'
import { buildServer } from './server.js'
import { createStoreReloads, syncProviders } from './store-reloads.js'
import { adminOnInference } from './routes/file-ownership.js'
import { destroyUpgradedSockets } from './upgrade.js'
import { registerUi } from './ui.js'
import { createObservability } from '../observability/index.js'
import { inFile, readConfigFile, storeSpec, validateFileProviders } from './config-file.js'
import { acceptBifrostShapes } from './bifrost-shapes.js'
import { startPlugins } from './plugins-setup.js'
import { setupAsyncInference, type AsyncJobsSettings } from './async-setup.js'

export interface HeimdallOptions {
  /** Where config.json and the SQLite files live. */
  appDir: string
  /** Path of the config file; defaults to `<appDir>/config.json`. A missing file means defaults. */
  configPath?: string
  /** The config as an object, instead of a file (tests). */
  config?: ConfigFile
  port?: number
  host?: string
  logLevel?: string
  /** A logger to use instead of a new one (tests). */
  logger?: Logger
  env?: NodeJS.ProcessEnv
}

export interface Heimdall {
  app: FastifyInstance
  gateway: Gateway
  registry: ProviderRegistry<ProviderAdapter>
  store: ConfigStore
  cluster: Cluster
  governance: GovernanceRuntime
  mcp: McpClientManager
  client: Required<Pick<ClientConfig, keyof typeof DEFAULT_CLIENT>> & ClientConfig
  logger: Logger
  /** Starts listening; resolves with the base URL. */
  listen(): Promise<string>
  /** Stops accepting, lets in-flight requests and streams finish (bounded), closes the stores. */
  close(): Promise<void>
}

const VERSION = '0.1.0'

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1'])

/** Assembles Heimdall: config, stores, cluster, providers, governance, gateway and HTTP server. */
export async function createHeimdall(opts: HeimdallOptions): Promise<Heimdall> {
  const env = opts.env ?? process.env
  const appDir = resolve(opts.appDir)
  await mkdir(appDir, { recursive: true })
  const configPath = opts.configPath ?? resolve(appDir, 'config.json')
  const logger = opts.logger ?? createLogger(opts.logLevel ?? 'info')
  const config = opts.config
    ? (acceptBifrostShapes(opts.config, logger, env) as ConfigFile)
    : await readConfigFile(configPath, logger, env)
  const client = { ...DEFAULT_CLIENT, ...config.client }

  const encryptionKeyRef = config.encryption_key ?? env.HEIMDALL_ENCRYPTION_KEY ?? env.BIFROST_ENCRYPTION_KEY
  const encryptionKey = encryptionKeyRef ? resolveSecret(encryptionKeyRef, env) : undefined

  const registry = new ProviderRegistry<ProviderAdapter>({
    create: createAdapter,
    isKnown: isBuiltinProvider,
  })
  const fileProviders = (config.providers ?? {}) as Record<string, ProviderConfigInput>
  validateFileProviders(fileProviders, configPath)

  // With the config store switched off, an in-memory one holds the file's configuration: API
  // changes then last until the process stops.
  const spec = storeSpec(config, env)
  const store = await openConfigStore(
    spec.enabled === false ? { type: 'sqlite', config: { path: ':memory:' } } : spec,
    {
      appDir,
      encryptionKey,
    },
  )
  const closers: (() => Promise<void>)[] = [() => store.close()]
  try {
    // Reloads of what this node holds in memory: on change events, retried, and checked on a timer.
    const reloads = createStoreReloads(store, spec, logger)
    closers.unshift(async () => reloads.close())
    if (!encryptionKey && spec.enabled !== false) {
      logger.warn('no encryption key set: provider keys are stored unencrypted (set HEIMDALL_ENCRYPTION_KEY)')
    }
    await loadClientConfig(store, client, config.client)
    for (const p of await reconcileProviders(store, fileProviders)) {
      try {
        registry.set(p)
      } catch (err) {
        // A stored provider this version cannot serve must not keep the gateway from starting.
        logger.error({ provider: p.name, err: (err as Error).message }, 'stored provider skipped')
      }
    }

    // MCP clients: connections start in the background; stdio children are killed on shutdown.
    const mcpSettings = (config.mcp ?? {}) as {
      client_configs?: unknown[]
      allow_stdio?: boolean
      tool_manager_config?: { max_agent_depth?: number }
      anonymous_tools?: unknown
      virtual_mcps?: unknown[]
    }
    // Per-user OAuth to upstream MCP servers; its closures run only once requests arrive.
    const perUserOAuth: PerUserOAuth = new PerUserOAuth({
      store,
      clients: {
        config: (id) => mcp.config(id),
        verified: async (id) => {
          await mcp.verify(id)
        },
      },
      externalUrl: () => (client as { mcp_external_client_url?: string }).mcp_external_client_url,
      requestOrigin: currentRequestOrigin,
      listenHost: () => opts.host ?? '127.0.0.1',
      names: { virtualKey: (id) => governance.state.virtualKey(id)?.name },
    })
    const mcp = new McpClientManager({
      perUserAuth: perUserOAuth,
      repo:
        mcpSettings.allow_stdio === false
          ? withoutStdioClients(new SqlMcpClientRepo(store), (c) =>
              logger.warn({ mcp_client: c.name }, 'stdio MCP client not started: mcp.allow_stdio is false'),
            )
          : new SqlMcpClientRepo(store),
      env,
      log: (level, message) => logger[level](message),
    })
    closers.unshift(() => mcp.close())
    let anonymousGrants: AnonymousToolGrants
    try {
      anonymousGrants = parseAnonymousTools(mcpSettings.anonymous_tools)
      assertStdioAllowed(mcpSettings)
      await mcp.load(mcpSettings.client_configs ?? [])
    } catch (err) {
      throw new Error(`${configPath}: ${(err as Error).message}`)
    }

    const redisUrl = config.cluster?.redis_url ?? env.HEIMDALL_REDIS_URL
    const cluster = await createCluster({
      redisUrl: redisUrl ? resolveSecret(redisUrl, env) : undefined,
      prefix: config.cluster?.prefix,
      onError: (err, source) => logger.warn({ err: err.message, source }, 'cluster connection trouble'),
    })
    closers.unshift(() => cluster.close())

    const gateway = new Gateway({
      registry,
      isKeyless,
      maxTotalAttempts: client.max_total_attempts,
      dropExcessRequests: () => client.drop_excess_requests === true,
      env,
    })

    // Key-bound per-user MCP credentials whose virtual key lost access to their client are orphaned,
    // by the node that made the governance change.
    const orphanUnreachable = async () => {
      const hasAccess = (vkId: string, clientId: string) => {
        const cfg = mcp.config(clientId)
        if (!cfg) return false
        if (cfg.allow_on_all_virtual_keys) return true
        const vk = governance.state.virtualKey(vkId)
        return vk?.mcp_configs.some((m) => m.mcp_client_name === cfg.name) ?? false
      }
      await perUserOAuth.orphanUnreachable(hasAccess)
    }
    const enforceAuth = () => client.enforce_auth_on_inference === true
    // `mcp.anonymous_tools`: the MCP tools callers without a virtual key may use; none by default.
    const anonymousTools = () => anonymousGrants
    const governance: GovernanceRuntime = await createGovernanceRuntime({
      store,
      cluster,
      logger,
      lookup: gateway.lookup,
      enforceAuth,
      fileGovernance: config.governance,
      env,
      reservationTtlMs:
        (config.cluster?.reservation_ttl_seconds ?? client.request_timeout_seconds + 60) * 1000,
      afterChange: orphanUnreachable,
      reloads,
    })
    closers.unshift(() => governance.close())
    gateway.addHook(governance.hook)
    // Routing rules, key pinning and session affinity: after governance, which resolves the virtual key.
    const routing = await RoutingRuntime.create({
      store,
      cluster,
      logger,
      state: governance.state,
      lookup: gateway.lookup,
      routeByWeight: (vk, req) => governance.hook.routeByWeight(vk, req),
      providerKeys: (provider) => registry.get(provider)?.config.keys,
      chainMaxDepth: () => (client as { routing_chain_max_depth?: number }).routing_chain_max_depth,
      fileRules: (config.governance as { routing_rules?: unknown } | undefined)?.routing_rules,
      reloads,
    })
    closers.unshift(async () => routing.close())
    gateway.addHook(routing.plugin)
    // After governance, which resolves the virtual key whose MCP tools are added.
    gateway.addHook(new McpToolInjection({ source: mcp, anonymousTools }))

    // Provider changes made through one node's API reach the others.
    reloads.add('providers', () => syncProviders(store, registry, logger))
    cluster.bus.subscribe(PROVIDERS_TOPIC, () => reloads.reload('providers'))

    // The log store opens further down; until then its probe reads as switched off.
    let pingLogs = (): Promise<void> | undefined => undefined
    const app = buildServer({
      gateway,
      logger,
      bodyLimitBytes: Math.round(client.max_request_body_size_mb * 1024 * 1024),
      connectionLimits: {
        requestHeadersTimeoutMs: client.request_headers_timeout_seconds * 1000,
        requestTimeoutMs: client.request_timeout_seconds * 1000,
        keepAliveTimeoutMs: client.keep_alive_timeout_seconds * 1000,
        maxConnectionsPerClient: () => client.max_connections_per_client,
      },
      allowDirectKeys: () => client.allow_direct_keys === true,
      // Bifrost's older `client.mcp_agent_depth`, else its newer `mcp.tool_manager_config.max_agent_depth`.
      mcpAgent: {
        source: mcp,
        anonymousTools,
        maxDepth: () =>
          client.mcp_agent_depth ??
          mcpSettings.tool_manager_config?.max_agent_depth ??
          DEFAULT_MCP_AGENT_DEPTH,
      },
      storeProbes: () => [
        { name: 'config_store', required: true, database: true, ping: () => store.ping() },
        { name: 'redis', required: true, ping: () => cluster.ping() },
        { name: 'log_store', required: false, database: true, ping: () => pingLogs() },
      ],
      dbPingsDisabled: () => (client as Record<string, unknown>).disable_db_pings_in_health === true,
      fileOwnership: {
        objects: new ProviderObjects(store.db),
        // Admin auth is installed on the server just below; requests come later.
        isAdmin: adminOnInference(() => adminAuth),
      },
    })
    const loopbackOnly = LOOPBACK.has(opts.host ?? '127.0.0.1')
    const originPolicy: OriginPolicy = {
      allowedOrigins: () => client.allowed_origins ?? [],
      loopbackOnly: () => loopbackOnly,
    }
    installOriginGuard(app, originPolicy)
    installRequestOrigin(app)
    installPageHeaders(app)
    // Bifrost reads the admin login at the top level or under `governance`.
    const authField = config.auth_config !== undefined ? 'auth_config' : 'governance.auth_config'
    const authBlock =
      config.auth_config ??
      (config.governance as { auth_config?: Record<string, unknown> } | undefined)?.auth_config
    const setup = setupToken(env, loopbackOnly)
    const adminAuth = inFile(configPath, () =>
      installAdminAuth(app, {
        auth: authBlock,
        authField,
        db: store.db,
        values: store,
        // Beyond loopback, the management API stays locked until an admin login exists.
        setup: { token: setup.token, lockUntilDone: !loopbackOnly },
        whitelist: client.whitelisted_routes ?? [],
        env,
      }),
    )
    await adminAuth.load()
    if (adminAuth.setupRequired) announceSetupToken(logger, setup)
    registerSessionRoutes(app, { adminAuth, enforceAuthOnInference: enforceAuth })
    // Request logs start further down, once every route that feeds them is in place.
    let logsConnected = (): boolean => false
    registerProviderRoutes(app, {
      registry,
      store,
      onChange: (name) => cluster.bus.publish(PROVIDERS_TOPIC, { name }),
    })
    registerModelRoutes(app, { registry })
    registerQuotaRoute(app, { state: governance.state, usage: governance.usage })
    registerConfigRoutes(app, {
      store,
      client,
      fileClient: config.client,
      auth: authBlock as { is_enabled?: boolean; admin_username?: string } | undefined,
      isCacheConnected: () => cluster.kind === 'redis',
      isLogsConnected: () => logsConnected(),
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
    registerRoutingRuleRoutes(app, { routing })
    registerMcpRoutes(app, {
      manager: mcp,
      allowStdio: mcpSettings.allow_stdio !== false,
      oauth: perUserOAuth,
      onChange: async (change) => {
        // A removed client's per-user credentials are of no use any more.
        if (change.action === 'delete') {
          await perUserOAuth
            .orphanClient(change.client_id)
            .catch((err: unknown) =>
              logger.warn(
                { err: (err as Error).message, mcp_client: change.client_id },
                'could not orphan MCP credentials',
              ),
            )
        }
        await cluster.bus
          .publish(MCP_TOPIC, change)
          .catch((err: unknown) =>
            logger.warn({ err: (err as Error).message }, 'could not broadcast an MCP client change'),
          )
      },
    })
    // MCP client changes made through one node's API reach the others (and, after a lost
    // connection to the bus, whatever was missed); the publishing node's own sync finds nothing to do.
    reloads.add('MCP clients', () => mcp.sync())
    const syncMcp = () => reloads.reload('MCP clients')
    const offMcp = cluster.bus.subscribe(MCP_TOPIC, syncMcp)
    const offMcpReconnect = cluster.bus.onReconnect(syncMcp)
    closers.unshift(async () => {
      offMcp()
      offMcpReconnect()
    })

    // Virtual MCPs (`mcp.virtual_mcps`): tool bundles served at /mcp/<slug>; changes reach every node.
    const virtualMcps = new VirtualMcps({
      store,
      clients: () => mcp.list().map((c) => c.config),
      virtualKeyExists: (id) => governance.state.virtualKey(id) !== undefined,
    })
    try {
      await virtualMcps.load(mcpSettings.virtual_mcps ?? [])
    } catch (err) {
      throw new Error(`${configPath}: ${(err as Error).message}`)
    }
    registerVirtualMcpRoutes(app, {
      virtualMcps,
      onChange: () => cluster.bus.publish(VIRTUAL_MCP_TOPIC, {}),
    })
    reloads.add('virtual MCPs', () => virtualMcps.sync())
    const offVirtual = cluster.bus.subscribe(VIRTUAL_MCP_TOPIC, () => reloads.reload('virtual MCPs'))
    closers.unshift(async () => offVirtual())

    registerMcpSessionRoutes(app, {
      oauth: perUserOAuth,
      caller: sessionCaller(governance.state, adminAuth),
      store,
    })
    // Code mode's script limits: Bifrost's `tool_execution_timeout`, Heimdall's `code_mode_memory_limit_mb`.
    const codeModeLimits = () => sandboxLimitsFromConfig(mcpSettings.tool_manager_config)
    const mcpAccess = { source: mcp, state: governance.state, enforceAuth, anonymousTools, codeModeLimits }
    registerMcpInferenceRoutes(app, mcpAccess)
    // Heimdall as the OAuth authorization server of /mcp; `client.oauth2_server_config.issuer_url` fixes its public URL.
    const oauthServer = new AuthorizationServer({
      db: store.db,
      state: governance.state,
      enforceAuth,
      config: (client as { oauth2_server_config?: OAuthServerConfig }).oauth2_server_config,
      // The consent pages send the user through the upstream servers that need their own login.
      listPendingUpstreams: async (identity) => {
        const vk = identity.virtualKeyId ? governance.state.virtualKey(identity.virtualKeyId) : undefined
        const configs = mcp
          .list()
          .map((c) => mcp.config(c.config.client_id))
          .filter((c): c is NonNullable<typeof c> => c !== undefined)
          .filter((c) => !vk || vk.mcp_configs.some((m) => m.mcp_client_name === c.name))
        const who = identity.userId
          ? `user:${identity.userId}`
          : identity.virtualKeyId
            ? `vk:${identity.virtualKeyId}`
            : undefined
        return who ? perUserOAuth.upstreamLogins(configs, who) : []
      },
    })
    closers.unshift(async () => oauthServer.close())
    registerOAuthServerRoutes(app, { server: oauthServer })
    registerUpstreamLoginRoutes(app, {
      oauth: perUserOAuth,
      state: governance.state,
      consentIdentity: (flowId, secret) => consentIdentity(oauthServer, flowId, secret),
    })
    registerMcpServerRoute(app, {
      ...mcpAccess,
      challenge: (request) => oauthServer.challenge(requestOrigin(request)),
      verifyAccessToken: (token, request) => oauthServer.verifyAccessToken(token, requestOrigin(request)),
      refusedOrigin: (request) => refusedOrigin(request, originPolicy),
      virtualMcps: {
        bySlug: (slug) => virtualMcps.bySlug(slug),
        clientId: (name) => mcp.list().find((c) => c.config.name === name)?.config.client_id,
      },
    })
    const observability = await createObservability({
      app,
      config,
      client,
      configStore: store,
      appDir,
      env,
      logger,
      cluster,
      governance,
      isBuiltinProvider,
    })
    closers.unshift(() => observability.close())
    registerObservabilityRoutes(app, observability, { config, client, configStore: store, env, adminAuth })
    logsConnected = () => observability.logsConnected()
    pingLogs = () => observability.pingLogs()
    for (const hook of observability.hooks) gateway.addHook(hook)
    // Configured plugins (mocker, jsonparser, users' modules) run after the built-in ones by default.
    const plugins = await startPlugins({ app, gateway, store, cluster, config, configPath })
    closers.unshift(() => plugins.close())
    // Async inference and webhooks: jobs replay the synchronous routes, so they come after them.
    const asyncInference = await setupAsyncInference({
      app,
      store,
      governance,
      client,
      settings: (config as { async_jobs?: AsyncJobsSettings }).async_jobs,
      redisUrl: redisUrl ? resolveSecret(redisUrl, env) : undefined,
      clusterPrefix: config.cluster?.prefix,
      enforceAuth,
      logger,
      env,
    })
    registerUi(app)

    const users = new UserService(store.db)
    const accessProfiles = new AccessProfileService(store.db, governanceKeyStore(governance.service))
    registerUserRoutes(app, { store, users, accessProfiles })
    registerAccessProfileRoutes(app, { users, accessProfiles })

    const sockets = new Set<Socket>()
    app.server.on('connection', (socket: Socket) => {
      sockets.add(socket)
      socket.once('close', () => sockets.delete(socket))
    })

    reloads.start()
    // Stopped first on shutdown, so that no reload starts while the rest closes.
    closers.unshift(async () => reloads.close())
    let closing: Promise<void> | undefined
    return {
      app,
      gateway,
      registry,
      store,
      cluster,
      governance,
      mcp,
      client,
      logger,
      async listen() {
        await app.listen({ port: opts.port ?? 8080, host: opts.host ?? '127.0.0.1' })
        await asyncInference.start()
        const address = app.server.address()
        const port = typeof address === 'object' && address ? address.port : opts.port
        return `http://${opts.host && opts.host !== '0.0.0.0' ? opts.host : '127.0.0.1'}:${port}`
      },
      close() {
        closing ??= (async () => {
          const grace = client.shutdown_timeout_seconds * 1000
          const timer = setTimeout(() => {
            logger.warn('shutdown grace period over: closing remaining connections')
            app.server.closeAllConnections()
          }, grace)
          timer.unref()
          // Connections with no response under way (idle keep-alive ones, and ones a client opened
          // without sending a request yet) are closed as they are found; the others finish first.
          const sweep = setInterval(() => {
            app.server.closeIdleConnections()
            // Websockets were sent their close frame by the plugin; Node's closing never ends upgraded sockets.
            destroyUpgradedSockets(app.server)
            for (const socket of sockets)
              if (!(socket as { _httpMessage?: unknown })._httpMessage) socket.destroy()
          }, 100)
          sweep.unref()
          try {
            // Jobs first: they run through this app. Running ones get the grace period; the rest stay queued.
            await asyncInference.close(grace)
            await app.close()
          } finally {
            clearTimeout(timer)
            clearInterval(sweep)
            for (const close of closers) await close().catch(() => undefined)
          }
        })()
        return closing
      },
    }
  } catch (err) {
    for (const close of closers) await close().catch(() => undefined)
    throw err
  }
}

export { GatewayError }
