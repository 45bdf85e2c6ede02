import type { McpClientConfig, McpClientRepo } from '../mcp/index.js'

/** config.json's `mcp` section, as far as stdio clients go. */
interface McpStdioSettings {
  allow_stdio?: boolean
  client_configs?: unknown[]
}

/** `mcp.allow_stdio: false` forbids stdio clients in config.json too, not only through the API. */
export function assertStdioAllowed(settings: McpStdioSettings): void {
  if (settings.allow_stdio !== false) return
  for (const [i, c] of (settings.client_configs ?? []).entries()) {
    if ((c as { connection_type?: unknown } | null)?.connection_type === 'stdio')
      throw new Error(`mcp.client_configs[${i}] is a stdio client, which mcp.allow_stdio: false forbids`)
  }
}

/**
 * The stored MCP clients without the stdio ones, when `mcp.allow_stdio` is false: a stdio client
 * stored while they were allowed is then never started (its command never run), nor listed or
 * changed; it stays in the store for when they are allowed again.
 */
export function withoutStdioClients(
  repo: McpClientRepo,
  warn: (client: McpClientConfig) => void,
): McpClientRepo {
  const warned = new Set<string>()
  return {
    async list() {
      return (await repo.list()).filter((c) => {
        if (c.connection_type !== 'stdio') return true
        if (!warned.has(c.client_id)) {
          warned.add(c.client_id)
          warn(c)
        }
        return false
      })
    },
    put: (cfg) => repo.put(cfg),
    delete: (id) => repo.delete(id),
  }
}
