import { Server } from '@modelcontextprotocol/sdk/server/index.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import {
  CallToolRequestSchema,
  ErrorCode as RpcErrorCode,
  ListToolsRequestSchema,
  McpError,
  type CallToolResult,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { GatewayContext } from '../core/context.js'
import { asGatewayError } from '../core/errors.js'
import type { VirtualKeyRecord } from '../governance/model.js'
import type { GovernanceState } from '../governance/state.js'
import { allowedTools, assertToolAllowed, callToolWithDeadline, resolveCaller } from './access.js'
import type { McpTool, McpToolSource } from './types.js'

export interface McpServerDeps {
  source: McpToolSource
  state: GovernanceState
  /** `client.enforce_auth_on_inference`: without it, a caller with no virtual key sees every tool. */
  enforceAuth: () => boolean
  /** Deadline of one tool call; default 60 s. */
  toolTimeoutMs?: () => number | undefined
  /**
   * The `WWW-Authenticate` value of a 401. The seam for per-user OAuth: it will name the
   * protected-resource metadata (`Bearer resource_metadata="…/.well-known/oauth-protected-resource"`).
   */
  challenge?: (request: FastifyRequest) => string
  version?: string
}

/** JSON-RPC's "server error" range; MCP servers commonly answer auth failures with it. */
const RPC_UNAUTHORIZED = -32001

function rpcError(reply: FastifyReply, status: number, code: number, message: string, data?: unknown) {
  return reply
    .code(status)
    .type('application/json; charset=utf-8')
    .send({ jsonrpc: '2.0', error: { code, message, ...(data !== undefined && { data }) }, id: null })
}

function listedTool(tool: McpTool): Tool {
  return {
    name: tool.name,
    ...(tool.description !== undefined && { description: tool.description }),
    // MCP requires an object schema; a server that declared none takes no arguments.
    inputSchema: { ...tool.inputSchema, type: 'object' },
    ...(tool.annotations !== undefined && { annotations: tool.annotations }),
  }
}

/** One MCP server for one request: the tools this caller may use, and calls to them. */
function serverFor(
  deps: McpServerDeps,
  vk: VirtualKeyRecord | undefined,
  headers: GatewayContext['headers'],
): Server {
  const server = new Server(
    { name: 'heimdall', version: deps.version ?? '0.1.0' },
    { capabilities: { tools: { listChanged: false } } },
  )
  server.setRequestHandler(ListToolsRequestSchema, () => ({
    tools: allowedTools(deps.source, vk, headers).map(listedTool),
  }))
  server.setRequestHandler(CallToolRequestSchema, async (req, extra): Promise<CallToolResult> => {
    let tool: McpTool
    try {
      tool = assertToolAllowed(deps.source, vk, headers, req.params.name)
    } catch (err) {
      throw new McpError(RpcErrorCode.InvalidParams, asGatewayError(err).message)
    }
    try {
      const result = await callToolWithDeadline(deps.source, tool, req.params.arguments ?? {}, {
        timeoutMs: deps.toolTimeoutMs?.(),
        signal: extra.signal,
        identity: vk?.id,
      })
      return result as CallToolResult
    } catch (err) {
      // A failed call is the tool's result, for the model to read, not a protocol error.
      return { isError: true, content: [{ type: 'text', text: asGatewayError(err).message }] }
    }
  })
  return server
}

/**
 * Heimdall as an MCP server: `POST /mcp`, Streamable HTTP in stateless mode (a new server and
 * transport per request). The caller is a virtual key (`Authorization: Bearer sk-bf-…` or
 * `x-bf-vk`); `tools/list` and `tools/call` see exactly the tools that key may use.
 */
export function registerMcpServerRoute(app: FastifyInstance, deps: McpServerDeps): void {
  app.post('/mcp', async (request, reply) => {
    let vk: VirtualKeyRecord | undefined
    try {
      vk = resolveCaller(deps.state, request.headers, deps.enforceAuth())
    } catch (err) {
      const e = asGatewayError(err)
      if (e.status === 401) reply.header('www-authenticate', deps.challenge?.(request) ?? 'Bearer')
      return rpcError(reply, e.status, RPC_UNAUTHORIZED, e.message, { type: e.topLevelType ?? e.type })
    }
    const server = serverFor(deps, vk, request.headers)
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    })
    reply.raw.on('close', () => {
      transport.close().catch(() => undefined)
      server.close().catch(() => undefined)
    })
    await server.connect(transport)
    reply.hijack()
    await transport.handleRequest(request.raw, reply.raw, request.body)
  })
  // Stateless: no server-initiated stream to open, no session to end.
  const notAllowed = async (_request: FastifyRequest, reply: FastifyReply) => {
    reply.header('allow', 'POST')
    return rpcError(
      reply,
      405,
      RpcErrorCode.ConnectionClosed,
      'method not allowed: this MCP server is stateless; use POST',
    )
  }
  app.get('/mcp', notAllowed)
  app.delete('/mcp', notAllowed)
}
