import {
  type AnonymousToolGrants,
  McpClientManager,
  parseAnonymousTools,
  PerUserOAuth,
  SqlMcpClientRepo,
} from '../../mcp/index.js'
import type { ConfigStore } from '../../store/index.js'
import { assertStdioAllowed, withoutStdioClients } from '../mcp-stdio-policy.js'
import type { Base } from './foundation.js'
import type { Closers } from './lifecycle.js'

/** config.json's `mcp` section. */
export interface McpSettings {
  client_configs?: unknown[]
  allow_stdio?: boolean
  tool_manager_config?: { max_agent_depth?: number }
  anonymous_tools?: unknown
  virtual_mcps?: unknown[]
}

export interface McpClients {
  settings: McpSettings
  manager: McpClientManager
  perUserOAuth: PerUserOAuth
  /** `mcp.anonymous_tools`: the MCP tools callers without a virtual key may use; none by default. */
  anonymousTools: () => AnonymousToolGrants
}

/**
 * MCP clients: connections start in the background; stdio children are killed on shutdown.
 * `virtualKeyName` is called only once requests arrive (governance starts later).
 */
export async function startMcpClients(
  base: Base,
  deps: { store: ConfigStore; closers: Closers; virtualKeyName: (id: string) => string | undefined },
): Promise<McpClients> {
  const { logger, configPath, client } = base
  const settings = (base.config.mcp ?? {}) as McpSettings
  // Per-user OAuth to upstream MCP servers; its closures run only once requests arrive.
  const perUserOAuth: PerUserOAuth = new PerUserOAuth({
    store: deps.store,
    clients: {
      config: (id) => manager.config(id),
      verified: async (id) => {
        await manager.verify(id)
      },
    },
    externalUrl: () => (client as { mcp_external_client_url?: string }).mcp_external_client_url,
    listenHost: () => base.opts.host ?? '127.0.0.1',
    names: { virtualKey: deps.virtualKeyName },
  })
  const repo = new SqlMcpClientRepo(deps.store)
  const manager = new McpClientManager({
    perUserAuth: perUserOAuth,
    repo:
      settings.allow_stdio === false
        ? withoutStdioClients(repo, (c) =>
            logger.warn({ mcp_client: c.name }, 'stdio MCP client not started: mcp.allow_stdio is false'),
          )
        : repo,
    env: base.env,
    log: (level, message) => logger[level](message),
  })
  deps.closers.add(() => manager.close())
  let anonymousGrants: AnonymousToolGrants
  try {
    anonymousGrants = parseAnonymousTools(settings.anonymous_tools)
    assertStdioAllowed(settings)
    await manager.load(settings.client_configs ?? [])
  } catch (err) {
    throw new Error(`${configPath}: ${(err as Error).message}`)
  }
  return { settings, manager, perUserOAuth, anonymousTools: () => anonymousGrants }
}
