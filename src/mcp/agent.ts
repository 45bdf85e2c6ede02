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

export interface McpAgentOutcome {
  result: JsonResult<ChatResponse>
  /** The last round's context: its provider, model and hook headers describe the answer sent. */
  ctx: GatewayContext
  rounds: number
}

interface AutoCall {
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
function ownToolNames(req: ChatRequest): Set<string> {
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
 * The answer's tool calls, when every one of them may run here: an MCP tool (not one of the
 * caller's own), which the caller may use and its client auto-executes, with JSON-object
 * arguments. Otherwise undefined: the answer goes back to the caller as it is.
 */
function autoExecutableCalls(
  source: McpToolSource,
  anonymous: AnonymousToolGrants,
  ctx: GatewayContext,
  response: ChatResponse,
  own: Set<string>,
): AutoCall[] | undefined {
  if (response.choices.length !== 1) return undefined
  const calls = response.choices[0].message.tool_calls
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
async function runCalls(
  source: McpToolSource,
  ctx: GatewayContext,
  next: GatewayContext,
  calls: AutoCall[],
  timeoutMs: number | undefined,
): Promise<ChatMessage[]> {
  const controller = new AbortController()
  const stopListening = onAbort(ctx.signal, () => controller.abort())
  const identity = callIdentity(ctx.facts.virtualKey, ctx.headers)
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
          content = answer = toolResultText(result)
          if (result.isError) error = content
        } catch (err) {
          error = (err as Error).message
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

const COST_HEADER = 'x-bifrost-cost-usd'

/** What a round cost, as governance priced it for the response header (undefined: not priced). */
function costOf(ctx: GatewayContext): number | undefined {
  const header = ctx.responseHeaders[COST_HEADER]
  const value = header === undefined ? NaN : Number(header)
  return Number.isFinite(value) ? value : undefined
}

/** Each round is a request of its own to the hooks: authenticated, limited, charged and logged. */
function roundContext(first: GatewayContext): GatewayContext {
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
  return ctx
}

/** Adds two usages field by field (nested token details included); other fields keep the first value. */
function addCounts(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const sum: Record<string, unknown> = { ...a }
  for (const [k, v] of Object.entries(b)) {
    const prev = sum[k]
    if (typeof v === 'number' && typeof prev === 'number') sum[k] = prev + v
    else if (isObject(v) && isObject(prev)) sum[k] = addCounts(prev, v)
    else if (prev === undefined || prev === null) sum[k] = v
  }
  return sum
}

function addUsage(a: Usage | undefined, b: Usage | undefined): Usage | undefined {
  if (!a) return b
  if (!b) return a
  return addCounts(a, b) as Usage
}

/**
 * A non-streamed chat completion in agent mode (Bifrost's `tools_to_auto_execute` with
 * `mcp_agent_depth`): while the model's answer only calls MCP tools the caller may use and
 * their clients auto-execute, runs them, appends the assistant message and the tool results to
 * the conversation and asks the model again, at most `maxDepth` rounds. Any other answer goes
 * back as it is. After one round or more, the answer is the last one with the rounds' usage
 * summed and the rounds counted in {@link MCP_AGENT_ROUNDS_HEADER}.
 */
export async function chatWithMcpAgent(
  gateway: Gateway,
  ctx: GatewayContext,
  req: ChatRequest,
  opts: McpAgentOptions,
): Promise<McpAgentOutcome> {
  // Read before the first call: the injection hook adds the MCP tools to req.tools.
  const own = ownToolNames(req)
  const maxDepth = Math.max(0, opts.maxDepth?.() ?? DEFAULT_MCP_AGENT_DEPTH)
  let result = await gateway.chat(ctx, req)
  let usage = result.usage ?? result.body.usage
  let cost = costOf(ctx)
  let current = ctx
  let conversation = req
  let rounds = 0
  while (rounds < maxDepth) {
    const calls = autoExecutableCalls(opts.source, opts.anonymousTools?.() ?? [], current, result.body, own)
    if (!calls) break
    const next = roundContext(ctx)
    const results = await runCalls(opts.source, current, next, calls, opts.toolTimeoutMs?.())
    const assistant = result.body.choices[0].message as ChatMessage
    conversation = { ...conversation, messages: [...conversation.messages, assistant, ...results] }
    current = next
    result = await gateway.chat(current, conversation)
    usage = addUsage(usage, result.usage ?? result.body.usage)
    const roundCost = costOf(current)
    if (roundCost !== undefined) cost = (cost ?? 0) + roundCost
    rounds++
  }
  if (rounds === 0) return { result, ctx, rounds }
  current.responseHeaders[MCP_AGENT_ROUNDS_HEADER] = String(rounds)
  // The answer's cost is every round's, as its usage is.
  if (cost !== undefined) current.responseHeaders[COST_HEADER] = cost.toFixed(8)
  const body: ChatResponse = { ...result.body, ...(usage && { usage }) }
  // No raw bytes: the body sent is not the provider's last answer byte for byte.
  return { result: { body, usage, headers: result.headers }, ctx: current, rounds }
}
