import { onAbort } from '../core/cancel.js'
import { createContext, type GatewayContext } from '../core/context.js'
import { GatewayError } from '../core/errors.js'
import type { Gateway } from '../core/gateway.js'
import type { ChatMessage, ChatRequest, ChatResponse, ToolCall, Usage } from '../core/schemas/index.js'
import type { JsonResult } from '../core/provider-adapter.js'
import {
  assertToolAllowed,
  callIdentity,
  type AnonymousToolGrants,
  callToolWithDeadline,
  toolResultText,
} from './access.js'
import { autoExecutableMetaTool, callCodeModeTool } from './code-mode/index.js'
import { recordToolCall, type ToolCallRecord } from '../core/tool-calls.js'
import type { McpTool, McpToolResult, McpToolSource } from './types.js'
import { absoluteLoginLinks } from './oauth-client/index.js'

declare module '../core/plugins.js' {
  interface RequestFacts {
    /** The origin the caller used (`<protocol>://<Host>`): tool results' login links are made absolute on it. */
    requestOrigin?: string
  }
}

/** Bifrost's default `mcp_agent_depth`. */
export const DEFAULT_MCP_AGENT_DEPTH = 10

/** Set on answers the agent loop produced: how many rounds of tool calls it ran (1 or more). */
export const MCP_AGENT_ROUNDS_HEADER = 'x-bifrost-mcp-agent-rounds'

export interface McpAgentOptions {
  source: McpToolSource
  /** `mcp.anonymous_tools`: what a caller without a virtual key may run; default nothing. */
  anonymousTools?: () => AnonymousToolGrants
  /** Most rounds (tools run, model asked again) per request; 0 turns agent mode off. */
  maxDepth?: () => number | undefined
  toolTimeoutMs?: () => number | undefined
}

export interface McpAgentOutcome<Res = ChatResponse> {
  result: JsonResult<Res>
  /** The last round's context: its provider, model and hook headers describe the answer sent. */
  ctx: GatewayContext
  rounds: number
}

export interface AutoCall {
  call: ToolCall
  tool: McpTool
  args: Record<string, unknown>
  /** A code-mode meta-tool: how to run it (its scripts' tool calls are recorded as they end). */
  run?: (
    signal: AbortSignal,
    record: (r: ToolCallRecord) => void,
    timeoutMs?: number,
  ) => Promise<McpToolResult>
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** The function names the caller's own tools define: calls to them are the caller's to run. */
export function ownToolNames(req: ChatRequest): Set<string> {
  return new Set((req.tools ?? []).flatMap((t) => (t.function?.name ? [t.function.name] : [])))
}

function parseArguments(text: string): Record<string, unknown> | undefined {
  if (text.trim() === '') return {}
  try {
    const parsed: unknown = JSON.parse(text)
    return isObject(parsed) ? parsed : undefined
  } catch {
    return undefined
  }
}

/**
 * An answer's tool calls, when every one of them may run here: an MCP tool (not one of the
 * caller's own), which the caller may use and its client auto-executes, with JSON-object
 * arguments. Otherwise undefined: the answer goes back to the caller as it is.
 */
export function autoExecutableCalls(
  source: McpToolSource,
  anonymous: AnonymousToolGrants,
  ctx: GatewayContext,
  calls: ToolCall[] | undefined,
  own: Set<string>,
): AutoCall[] | undefined {
  if (!calls?.length) return undefined
  const vk = ctx.facts.virtualKey
  const planned: AutoCall[] = []
  for (const call of calls) {
    const name = call.function.name
    const metaArgs = own.has(name) ? undefined : parseArguments(call.function.arguments)
    const meta = metaArgs && autoExecutableMetaTool(source, name, metaArgs)
    if (meta && metaArgs) {
      const caller = { source, vk, headers: ctx.headers, anonymous, autoExecuteOnly: true }
      const run: AutoCall['run'] = (signal, onToolCall, toolTimeoutMs) =>
        callCodeModeTool(name, metaArgs, { ...caller, signal, onToolCall, toolTimeoutMs })
      planned.push({ call, tool: meta, args: metaArgs, run })
      continue
    }
    if (own.has(name) || !source.autoExecutes(name)) return undefined
    let tool: McpTool
    try {
      tool = assertToolAllowed(source, vk, ctx.headers, name, anonymous)
    } catch {
      return undefined
    }
    const args = parseArguments(call.function.arguments)
    if (!args) return undefined
    planned.push({ call, tool, args })
  }
  return planned
}

/**
 * Runs the calls in parallel; each answers one `tool` message. A failing tool tells the model
 * so (it may recover); only the caller going away stops the loop. Each call is recorded in
 * `next`, the round that carries the results to the model, for traces.
 */
export async function runCalls(
  source: McpToolSource,
  ctx: GatewayContext,
  next: GatewayContext,
  calls: AutoCall[],
  timeoutMs: number | undefined,
): Promise<ChatMessage[]> {
  const controller = new AbortController()
  const stopListening = onAbort(ctx.signal, () => controller.abort())
  const identity = callIdentity(ctx.facts.virtualKey, ctx.headers)
  const origin = ctx.facts.requestOrigin
  const absolute = (text: string) => (origin ? absoluteLoginLinks(text, origin) : text)
  try {
    return await Promise.all(
      calls.map(async ({ call, tool, args, run }): Promise<ChatMessage> => {
        let content: string
        const startNs = process.hrtime.bigint()
        let error: string | undefined
        let answer: string | undefined
        try {
          const result = run
            ? await run(controller.signal, (r) => recordToolCall(next, r), timeoutMs)
            : await callToolWithDeadline(source, tool, args, {
                timeoutMs,
                signal: controller.signal,
                identity,
              })
          content = answer = absolute(toolResultText(result))
          if (result.isError) error = content
        } catch (err) {
          error = absolute((err as Error).message)
          if (err instanceof GatewayError && err.code === 'request_cancelled') throw err
          content = `Error: ${error}`
        } finally {
          const endNs = process.hrtime.bigint()
          recordToolCall(next, {
            name: tool.toolName,
            client: tool.client,
            callId: call.id,
            startNs,
            endNs,
            error,
            arguments: args,
            result: answer,
          })
        }
        return { role: 'tool', tool_call_id: call.id, content }
      }),
    )
  } finally {
    stopListening()
  }
}

export const COST_HEADER = 'x-bifrost-cost-usd'

/** What a round cost, as governance priced it for the response header (undefined: not priced). */
export function costOf(ctx: GatewayContext): number | undefined {
  const header = ctx.responseHeaders[COST_HEADER]
  const value = header === undefined ? NaN : Number(header)
  return Number.isFinite(value) ? value : undefined
}

/** Each round is a request of its own to the hooks: authenticated, limited, charged and logged. */
export function roundContext(first: GatewayContext): GatewayContext {
  const ctx = createContext({
    requestId: first.requestId,
    requestType: first.requestType,
    signal: first.signal,
    headers: first.headers,
    modelRequested: first.modelRequested,
  })
  ctx.directKey = first.directKey
  ctx.passthrough = first.passthrough
  ctx.route = first.route
  ctx.facts.mcpAgentFirst = first
  ctx.facts.requestOrigin = first.facts.requestOrigin
  return ctx
}

/** Adds two usages field by field (nested token details included); other fields keep the first value. */
export function addCounts(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const sum: Record<string, unknown> = { ...a }
  for (const [k, v] of Object.entries(b)) {
    const prev = sum[k]
    if (typeof v === 'number' && typeof prev === 'number') sum[k] = prev + v
    else if (isObject(v) && isObject(prev)) sum[k] = addCounts(prev, v)
    else if (prev === undefined || prev === null) sum[k] = v
  }
  return sum
}

export function addUsage(a: Usage | undefined, b: Usage | undefined): Usage | undefined {
  if (!a) return b
  if (!b) return a
  return addCounts(a, b) as Usage
}

/** The most rounds a request may run; 0: agent mode is off (depth 0, or no tool may run in it). */
export function agentDepth(opts: McpAgentOptions): number {
  const depth = Math.max(0, opts.maxDepth?.() ?? DEFAULT_MCP_AGENT_DEPTH)
  return depth > 0 && anyAutoExecutable(opts) ? depth : 0
}

/**
 * Whether any tool may run in agent mode (one a client auto-executes, or code mode's): when none
 * can, the answer is the provider's as it came (a stream's frames byte for byte, a JSON body unparsed).
 */
function anyAutoExecutable({ source }: McpAgentOptions): boolean {
  return source.listTools().some((t) => source.autoExecutes(t.name) || source.isCodeModeClient?.(t.client))
}

/**
 * Where an agent loop stands (chat or Responses, streamed or not): the current round's context
 * and request, how many rounds of tools ran, and every answer's usage and cost so far.
 */
export class AgentRounds<Req, U> {
  current: GatewayContext
  conversation: Req
  rounds = 0
  usage: U | undefined
  cost: number | undefined

  constructor(
    private readonly first: GatewayContext,
    req: Req,
    private readonly opts: McpAgentOptions,
    /** The caller's own tools, read before the first call (the injection hook adds the MCP tools). */
    private readonly own: Set<string>,
    private readonly addUsage: (a: U | undefined, b: U | undefined) => U | undefined,
  ) {
    this.current = first
    this.conversation = req
  }

  /** Counts the current round's answer: its usage, and its cost as governance priced it. */
  count(usage: U | undefined): void {
    this.usage = this.addUsage(this.usage, usage)
    const cost = costOf(this.current)
    if (cost !== undefined) this.cost = (this.cost ?? 0) + cost
  }

  /** The answer's calls that run here, while the depth allows another round; undefined: the answer is the caller's. */
  callsToRun(proposed: ToolCall[] | undefined, maxDepth: number): AutoCall[] | undefined {
    if (this.rounds >= maxDepth) return undefined
    const anonymous = this.opts.anonymousTools?.() ?? []
    return autoExecutableCalls(this.opts.source, anonymous, this.current, proposed, this.own)
  }

  /** Runs the calls in the next round's context; `followUp` makes the next request with their results. */
  async advance(
    calls: AutoCall[],
    followUp: (conversation: Req, results: ChatMessage[]) => Req,
  ): Promise<void> {
    const next = roundContext(this.first)
    const results = await runCalls(this.opts.source, this.current, next, calls, this.opts.toolTimeoutMs?.())
    this.conversation = followUp(this.conversation, results)
    this.current = next
    this.rounds++
  }
}

/** Agent mode for one API, streamed or not: what http/routes/inference.ts calls instead of the gateway. */
export type McpAgentEntry<Req, Out> = (
  gateway: Gateway,
  ctx: GatewayContext,
  req: Req,
  opts: McpAgentOptions,
) => Promise<Out>

/** What the agent loop needs to know of one API (chat completions, Responses). */
export interface AgentFormat<Req, Res, U> {
  call(gateway: Gateway, ctx: GatewayContext, req: Req): Promise<JsonResult<Res>>
  /** The names of the request's own tools; read before the first call (the injection hook adds the MCP tools). */
  ownNames(req: Req): Set<string>
  usageOf(result: JsonResult<Res>): U | undefined
  addUsage(a: U | undefined, b: U | undefined): U | undefined
  /** The answer's tool calls in chat's shape, when it is a single answer; otherwise undefined. */
  proposedCalls(body: Res): ToolCall[] | undefined
  /** The next request: the conversation so far, the answer, and the tools' results. */
  followUp(req: Req, body: Res, results: ChatMessage[]): Req
  /** The answer sent: the last one with every round's usage (no raw bytes: it is not the provider's). */
  withUsage(result: JsonResult<Res>, usage: U | undefined): JsonResult<Res>
}

/**
 * Agent mode for one API's non-streamed requests (Bifrost's `tools_to_auto_execute` with
 * `mcp_agent_depth`): while the model's answer only calls MCP tools the caller may use and
 * their clients auto-execute, runs them, adds the answer and the tool results to the request
 * and asks the model again, at most the agent depth. Any other answer goes back as it is.
 * After one round or more, the answer is the last one with the rounds' usage summed, the
 * rounds counted in {@link MCP_AGENT_ROUNDS_HEADER} and every round's cost in the cost header.
 */
export function withMcpAgent<Req, Res, U>(
  format: AgentFormat<Req, Res, U>,
): McpAgentEntry<Req, McpAgentOutcome<Res>> {
  return async (gateway, ctx, req, opts) => {
    const maxDepth = agentDepth(opts)
    const own = format.ownNames(req)
    if (maxDepth === 0) return { result: await format.call(gateway, ctx, req), ctx, rounds: 0 }
    const loop = new AgentRounds(ctx, req, opts, own, format.addUsage)
    let result = await format.call(gateway, ctx, req)
    loop.count(format.usageOf(result))
    for (;;) {
      const calls = loop.callsToRun(format.proposedCalls(result.body), maxDepth)
      if (!calls) break
      await loop.advance(calls, (conversation, results) =>
        format.followUp(conversation, result.body, results),
      )
      result = await format.call(gateway, loop.current, loop.conversation)
      loop.count(format.usageOf(result))
    }
    if (loop.rounds === 0) return { result, ctx, rounds: 0 }
    loop.current.responseHeaders[MCP_AGENT_ROUNDS_HEADER] = String(loop.rounds)
    // The answer's cost is every round's, as its usage is.
    if (loop.cost !== undefined) loop.current.responseHeaders[COST_HEADER] = loop.cost.toFixed(8)
    return { result: format.withUsage(result, loop.usage), ctx: loop.current, rounds: loop.rounds }
  }
}

/** A non-streamed chat completion in agent mode: tool results go back as `tool` messages. */
export const chatWithMcpAgent = withMcpAgent<ChatRequest, ChatResponse, Usage>({
  call: (gateway, c, r) => gateway.chat(c, r),
  ownNames: ownToolNames,
  usageOf: (r) => r.usage ?? r.body.usage,
  addUsage,
  proposedCalls: (body) => (body.choices.length === 1 ? body.choices[0].message.tool_calls : undefined),
  followUp: (conv, body, results) => ({
    ...conv,
    messages: [...conv.messages, body.choices[0].message as ChatMessage, ...results],
  }),
  withUsage: (r, usage) => ({ body: { ...r.body, ...(usage && { usage }) }, usage, headers: r.headers }),
})
