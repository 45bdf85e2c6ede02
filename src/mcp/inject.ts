import type { GatewayContext, GatewayHook } from '../core/context.js'
import type { RequestType } from '../core/errors.js'
import { allowedTools, type AnonymousToolGrants } from './access.js'
import type { McpTool, McpToolSource } from './types.js'
import { withCodeMode } from './code-mode/index.js'

export interface McpToolInjectionOptions {
  source: McpToolSource
  /** `mcp.anonymous_tools`: what a caller without a virtual key gets; default nothing. */
  anonymousTools?: () => AnonymousToolGrants
  /** Whether tools are added at all (off: e.g. a `disable_auto_tool_inject` setting); default on. */
  enabled?: () => boolean
}

type ToolFormat = 'chat' | 'responses'

/** Which tool shape a request takes; other requests (embeddings, text completions, models) get none. */
const FORMAT_OF: Partial<Record<RequestType, ToolFormat>> = {
  chat_completion: 'chat',
  chat_completion_stream: 'chat',
  responses: 'responses',
  responses_stream: 'responses',
}

/**
 * What of a tool a model's function definition can carry: its name, its arguments' schema, and a
 * description — the server's, else its title, with the shape of its structured result (the
 * `outputSchema`) appended, since function tools have no field for either.
 */
function functionFields(tool: McpTool): Record<string, unknown> {
  const title = typeof tool.definition?.title === 'string' ? tool.definition.title : undefined
  const output = tool.definition?.outputSchema
  const parts = [tool.description ?? title, output && `Returns JSON matching: ${JSON.stringify(output)}`]
  const description = parts.filter((p) => typeof p === 'string' && p !== '').join('\n\n')
  return { name: tool.name, ...(description !== '' && { description }), parameters: tool.inputSchema }
}

function chatTool(tool: McpTool): Record<string, unknown> {
  return { type: 'function', function: functionFields(tool) }
}

function responsesTool(tool: McpTool): Record<string, unknown> {
  return { type: 'function', ...functionFields(tool) }
}

/** The function names a request's own tools define, in either shape. */
function definedNames(tools: unknown[]): Set<string> {
  const names = new Set<string>()
  for (const t of tools) {
    if (typeof t !== 'object' || t === null) continue
    const tool = t as { name?: unknown; function?: { name?: unknown } }
    if (typeof tool.name === 'string') names.add(tool.name)
    if (typeof tool.function?.name === 'string') names.add(tool.function.name)
  }
  return names
}

/**
 * Adds the MCP tools the caller may use to chat and Responses requests, after the caller's own
 * tools (whose names win). The model's tool calls go back to the caller; nothing runs here. It
 * reads the virtual key the governance hook resolved, so it must be registered after that hook.
 */
export class McpToolInjection implements GatewayHook {
  readonly name = 'mcp'

  constructor(private opts: McpToolInjectionOptions) {}

  beforeRequest(ctx: GatewayContext, request: Record<string, unknown>): void {
    const format = FORMAT_OF[ctx.requestType]
    if (!format || this.opts.enabled?.() === false) return
    const vk = ctx.facts.virtualKey
    const allowed = allowedTools(this.opts.source, vk, ctx.headers, this.opts.anonymousTools?.())
    const tools = withCodeMode(allowed, this.opts.source)
    if (tools.length === 0) return
    const own = Array.isArray(request.tools) ? (request.tools as unknown[]) : []
    const taken = definedNames(own)
    const added = tools
      .filter((t) => !taken.has(t.name))
      .map((t) => (format === 'chat' ? chatTool(t) : responsesTool(t)))
    if (added.length > 0) request.tools = [...own, ...added]
  }
}
