import type { GatewayContext } from '../core/context.js'

/** ctx.state key: the MCP tool calls run for this request (agent mode), for traces. */
export const MCP_TOOL_CALLS = 'mcp.tool_calls'
/** ctx.state key of an agent round after the first: the first round's context. */
export const MCP_AGENT_FIRST = 'mcp.agent_first'

/** One MCP tool call, as traces show it. */
export interface ToolCallRecord {
  /** The tool's name on its own server. */
  name: string
  /** The MCP client that served it. */
  client: string
  callId?: string
  startNs: bigint
  endNs: bigint
  /** Why it failed; undefined when it answered. */
  error?: string
}

export function recordToolCall(ctx: GatewayContext, record: ToolCallRecord): void {
  let calls = ctx.state.get(MCP_TOOL_CALLS) as ToolCallRecord[] | undefined
  if (!calls) ctx.state.set(MCP_TOOL_CALLS, (calls = []))
  calls.push(record)
}
