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
import { asGatewayError, GatewayError } from '../core/errors.js'
import { isVirtualKeyValue } from '../governance/enforce.js'
import type { VirtualKeyRecord } from '../governance/model.js'
import type { GovernanceState } from '../governance/state.js'
import {
  ANONYMOUS_TOOLS_HINT,
  allowedTools,
  anonymousAccessOpen,
  assertToolAllowed,
  type AnonymousToolGrants,
  callIdentity,
  callToolWithDeadline,
  resolveCaller,
} from './access.js'
import type { McpTool, McpToolSource } from './types.js'
import { callCodeModeTool, isCodeModeTool, withCodeMode, type SandboxLimits } from './code-mode/index.js'

export interface McpServerDeps {
  source: McpToolSource
  state: GovernanceState
  /** `client.enforce_auth_on_inference`: with it, a caller with no virtual key is refused outright. */
  enforceAuth: () => boolean
  /** `mcp.anonymous_tools`: the tools a caller without a virtual key sees; default none. */
  anonymousTools?: () => AnonymousToolGrants
  /** Deadline of one tool call; default 60 s. */
  toolTimeoutMs?: () => number | undefined
  /**
   * The `WWW-Authenticate` value of a 401. The seam for per-user OAuth: it will name the
   * protected-resource metadata (`Bearer resource_metadata="…/.well-known/oauth-protected-resource"`).
   */
  challenge?: (request: FastifyRequest) => string
  /**
   * DNS-rebinding protection (MCP transport spec): why a request's `Host` or `Origin` must be
   * refused, or undefined. The HTTP layer's origin guard, so that /mcp and the rest of the gateway
   * decide alike.
   */
  refusedOrigin?: (request: FastifyRequest) => string | undefined
  /**
   * Per-user OAuth: whom a Bearer access token issued by Heimdall's authorization server stands
   * for, or undefined when it is unknown, expired or for another resource.
   */
  verifyAccessToken?: (token: string, request: FastifyRequest) => Promise<McpTokenIdentity | undefined>
  version?: string
  /** Code mode's script limits (`mcp.tool_manager_config`); Bifrost's defaults otherwise. */
  codeModeLimits?: () => Partial<SandboxLimits>
}

/** Whom an OAuth access token was issued for: a virtual key, a user id, or neither. */
export interface McpTokenIdentity {
  virtualKeyId?: string
  userId?: string
}

/** An `Authorization: Bearer` value that is not a virtual key, when no `x-bf-vk` names one. */
function oauthBearer(headers: FastifyRequest['headers']): string | undefined {
  if (headers['x-bf-vk']) return undefined
  const m = /^bearer\s+(\S+)$/i.exec(headers.authorization?.trim() ?? '')
  return m && !isVirtualKeyValue(m[1]) ? m[1] : undefined
}

/** The caller of an access token: its virtual key, checked as a key sent directly would be. */
async function callerOfToken(
  deps: McpServerDeps,
  verify: NonNullable<McpServerDeps['verifyAccessToken']>,
  token: string,
  request: FastifyRequest,
): Promise<VirtualKeyRecord | undefined> {
  const refused = { isBifrostError: false, retryable: false }
  const identity = await verify(token, request)
  if (!identity) throw new GatewayError('unauthorized', 'the access token is invalid or expired', refused)
  if (identity.virtualKeyId === undefined) {
    if (deps.enforceAuth())
      throw new GatewayError('virtual_key_required', 'this token names no virtual key, which is required', {
        ...refused,
        topLevelType: 'virtual_key_required',
      })
    return undefined
  }
  const vk = deps.state.virtualKey(identity.virtualKeyId)
  if (!vk || !vk.is_active || (vk.expires_at && Date.parse(vk.expires_at) <= Date.now()))
    throw new GatewayError('virtual_key_blocked', 'the virtual key of this token is no longer active', {
      ...refused,
      topLevelType: 'virtual_key_blocked',
    })
  return vk
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
  anonymous: AnonymousToolGrants,
): Server {
  const server = new Server(
    { name: 'heimdall', version: deps.version ?? '0.1.0' },
    { capabilities: { tools: { listChanged: false } } },
  )
  server.setRequestHandler(ListToolsRequestSchema, () => ({
    tools: withCodeMode(allowedTools(deps.source, vk, headers, anonymous), deps.source).map(listedTool),
  }))
  server.setRequestHandler(CallToolRequestSchema, async (req, extra): Promise<CallToolResult> => {
    if (isCodeModeTool(req.params.name)) {
      const { signal } = extra
      const limits = deps.codeModeLimits?.()
      const ctx = { source: deps.source, vk, headers, anonymous, signal, limits }
      return (await callCodeModeTool(req.params.name, req.params.arguments ?? {}, ctx)) as CallToolResult
    }
    let tool: McpTool
    try {
      tool = assertToolAllowed(deps.source, vk, headers, req.params.name, anonymous)
    } catch (err) {
      throw new McpError(RpcErrorCode.InvalidParams, asGatewayError(err).message)
    }
    try {
      const result = await callToolWithDeadline(deps.source, tool, req.params.arguments ?? {}, {
        timeoutMs: deps.toolTimeoutMs?.(),
        signal: extra.signal,
        identity: callIdentity(vk, headers),
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
 * `x-bf-vk`), or an access token Heimdall issued for one; `tools/list` and `tools/call` see
 * exactly the tools that key may use.
 */
export function registerMcpServerRoute(app: FastifyInstance, deps: McpServerDeps): void {
  app.post('/mcp', async (request, reply) => {
    const foreign = deps.refusedOrigin?.(request)
    if (foreign) {
      return reply
        .code(403)
        .send({ jsonrpc: '2.0', error: { code: -32000, message: `Forbidden: ${foreign}` }, id: null })
    }
    let vk: VirtualKeyRecord | undefined
    const anonymous = deps.anonymousTools?.() ?? []
    try {
      const verify = deps.verifyAccessToken
      const token = verify && oauthBearer(request.headers)
      vk =
        verify && token
          ? await callerOfToken(deps, verify, token, request)
          : resolveCaller(deps.state, request.headers, deps.enforceAuth())
      // Nothing is open without a key: say so (and, to a caller with no token, how to log in).
      if (!vk && !anonymousAccessOpen(deps.source, anonymous)) {
        throw token
          ? new GatewayError(
              'forbidden',
              `this token names no virtual key, and no MCP tool is open to callers without one: ${ANONYMOUS_TOOLS_HINT}`,
              { isBifrostError: false, retryable: false },
            )
          : new GatewayError(
              'virtual_key_required',
              `no MCP tool is open to callers without a virtual key: ${ANONYMOUS_TOOLS_HINT}`,
              { isBifrostError: false, retryable: false, topLevelType: 'virtual_key_required' },
            )
      }
    } catch (err) {
      const e = asGatewayError(err)
      if (e.status === 401) reply.header('www-authenticate', deps.challenge?.(request) ?? 'Bearer')
      return rpcError(reply, e.status, RPC_UNAUTHORIZED, e.message, { type: e.topLevelType ?? e.type })
    }
    const server = serverFor(deps, vk, request.headers, anonymous)
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
