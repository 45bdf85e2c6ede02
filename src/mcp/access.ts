import type { GatewayContext } from '../core/context.js'
import { GatewayError, type ErrorCode } from '../core/errors.js'
import type { VirtualKeyStatus } from '../core/virtual-keys.js'
import type { McpCallOptions, McpTool, McpToolResult, McpToolSource } from './types.js'

type Headers = GatewayContext['headers']

/** What of a virtual key decides its MCP tools (governance's keys carry it). */
export interface McpCaller {
  name: string
  mcp_configs?: readonly { mcp_client_name: string; tools_to_execute: readonly string[] }[]
}

/** A virtual key as the `/mcp` endpoint authenticates it and filters its tools. */
export type McpVirtualKey = McpCaller & VirtualKeyStatus

/** Default deadline of one tool call made on a caller's behalf. */
export const DEFAULT_TOOL_TIMEOUT_MS = 60_000

function refusal(code: ErrorCode, message: string): GatewayError {
  return new GatewayError(code, message, { isBifrostError: false, topLevelType: code, retryable: false })
}

/** A comma-separated header as a list; undefined when absent or blank (no filter). */
function headerList(headers: Headers, name: string): string[] | undefined {
  const raw = headers[name]
  const text = Array.isArray(raw) ? raw.join(',') : raw
  if (text === undefined) return undefined
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
  return items.length > 0 ? items : undefined
}

/**
 * Whose per-user credentials a tool call uses: the virtual key, else the MCP session the caller
 * asserts with `x-bf-mcp-session-id` (a caller without a key, where inference auth is not enforced).
 */
export function callIdentity(vk: { id: string } | undefined, headers: Headers): string | undefined {
  // A bare id is a virtual key's (see src/mcp/oauth-client/identity.ts).
  if (vk) return vk.id
  const session = headers['x-bf-mcp-session-id']
  const id = Array.isArray(session) ? session[0] : session
  return id ? `session:${id}` : undefined
}

/**
 * Whether a virtual key's `mcp_configs` admit a tool: only listed clients, and within each
 * `["*"]` all tools, `[]` none, else the tools named (by their name on their own server). The tools
 * of a client with `allow_on_all_virtual_keys` are admitted for every key.
 */
export function keyAdmitsTool(vk: McpCaller, tool: McpTool): boolean {
  if (tool.allowOnAllVirtualKeys === true) return true
  const configs = vk.mcp_configs ?? []
  return configs.some(
    (c) =>
      c.mcp_client_name === tool.client &&
      c.tools_to_execute.some((t) => t === '*' || t === tool.toolName || t === tool.name),
  )
}

/**
 * Whether the request's `x-bf-mcp-include-clients` / `x-bf-mcp-include-tools` keep a tool. They
 * only narrow: clients by name, tools by their exposed name or `<client>-*`; `*` keeps all.
 */
export function headersAdmitTool(headers: Headers, tool: McpTool): boolean {
  const clients = headerList(headers, 'x-bf-mcp-include-clients')
  if (clients && !clients.some((c) => c === '*' || c === tool.client)) return false
  const tools = headerList(headers, 'x-bf-mcp-include-tools')
  if (tools && !tools.some((t) => t === '*' || t === tool.name || t === `${tool.client}-*`)) return false
  return true
}

/**
 * Which MCP tools a caller without a virtual key may use (config.json `mcp.anonymous_tools`):
 * `*` every tool, `<client>/*` a client's tools, `<client>/<tool>` one tool by its name on its own
 * server. Empty by default: a keyless caller gets only what an operator grants explicitly.
 */
export type AnonymousToolGrants = readonly string[]

/** How an operator opens tools to keyless callers; said in every refusal of one. */
export const ANONYMOUS_TOOLS_HINT =
  'send a virtual key as x-bf-vk or as the API key (sk-bf-…); an operator can open tools to callers without one with mcp.anonymous_tools in config.json or allow_anonymous on the MCP client'

/** `mcp.anonymous_tools` as config.json gives it; throws on anything but a list of grants. */
export function parseAnonymousTools(value: unknown): AnonymousToolGrants {
  if (value === undefined) return []
  const ok =
    Array.isArray(value) &&
    value.every((g) => typeof g === 'string' && (g === '*' || /^[^/\s]+\/[^/\s]+$/.test(g)))
  if (!ok) throw new Error('mcp.anonymous_tools must be a list of "*", "<client>/*" or "<client>/<tool>"')
  return value as string[]
}

/** Whether a caller without a virtual key may use a tool: its client's `allow_anonymous`, or a grant. */
export function anonymousAdmitsTool(grants: AnonymousToolGrants, tool: McpTool): boolean {
  if (tool.allowAnonymous === true) return true
  return grants.some((g) => g === '*' || g === `${tool.client}/*` || g === `${tool.client}/${tool.toolName}`)
}

/** Whether any tool available now is open to callers without a virtual key. */
export function anonymousAccessOpen(source: McpToolSource, grants: AnonymousToolGrants): boolean {
  return source.listTools().some((tool) => anonymousAdmitsTool(grants, tool))
}

/**
 * The tools a caller may list and call: with a virtual key, those its `mcp_configs` admit (none
 * without any); without one, those `anonymous` grants (none by default); then narrowed by the
 * request's include headers.
 */
export function allowedTools(
  source: McpToolSource,
  vk: McpCaller | undefined,
  headers: Headers,
  anonymous: AnonymousToolGrants = [],
): McpTool[] {
  return source
    .listTools()
    .filter(
      (tool) =>
        (vk === undefined ? anonymousAdmitsTool(anonymous, tool) : keyAdmitsTool(vk, tool)) &&
        headersAdmitTool(headers, tool),
    )
}

/**
 * The tool by its exposed name, if the caller may call it: a caller without a virtual key is 401
 * `virtual_key_required` for any tool not granted to it, known or not (so that names do not leak,
 * unless every tool is open to it); otherwise unknown tools are 404, tools the key or the include headers leave out 403
 * `mcp_tool_blocked`.
 */
export function assertToolAllowed(
  source: McpToolSource,
  vk: McpCaller | undefined,
  headers: Headers,
  name: string,
  anonymous: AnonymousToolGrants = [],
): McpTool {
  const tool = source.listTools().find((t) => t.name === name)
  const everyToolOpen = anonymous.includes('*')
  if (vk === undefined && !(tool ? anonymousAdmitsTool(anonymous, tool) : everyToolOpen)) {
    throw refusal(
      'virtual_key_required',
      `MCP tool ${name} is not open to callers without a virtual key: ${ANONYMOUS_TOOLS_HINT}`,
    )
  }
  if (!tool) throw new GatewayError('not_found', `MCP tool ${name} not found`, { retryable: false })
  if (vk !== undefined && !keyAdmitsTool(vk, tool)) {
    throw refusal('mcp_tool_blocked', `virtual key "${vk.name}" may not use MCP tool ${name}`)
  }
  if (!headersAdmitTool(headers, tool)) {
    throw refusal('mcp_tool_blocked', `MCP tool ${name} is excluded by the x-bf-mcp-include-* headers`)
  }
  return tool
}

export interface ToolCallOptions {
  timeoutMs?: number
  /** The caller's request: aborted when it goes away. */
  signal?: AbortSignal
  identity?: string
  onProgress?: McpCallOptions['onProgress']
  onLog?: McpCallOptions['onLog']
}

/**
 * Calls a tool with a deadline and the caller's cancellation, whatever the source does with
 * them: past the deadline 504, after cancellation 499, other failures 502.
 */
export async function callToolWithDeadline(
  source: McpToolSource,
  tool: McpTool,
  args: Record<string, unknown>,
  opts: ToolCallOptions = {},
): Promise<McpToolResult> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS
  const controller = new AbortController()
  let timer: NodeJS.Timeout | undefined
  let stopListening: (() => void) | undefined
  const stopped = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new GatewayError(
        'upstream_timeout',
        `MCP tool ${tool.name} timed out after ${timeoutMs} ms`,
      )
      controller.abort(err)
      reject(err)
    }, timeoutMs)
    const cancel = () => {
      const err = new GatewayError('request_cancelled', 'the client went away', { retryable: false })
      controller.abort(err)
      reject(err)
    }
    if (opts.signal?.aborted) cancel()
    else if (opts.signal) {
      opts.signal.addEventListener('abort', cancel, { once: true })
      stopListening = () => opts.signal?.removeEventListener('abort', cancel)
    }
  })
  try {
    return await Promise.race([
      source.callTool(tool.name, args, {
        signal: controller.signal,
        timeoutMs,
        identity: opts.identity,
        onProgress: opts.onProgress,
        onLog: opts.onLog,
      }),
      stopped,
    ])
  } catch (err) {
    if (err instanceof GatewayError) throw err
    throw new GatewayError('upstream_error', `MCP tool ${tool.name} failed: ${(err as Error).message}`, {
      cause: err,
      retryable: false,
    })
  } finally {
    clearTimeout(timer)
    stopListening?.()
  }
}

/** A tool result as the text a model reads: text parts joined, other parts (or structured content alone) as JSON. */
export function toolResultText(result: McpToolResult): string {
  const parts = result.content.map((c) =>
    c.type === 'text' && typeof c.text === 'string' ? c.text : JSON.stringify(c),
  )
  if (parts.length === 0 && result.structuredContent !== undefined)
    return JSON.stringify(result.structuredContent)
  return parts.join('\n')
}
