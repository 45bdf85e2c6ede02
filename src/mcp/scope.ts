import type { GatewayContext } from '../core/context.js'
import { GatewayError } from '../core/errors.js'
import {
  allowedTools,
  anonymousAdmitsTool,
  assertToolAllowed,
  headersAdmitTool,
  type AnonymousToolGrants,
  type McpCaller,
} from './access.js'
import type { McpResource, McpTool, McpToolSource } from './types.js'

type Headers = GatewayContext['headers']

/**
 * What one caller of an MCP endpoint may see and use: its tools, and which clients' prompts and
 * resources. /mcp builds it from the caller's virtual key (or the anonymous grants), /mcp/<slug>
 * from a Virtual MCP; the protocol handlers only ask it.
 */
export interface McpScope {
  /** The tools the caller may list and call. */
  tools(): McpTool[]
  /** The tool by its exposed name if the caller may call it; otherwise throws the refusal. */
  tool(name: string): McpTool
  /** Whether the caller may see a client's prompt (by its name on its server), or its resources (no name). */
  clientItem(client: string, name?: string): boolean
}

/** The scope of a caller that lost its access (its key deleted, its Virtual MCP gone): nothing. */
export const EMPTY_SCOPE: McpScope = {
  tools: () => [],
  tool: (name) => {
    throw new GatewayError('forbidden', `MCP tool ${name} is no longer open to this session`, {
      isBifrostError: false,
      retryable: false,
    })
  },
  clientItem: () => false,
}

/** Whether a `tools_to_execute`-style list opens a named prompt (or, without a name, everything). */
function listOpens(list: readonly string[], name: string | undefined): boolean {
  return list.includes('*') || (name !== undefined && list.includes(name))
}

/**
 * The scope of a caller of /mcp. Prompts and resources are governed like tools, per client: a
 * virtual key sees those of a client its `mcp_configs` open entirely (`["*"]`), and prompts its list
 * names; a client with `allow_on_all_virtual_keys` is open to every key. A caller without a key sees
 * those of clients granted whole (`*`, `<client>/*`) or `allow_anonymous`. The include headers narrow.
 */
export function callerScope(
  source: McpToolSource,
  vk: McpCaller | undefined,
  headers: Headers,
  anonymous: AnonymousToolGrants,
): McpScope {
  return {
    tools: () => allowedTools(source, vk, headers, anonymous),
    tool: (name) => assertToolAllowed(source, vk, headers, name, anonymous),
    clientItem: (client, name) => {
      const sample = source.listTools().find((t) => t.client === client)
      const probe: McpTool = sample ?? { name: `${client}-*`, client, toolName: '*', inputSchema: {} }
      if (!headersAdmitTool(headers, { ...probe, name: `${client}-*` })) return false
      if (vk === undefined)
        return (
          sample?.allowAnonymous === true ||
          anonymous.some((g) => g === '*' || g === `${client}/*`) ||
          (name !== undefined && anonymousAdmitsTool(anonymous, { ...probe, toolName: name }))
        )
      if (sample?.allowOnAllVirtualKeys === true) return true
      return (vk.mcp_configs ?? []).some(
        (c) => c.mcp_client_name === client && listOpens(c.tools_to_execute, name),
      )
    },
  }
}

/** The resources (or templates) a scope opens. */
export function scopedResources(scope: McpScope, resources: McpResource[]): McpResource[] {
  return resources.filter((r) => scope.clientItem(r.client))
}
