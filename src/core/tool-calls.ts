import type { GatewayContext } from '../core/context.js'
import type { VirtualKeyRecord } from '../governance/model.js'

/** ctx.state key: the MCP tool calls run for this request (agent mode), for traces and logs. */
export const MCP_TOOL_CALLS = 'mcp.tool_calls'
/** ctx.state key of an agent round after the first: the first round's context. */
export const MCP_AGENT_FIRST = 'mcp.agent_first'

/** One MCP tool call, as traces and the MCP tool logs show it. */
export interface ToolCallRecord {
  /** The tool's name on its own server. */
  name: string
  /** The MCP client that served it. */
  client: string
  callId?: string
  startNs: bigint
  endNs: bigint
  /** Why it failed (thrown, or the tool's own `isError` answer); undefined when it answered. */
  error?: string
  /** What the model sent; kept in the logs unless content logging is off. */
  arguments?: Record<string, unknown>
  /** The tool's answer as text; kept in the logs unless content logging is off. */
  result?: string
}

export function recordToolCall(ctx: GatewayContext, record: ToolCallRecord): void {
  let calls = ctx.state.get(MCP_TOOL_CALLS) as ToolCallRecord[] | undefined
  if (!calls) ctx.state.set(MCP_TOOL_CALLS, (calls = []))
  calls.push(record)
}

/** A tool call made outside any inference request (POST /v1/mcp/tool/execute). */
export interface StandaloneToolCall {
  record: ToolCallRecord
  /** The caller's headers, lower-cased: a W3C `traceparent` joins the caller's trace. */
  headers: Record<string, string | string[] | undefined>
  virtualKey?: VirtualKeyRecord
}

/** Told of every standalone tool call once it has ended; never throws. */
export type StandaloneToolCallObserver = (call: StandaloneToolCall) => void
