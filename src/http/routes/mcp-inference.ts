import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { GatewayError } from '../../core/errors.js'
import { authenticateVirtualKey } from '../../core/virtual-keys.js'
import type { GovernanceState } from '../../governance/index.js'
import {
  type AnonymousToolGrants,
  assertToolAllowed,
  callCodeModeTool,
  callIdentity,
  callToolWithDeadline,
  isCodeModeTool,
  type McpToolSource,
  type SandboxLimits,
  toolResultText,
} from '../../mcp/index.js'
import type { StandaloneToolCallObserver, ToolCallRecord } from '../../core/tool-calls.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Decorated by observability: logs and traces each tool call that POST /v1/mcp/tool/execute runs. */
    mcpToolCallObserver?: StandaloneToolCallObserver
  }
}

export interface McpInferenceDeps {
  source: McpToolSource
  state: GovernanceState
  /** `client.enforce_auth_on_inference`, read per request. */
  enforceAuth: () => boolean
  /** `mcp.anonymous_tools`: what a caller without a virtual key may run; default nothing. */
  anonymousTools?: () => AnonymousToolGrants
  /** Deadline of one tool call; default 60 s. */
  toolTimeoutMs?: () => number | undefined
  /** Code mode's script limits (`mcp.tool_manager_config`). */
  codeModeLimits?: () => Partial<SandboxLimits>
}

interface ToolCall {
  name: string
  /** The arguments' JSON text, as the model wrote it. */
  arguments: string
  callId: string | undefined
}

function invalid(message: string, param?: string): GatewayError {
  return new GatewayError('invalid_request', message, { param, retryable: false })
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function optionalString(v: unknown, param: string): string | undefined {
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'string') throw invalid(`${param} must be a string`, param)
  return v
}

/** Chat: an assistant message's tool call `{id, type:'function', function:{name, arguments}}`. */
function chatToolCall(body: Record<string, unknown>): ToolCall {
  if (body.type !== undefined && body.type !== 'function') throw invalid('type must be "function"', 'type')
  const fn = body.function
  if (!isObject(fn)) throw invalid('function is required: {name, arguments}', 'function')
  if (typeof fn.name !== 'string' || fn.name === '')
    throw invalid('function.name is required', 'function.name')
  return {
    name: fn.name,
    arguments: optionalString(fn.arguments, 'function.arguments') ?? '',
    callId: optionalString(body.id, 'id'),
  }
}

/** Responses: a `{type:'function_call', call_id, name, arguments}` item. */
function responsesToolCall(body: Record<string, unknown>): ToolCall {
  if (body.type !== undefined && body.type !== 'function_call')
    throw invalid('type must be "function_call"', 'type')
  if (typeof body.name !== 'string' || body.name === '') throw invalid('name is required', 'name')
  return {
    name: body.name,
    arguments: optionalString(body.arguments, 'arguments') ?? '',
    callId: optionalString(body.call_id, 'call_id'),
  }
}

function parseArguments(text: string, param: string): Record<string, unknown> {
  if (text.trim() === '') return {}
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    throw invalid(`arguments are not valid JSON: ${(err as Error).message}`, param)
  }
  if (!isObject(parsed)) throw invalid('arguments must be a JSON object', param)
  return parsed
}

/** Aborted when the client goes away before its answer is written. */
function requestSignal(reply: FastifyReply): AbortSignal {
  const controller = new AbortController()
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) controller.abort()
  })
  return controller.signal
}

/**
 * `POST /v1/mcp/tool/execute?format=chat|responses`: runs one tool call the model made and answers
 * the message that carries its result back (a chat `tool` message or a `function_call_output`
 * item). The caller's virtual key is checked as for inference, then its MCP tool allow-list.
 */
export function registerMcpInferenceRoutes(app: FastifyInstance, deps: McpInferenceDeps): void {
  app.post('/v1/mcp/tool/execute', async (request: FastifyRequest, reply: FastifyReply) => {
    const format = (request.query as Record<string, unknown>).format ?? 'chat'
    if (format !== 'chat' && format !== 'responses' && format !== '')
      throw invalid('format must be "chat" or "responses"', 'format')
    const vk = authenticateVirtualKey(deps.state, request.headers, deps.enforceAuth())
    if (!isObject(request.body)) throw invalid('the body must be a JSON object: one tool call')
    const call = format === 'responses' ? responsesToolCall(request.body) : chatToolCall(request.body)
    const args = parseArguments(call.arguments, format === 'responses' ? 'arguments' : 'function.arguments')
    if (isCodeModeTool(call.name)) {
      // Code mode's meta-tools; each tool call a script makes is logged like one made here.
      const result = await callCodeModeTool(call.name, args, {
        source: deps.source,
        vk,
        headers: request.headers,
        anonymous: deps.anonymousTools?.(),
        toolTimeoutMs: deps.toolTimeoutMs?.(),
        limits: deps.codeModeLimits?.(),
        signal: requestSignal(reply),
        onToolCall: (record) =>
          app.mcpToolCallObserver?.({ record, headers: request.headers, virtualKey: vk }),
      })
      const text = toolResultText(result)
      if (format === 'responses')
        return reply.send({ type: 'function_call_output', call_id: call.callId ?? '', output: text })
      return reply.send({ role: 'tool', tool_call_id: call.callId ?? '', content: text })
    }
    const tool = assertToolAllowed(deps.source, vk, request.headers, call.name, deps.anonymousTools?.())
    const record: ToolCallRecord = {
      name: tool.toolName,
      client: tool.client,
      callId: call.callId,
      arguments: args,
      startNs: process.hrtime.bigint(),
      endNs: 0n,
    }
    let output: string
    try {
      const result = await callToolWithDeadline(deps.source, tool, args, {
        timeoutMs: deps.toolTimeoutMs?.(),
        signal: requestSignal(reply),
        identity: callIdentity(vk, request.headers),
      })
      output = record.result = toolResultText(result)
      if (result.isError) record.error = output
    } catch (err) {
      record.error = (err as Error).message
      throw err
    } finally {
      record.endNs = process.hrtime.bigint()
      app.mcpToolCallObserver?.({ record, headers: request.headers, virtualKey: vk })
    }
    if (format === 'responses') {
      return reply.send({ type: 'function_call_output', call_id: call.callId ?? '', output })
    }
    return reply.send({ role: 'tool', tool_call_id: call.callId ?? '', content: output })
  })
}
