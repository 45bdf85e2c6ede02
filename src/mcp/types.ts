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
}

export interface McpCallOptions {
  signal?: AbortSignal
  timeoutMs?: number
  /** Who is calling (user id, virtual key id or MCP session id), for per-user credentials. */
  identity?: string
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
