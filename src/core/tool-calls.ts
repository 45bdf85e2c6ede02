import type { GatewayContext } from './context.js'
import type { RequestFacts } from './plugins.js'

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

// The MCP facts of a request, typed for the plugins that read them (logging, tracing).
declare module './plugins.js' {
  interface RequestFacts {
    /** The MCP tool calls run for this request (agent mode). */
    mcpToolCalls?: ToolCallRecord[]
    /** In an agent round after the first: the first round's context. */
    mcpAgentFirst?: GatewayContext
  }
}

export function recordToolCall(ctx: GatewayContext, record: ToolCallRecord): void {
  ;(ctx.facts.mcpToolCalls ??= []).push(record)
}

/** A tool call made outside any inference request (POST /v1/mcp/tool/execute). */
export interface StandaloneToolCall {
  record: ToolCallRecord
  /** The caller's headers, lower-cased: a W3C `traceparent` joins the caller's trace. */
  headers: Record<string, string | string[] | undefined>
  /** The caller's virtual key (the type governance declares on RequestFacts). */
  virtualKey?: RequestFacts['virtualKey']
}

/** Told of every standalone tool call once it has ended; never throws. */
export type StandaloneToolCallObserver = (call: StandaloneToolCall) => void
