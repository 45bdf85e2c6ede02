import type { FastifyInstance } from 'fastify'
import type { Cluster } from '../../cluster/index.js'
import type { Gateway } from '../../core/gateway.js'
import { DEFAULT_MCP_AGENT_DEPTH } from '../../mcp/index.js'
import { ProviderObjects, type ConfigStore } from '../../store/index.js'
import { installAdminAuth, type AdminAuth } from '../auth.js'
import { inFile } from '../config-file.js'
import { installOriginGuard, type OriginPolicy } from '../origin-guard.js'
import { installPageHeaders } from '../page-headers.js'
import { adminOnInference } from '../routes/file-ownership.js'
import { buildServer } from '../server.js'
import { announceSetupToken, setupToken } from '../setup-token.js'
import type { Base } from './foundation.js'
import type { McpClients } from './mcp-clients.js'

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1'])

/** The request logs, which start once every route that feeds them is in place. */
export interface LogsProbe {
  connected: () => boolean
  ping: () => Promise<void> | undefined
}

export interface HttpServer {
  app: FastifyInstance
  adminAuth: AdminAuth
  originPolicy: OriginPolicy
  /** config.json's admin login block (top level, or under `governance` as Bifrost also reads it). */
  authBlock: Record<string, unknown> | undefined
  /** Read as switched off until observability fills it in. */
  logs: LogsProbe
}

/** The Fastify server with its guards (origin, admin auth, page headers) and the gateway's routes. */
export async function startServer(
  base: Base,
  deps: { gateway: Gateway; store: ConfigStore; cluster: Cluster; mcp: McpClients },
): Promise<HttpServer> {
  const { client, opts } = base
  const { store, cluster, mcp } = deps
  const logs: LogsProbe = { connected: () => false, ping: () => undefined }
  const app = buildServer({
    gateway: deps.gateway,
    logger: base.logger,
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
      source: mcp.manager,
      anonymousTools: mcp.anonymousTools,
      maxDepth: () =>
        client.mcp_agent_depth ??
        mcp.settings.tool_manager_config?.max_agent_depth ??
        DEFAULT_MCP_AGENT_DEPTH,
    },
    storeProbes: () => [
      { name: 'config_store', required: true, database: true, ping: () => store.ping() },
      { name: 'redis', required: true, ping: () => cluster.ping() },
      { name: 'log_store', required: false, database: true, ping: () => logs.ping() },
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
  installPageHeaders(app)
  const { config, env } = base
  // Bifrost reads the admin login at the top level or under `governance`.
  const authField = config.auth_config !== undefined ? 'auth_config' : 'governance.auth_config'
  const authBlock =
    config.auth_config ??
    (config.governance as { auth_config?: Record<string, unknown> } | undefined)?.auth_config
  const setup = setupToken(env, loopbackOnly)
  const adminAuth = inFile(base.configPath, () =>
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
  if (adminAuth.setupRequired) announceSetupToken(base.logger, setup)
  return { app, adminAuth, originPolicy, authBlock: authBlock as Record<string, unknown> | undefined, logs }
}
