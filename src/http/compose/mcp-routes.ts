import type { Cluster } from '../../cluster/index.js'
import {
  AuthorizationServer,
  consentIdentity,
  type OAuthServerConfig,
  registerMcpServerRoute,
  sandboxLimitsFromConfig,
  VirtualMcps,
} from '../../mcp/index.js'
import type { ConfigReloads, ConfigStore } from '../../store/index.js'
import { refusedOrigin } from '../origin-guard.js'
import { registerMcpInferenceRoutes } from '../routes/mcp-inference.js'
import { registerMcpSessionRoutes, sessionCaller } from '../routes/mcp-sessions.js'
import { registerVirtualMcpRoutes, VIRTUAL_MCP_TOPIC } from '../routes/mcp-virtual.js'
import { MCP_TOPIC, registerMcpRoutes } from '../routes/mcp.js'
import { registerOAuthServerRoutes, requestOrigin } from '../routes/oauth-server.js'
import { registerUpstreamLoginRoutes } from '../routes/upstream-login.js'
import type { Base } from './foundation.js'
import type { GatewayParts } from './gateway.js'
import type { Closers } from './lifecycle.js'
import type { McpClients } from './mcp-clients.js'
import type { HttpServer } from './server.js'

type McpRouteDeps = GatewayParts & {
  store: ConfigStore
  cluster: Cluster
  reloads: ConfigReloads
  mcp: McpClients
  server: HttpServer
  closers: Closers
}

/** /api/mcp (clients, virtual MCPs, per-user sessions) and the MCP endpoints, with their OAuth server. */
export async function registerMcpParts(base: Base, deps: McpRouteDeps): Promise<void> {
  const virtualMcps = await serveMcpClients(base, deps)
  const { store, mcp, governance, server, enforceAuth } = deps
  const { app } = server
  const { manager, perUserOAuth } = mcp
  registerMcpSessionRoutes(app, {
    oauth: perUserOAuth,
    caller: sessionCaller(governance.state, server.adminAuth),
    store,
  })
  // Code mode's script limits: Bifrost's `tool_execution_timeout`, Heimdall's `code_mode_memory_limit_mb`.
  const codeModeLimits = () => sandboxLimitsFromConfig(mcp.settings.tool_manager_config)
  const mcpAccess = {
    source: manager,
    state: governance.state,
    enforceAuth,
    anonymousTools: mcp.anonymousTools,
    codeModeLimits,
  }
  registerMcpInferenceRoutes(app, mcpAccess)
  // Heimdall as the OAuth authorization server of /mcp; `client.oauth2_server_config.issuer_url` fixes its public URL.
  const oauthServer = new AuthorizationServer({
    db: store.db,
    state: governance.state,
    enforceAuth,
    config: (base.client as { oauth2_server_config?: OAuthServerConfig }).oauth2_server_config,
    // The consent pages send the user through the upstream servers that need their own login.
    listPendingUpstreams: async (identity) => {
      const vk = identity.virtualKeyId ? governance.state.virtualKey(identity.virtualKeyId) : undefined
      const configs = manager
        .list()
        .map((c) => manager.config(c.config.client_id))
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
  deps.closers.add(() => oauthServer.close())
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
    refusedOrigin: (request) => refusedOrigin(request, server.originPolicy),
    onToolCall: (record, caller) =>
      app.mcpToolCallObserver?.({
        record,
        headers: caller.headers,
        virtualKey:
          caller.virtualKeyId === undefined ? undefined : governance.state.virtualKey(caller.virtualKeyId),
      }),
    virtualMcps: {
      bySlug: (slug) => virtualMcps.bySlug(slug),
      clientId: (name) => manager.list().find((c) => c.config.name === name)?.config.client_id,
    },
  })
}

/** /api/mcp's client and virtual MCP routes; changes made on one node reach the others. */
async function serveMcpClients(base: Base, deps: McpRouteDeps): Promise<VirtualMcps> {
  const { store, cluster, reloads, mcp, governance, closers } = deps
  const { app } = deps.server
  const { manager, perUserOAuth } = mcp
  const { logger } = base
  registerMcpRoutes(app, {
    manager,
    allowStdio: mcp.settings.allow_stdio !== false,
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
  reloads.add('MCP clients', () => manager.sync())
  const syncMcp = () => reloads.reload('MCP clients')
  const offMcp = cluster.bus.subscribe(MCP_TOPIC, syncMcp)
  const offMcpReconnect = cluster.bus.onReconnect(syncMcp)
  closers.add(() => {
    offMcp()
    offMcpReconnect()
  })

  // Virtual MCPs (`mcp.virtual_mcps`): tool bundles served at /mcp/<slug>; changes reach every node.
  const virtualMcps = new VirtualMcps({
    store,
    clients: () => manager.list().map((c) => c.config),
    virtualKeyExists: (id) => governance.state.virtualKey(id) !== undefined,
  })
  try {
    await virtualMcps.load(mcp.settings.virtual_mcps ?? [])
  } catch (err) {
    throw new Error(`${base.configPath}: ${(err as Error).message}`)
  }
  registerVirtualMcpRoutes(app, {
    virtualMcps,
    onChange: () => cluster.bus.publish(VIRTUAL_MCP_TOPIC, {}),
  })
  reloads.add('virtual MCPs', () => virtualMcps.sync())
  const offVirtual = cluster.bus.subscribe(VIRTUAL_MCP_TOPIC, () => reloads.reload('virtual MCPs'))
  closers.add(() => offVirtual())
  return virtualMcps
}
