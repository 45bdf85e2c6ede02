import type { CompleteRequest } from '@modelcontextprotocol/sdk/types.js'

/**
 * The contract between the MCP client side (connections to upstream MCP servers, src/mcp/clients/)
 * and everything that uses their tools: governance, tool injection into inference, the
 * /v1/mcp/tool/execute route and Heimdall's own MCP server endpoint.
 */

/** One tool of one connected MCP client, under the name Heimdall exposes it by. */
export interface McpTool {
  /** `<client>-<tool>`: deterministic, at most 64 characters of [A-Za-z0-9_-], unique. */
  name: string
  /** The MCP client's name (no hyphen). */
  client: string
  /** The tool's name on its own server. */
  toolName: string
  description?: string
  /** JSON Schema of the arguments, as the server declared it. */
  inputSchema: Record<string, unknown>
  annotations?: Record<string, unknown>
  /**
   * Every field the upstream server declared for the tool (`title`, `outputSchema`, `_meta`,
   * `icons`, … and any it adds later), under its own name: what /mcp lists, renamed.
   */
  definition?: Record<string, unknown>
  /** The client's `allow_on_all_virtual_keys`: every virtual key may use the tool. */
  allowOnAllVirtualKeys?: boolean
  /** The client's `allow_anonymous`: callers without a virtual key may use the tool. */
  allowAnonymous?: boolean
}

/** A tool call's result, as MCP's CallToolResult. */
export interface McpToolResult {
  content: { type: string; [k: string]: unknown }[]
  structuredContent?: Record<string, unknown>
  isError?: boolean
  _meta?: Record<string, unknown>
  [k: string]: unknown
}

/** A `notifications/progress` of an upstream tool call, without the upstream's progress token. */
export interface McpProgress {
  progress: number
  total?: number
  message?: string
}

/** A `notifications/message` (MCP logging) an upstream server sent while a call was running. */
export interface McpLogMessage {
  level: string
  logger?: string
  data: unknown
}

export interface McpCallOptions {
  signal?: AbortSignal
  timeoutMs?: number
  /** Who is calling (user id, virtual key id or MCP session id), for per-user credentials. */
  identity?: string
  /** Progress the upstream reports for this call (asked for only when given). */
  onProgress?: (progress: McpProgress) => void
  /** Log messages the upstream sends while this call is the only one running on its connection. */
  onLog?: (message: McpLogMessage) => void
}

/** The tools of every connected client, and the way to call them. */
export interface McpToolSource {
  /** Every tool currently available (clients that are down contribute none). */
  listTools(): McpTool[]
  /** Calls a tool by its exposed name. Unknown tool: GatewayError 'not_found'. */
  callTool(name: string, args: Record<string, unknown>, opts?: McpCallOptions): Promise<McpToolResult>
  /** Whether a client's tools may run without the caller's approval (its `tools_to_auto_execute`). */
  autoExecutes(name: string): boolean
  /** Called whenever the set of tools changes (a client connected, crashed, was edited). */
  onChange(listener: () => void): () => void
  /** Whether a client is a code-mode client (`is_code_mode_client`): its tools are reached through code mode. */
  isCodeModeClient?(client: string): boolean
}

/** One prompt of one connected client, under the name Heimdall exposes it by (`<client>-<prompt>`). */
export interface McpPrompt {
  name: string
  client: string
  /** The prompt's name on its own server. */
  promptName: string
  /** Every field the server declared for the prompt (`title`, `arguments`, `icons`, `_meta`, …). */
  definition: Record<string, unknown>
}

/** One resource (or resource template) of one connected client; URIs are the server's own. */
export interface McpResource {
  client: string
  /** `uri` of a resource, `uriTemplate` of a template. */
  uri: string
  definition: Record<string, unknown>
}

export interface McpRequestOptions {
  signal?: AbortSignal
  timeoutMs?: number
  identity?: string
}

/** The prompts and resources of every connected client, and the way to get or read them. */
export interface McpCatalogSource {
  listPrompts(): McpPrompt[]
  /** Gets a prompt by its exposed name. Unknown prompt: GatewayError 'not_found'. */
  getPrompt(
    name: string,
    args: Record<string, string>,
    opts?: McpRequestOptions,
  ): Promise<Record<string, unknown>>
  listResources(): McpResource[]
  listResourceTemplates(): McpResource[]
  /** Reads a resource of one client (whose list or templates must name the URI). */
  readResource(client: string, uri: string, opts?: McpRequestOptions): Promise<Record<string, unknown>>
  /** `completion/complete` through a client (the ref named as on that client's server). */
  complete(
    client: string,
    params: CompleteRequest['params'],
    opts?: McpRequestOptions,
  ): Promise<Record<string, unknown>>
  /** Subscribes to a resource's updates through its client; resolves to the way to stop. */
  watchResource(
    client: string,
    uri: string,
    listener: () => void,
    opts?: McpRequestOptions,
  ): Promise<() => void>
}

/** Whether a tool source also serves prompts and resources. */
export function isCatalogSource(source: McpToolSource): source is McpToolSource & McpCatalogSource {
  return typeof (source as Partial<McpCatalogSource>).listPrompts === 'function'
}
