import { Server } from '@modelcontextprotocol/sdk/server/index.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import {
  CallToolRequestSchema,
  ErrorCode as RpcErrorCode,
  ListToolsRequestSchema,
  McpError,
  SetLevelRequestSchema,
  type CallToolResult,
  type LoggingLevel,
  type ServerNotification,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { GatewayContext } from '../core/context.js'
import { asGatewayError, GatewayError } from '../core/errors.js'
import type { ToolCallRecord } from '../core/tool-calls.js'
import {
  authenticateVirtualKey,
  isVirtualKeyValue,
  virtualKeyUsable,
  type VirtualKeyLookup,
} from '../core/virtual-keys.js'
import {
  ANONYMOUS_TOOLS_HINT,
  anonymousAccessOpen,
  type AnonymousToolGrants,
  callIdentity,
  callToolWithDeadline,
  type McpVirtualKey,
  toolResultText,
} from './access.js'
import { listedPrompts, servePromptsAndResources } from './prompts-resources.js'
import { callerScope, EMPTY_SCOPE, scopedResources, type McpScope } from './scope.js'
import { McpSessions } from './sessions.js'
import { isCatalogSource, type McpTool, type McpToolSource } from './types.js'
import { virtualScope, type VirtualMcp } from './virtual.js'
import { callCodeModeTool, isCodeModeTool, withCodeMode, type SandboxLimits } from './code-mode/index.js'
import { absoluteLoginLinks } from './oauth-client/index.js'

export interface McpServerDeps {
  source: McpToolSource
  /** Governance's virtual keys (src/http hands its state in). */
  state: VirtualKeyLookup<McpVirtualKey>
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
  /** Told of each tool call made on /mcp once it ended (code mode's nested calls included), for the MCP tool logs and traces. */
  onToolCall?: (
    record: ToolCallRecord,
    caller: { virtualKeyId?: string; headers: GatewayContext['headers'] },
  ) => void
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
): Promise<McpVirtualKey | undefined> {
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
  if (!vk || !virtualKeyUsable(vk))
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

/** A tool as /mcp lists it: every field its server declared, under its exposed name. */
export function listedTool(tool: McpTool): Tool {
  return {
    ...tool.definition,
    name: tool.name,
    ...(tool.description !== undefined && { description: tool.description }),
    // MCP requires an object schema; a server that declared none takes no arguments.
    inputSchema: { ...tool.inputSchema, type: 'object' },
    ...(tool.annotations !== undefined && { annotations: tool.annotations }),
  } as Tool
}

/** A tool result whose login links (an upstream needing the caller's login) are absolute on the origin the MCP client used. */
function withAbsoluteLoginLinks(
  result: CallToolResult,
  extra: { requestInfo?: { url?: URL } },
): CallToolResult {
  const origin = extra.requestInfo?.url?.origin
  if (!origin || !Array.isArray(result.content)) return result
  const content = result.content.map((c) =>
    c.type === 'text' ? { ...c, text: absoluteLoginLinks(c.text, origin) } : c,
  )
  return { ...result, content }
}

/** Who calls, and what they may use: resolved per request, so that a session follows key changes. */
interface Caller {
  vk: McpVirtualKey | undefined
  headers: GatewayContext['headers']
  anonymous: AnonymousToolGrants
  scope: McpScope
}

/** MCP's log levels, least severe first. */
const LOG_LEVELS: readonly LoggingLevel[] = [
  'debug',
  'info',
  'notice',
  'warning',
  'error',
  'critical',
  'alert',
  'emergency',
]

/** The progress token a request carries in `_meta`, if any. */
function progressToken(meta: unknown): string | number | undefined {
  const token = (meta as { progressToken?: unknown } | undefined)?.progressToken
  return typeof token === 'string' || typeof token === 'number' ? token : undefined
}

/**
 * One MCP server for a caller: tools, and the upstream prompts and resources, that its scope opens.
 * Progress and log messages of upstream tool calls go to the caller's request stream.
 */
function serverFor(deps: McpServerDeps, callerOf: (headers?: GatewayContext['headers']) => Caller): Server {
  const catalog = isCatalogSource(deps.source) ? deps.source : undefined
  const server = new Server(
    { name: 'heimdall', version: deps.version ?? '0.1.0' },
    {
      capabilities: {
        tools: { listChanged: true },
        logging: {},
        ...(catalog && {
          completions: {},
          prompts: { listChanged: true },
          resources: { listChanged: true, subscribe: true },
        }),
      },
    },
  )
  const headersOf = (extra: { requestInfo?: { headers: GatewayContext['headers'] } }) =>
    extra.requestInfo?.headers
  // logging/setLevel: the least severe level of upstream log messages this client wants (all by default).
  let minLevel = 0
  server.setRequestHandler(SetLevelRequestSchema, (req) => {
    minLevel = LOG_LEVELS.indexOf(req.params.level)
    return {}
  })
  server.setRequestHandler(ListToolsRequestSchema, (_req, extra) => {
    const { scope } = callerOf(headersOf(extra))
    return { tools: withCodeMode(scope.tools(), deps.source).map(listedTool) }
  })
  server.setRequestHandler(CallToolRequestSchema, async (req, extra): Promise<CallToolResult> => {
    const caller = callerOf(headersOf(extra))
    const { vk, headers, anonymous } = caller
    const observe = (record: ToolCallRecord) => deps.onToolCall?.(record, { virtualKeyId: vk?.id, headers })
    if (isCodeModeTool(req.params.name)) {
      const { signal } = extra
      const limits = deps.codeModeLimits?.()
      const ctx = { source: deps.source, vk, headers, anonymous, access: caller.scope, signal, limits }
      const result = await callCodeModeTool(req.params.name, req.params.arguments ?? {}, {
        ...ctx,
        onToolCall: observe,
      })
      return withAbsoluteLoginLinks(result as CallToolResult, extra)
    }
    let tool: McpTool
    try {
      tool = caller.scope.tool(req.params.name)
    } catch (err) {
      throw new McpError(RpcErrorCode.InvalidParams, asGatewayError(err).message)
    }
    const token = progressToken(req.params._meta)
    const relay = (method: string, params: Record<string, unknown>) => {
      extra.sendNotification({ method, params } as ServerNotification).catch(() => undefined)
    }
    const args = req.params.arguments ?? {}
    const record: ToolCallRecord = {
      name: tool.toolName,
      client: tool.client,
      arguments: args,
      startNs: process.hrtime.bigint(),
      endNs: 0n,
    }
    try {
      const result = await callToolWithDeadline(deps.source, tool, args, {
        timeoutMs: deps.toolTimeoutMs?.(),
        signal: extra.signal,
        identity: callIdentity(vk, headers),
        ...(token !== undefined && {
          onProgress: (p) => relay('notifications/progress', { progressToken: token, ...p }),
        }),
        onLog: (m) => {
          if (LOG_LEVELS.indexOf(m.level as LoggingLevel) >= minLevel)
            relay('notifications/message', { ...m })
        },
      })
      record.result = toolResultText(result)
      if (result.isError) record.error = record.result
      return withAbsoluteLoginLinks(result as CallToolResult, extra)
    } catch (err) {
      // A failed call is the tool's result, for the model to read, not a protocol error.
      record.error = asGatewayError(err).message
      const failed: CallToolResult = {
        isError: true,
        content: [{ type: 'text', text: record.error }],
      }
      return withAbsoluteLoginLinks(failed, extra)
    } finally {
      record.endNs = process.hrtime.bigint()
      observe(record)
    }
  })
  if (catalog) {
    servePromptsAndResources(server, catalog, (extra) => {
      const caller = callerOf(headersOf(extra))
      return {
        scope: caller.scope,
        options: {
          signal: extra.signal,
          timeoutMs: deps.toolTimeoutMs?.(),
          identity: callIdentity(caller.vk, caller.headers),
        },
      }
    })
  }
  return server
}

/** What a caller sees now, as one string: a change means its lists changed. */
function listsSeen(
  deps: McpServerDeps,
  scope: McpScope,
): { tools: string; prompts: string; resources: string } {
  const catalog = isCatalogSource(deps.source) ? deps.source : undefined
  const tools = JSON.stringify(scope.tools().map(listedTool))
  if (!catalog) return { tools, prompts: '', resources: '' }
  const prompts = JSON.stringify(listedPrompts(catalog, scope))
  const resources = JSON.stringify([
    scopedResources(scope, catalog.listResources()),
    scopedResources(scope, catalog.listResourceTemplates()),
  ])
  return { tools, prompts, resources }
}

/**
 * Tells a session's client when its lists change (an upstream's list_changed, a client added,
 * removed or reconnected, a key's access changed): on its GET stream, once per change it can see.
 */
function watchLists(deps: McpServerDeps, server: Server, scope: () => McpScope): () => void {
  let seen = listsSeen(deps, scope())
  let pending = false
  const check = () => {
    pending = false
    let now: ReturnType<typeof listsSeen>
    try {
      now = listsSeen(deps, scope())
    } catch {
      return // the caller lost access; its next request says so
    }
    const sends: Promise<void>[] = []
    if (now.tools !== seen.tools) sends.push(server.sendToolListChanged())
    if (now.prompts !== seen.prompts) sends.push(server.sendPromptListChanged())
    if (now.resources !== seen.resources) sends.push(server.sendResourceListChanged())
    seen = now
    Promise.all(sends).catch(() => undefined)
  }
  return deps.source.onChange(() => {
    if (pending) return
    pending = true
    setImmediate(check)
  })
}

/** The Virtual MCPs, for `/mcp/<slug>`. */
export interface VirtualMcpEndpoints {
  bySlug(slug: string): VirtualMcp | undefined
  /** An MCP client's id by its name. */
  clientId(name: string): string | undefined
}

/** Resolves the caller of a request, or answers the refusal (and returns undefined). */
async function authenticate(
  deps: McpServerDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  anonymous: AnonymousToolGrants,
  virtual: VirtualMcp | undefined,
): Promise<{ vk: McpVirtualKey | undefined } | undefined> {
  let vk: McpVirtualKey | undefined
  try {
    const verify = deps.verifyAccessToken
    const token = verify && oauthBearer(request.headers)
    vk =
      verify && token
        ? await callerOfToken(deps, verify, token, request)
        : authenticateVirtualKey(deps.state, request.headers, deps.enforceAuth())
    if (virtual) {
      // A Virtual MCP is served only to the virtual keys attached to it.
      if (!vk)
        throw new GatewayError(
          'virtual_key_required',
          `virtual MCP ${virtual.name} needs a virtual key attached to it`,
          {
            isBifrostError: false,
            retryable: false,
            topLevelType: 'virtual_key_required',
          },
        )
      if (!virtual.virtual_key_ids.includes(vk.id))
        throw new GatewayError(
          'forbidden',
          `virtual key "${vk.name}" is not attached to virtual MCP ${virtual.name}`,
          {
            isBifrostError: false,
            retryable: false,
          },
        )
    }
    // Nothing is open without a key: say so (and, to a caller with no token, how to log in).
    else if (!vk && !anonymousAccessOpen(deps.source, anonymous)) {
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
    rpcError(reply, e.status, RPC_UNAUTHORIZED, e.message, { type: e.topLevelType ?? e.type })
    return undefined
  }
  return { vk }
}

/** Whether a POST body is (only) an `initialize` request: the start of a session. */
function isInitialize(body: unknown): boolean {
  return (
    typeof body === 'object' &&
    body !== null &&
    !Array.isArray(body) &&
    (body as { method?: unknown }).method === 'initialize'
  )
}

/** Whether a POST body is a `tools/call`, whose answer streams (progress, logs) before the result. */
function isToolCall(body: unknown): boolean {
  return (
    typeof body === 'object' &&
    body !== null &&
    !Array.isArray(body) &&
    (body as { method?: unknown }).method === 'tools/call'
  )
}

function sessionIdOf(request: FastifyRequest): string | undefined {
  const id = request.headers['mcp-session-id']
  return Array.isArray(id) ? id[0] : id
}

/**
 * Heimdall as an MCP server: `/mcp`, and each enabled Virtual MCP at `/mcp/<slug>`, Streamable HTTP.
 * The caller is a virtual key (`Authorization: Bearer sk-bf-…` or `x-bf-vk`), or an access token
 * Heimdall issued for one; it sees exactly the tools, prompts and resources that key may use. An
 * `initialize` opens a session (Mcp-Session-Id) whose GET stream carries list_changed
 * notifications; any other POST without a session this node knows is served statelessly.
 */
export function registerMcpServerRoute(
  app: FastifyInstance,
  deps: McpServerDeps & { virtualMcps?: VirtualMcpEndpoints },
): void {
  const sessions = new McpSessions()
  app.addHook('onClose', async () => sessions.close())

  /** The Virtual MCP a path names, or the refusal (404 when unknown or disabled). */
  const endpointOf = (request: FastifyRequest, reply: FastifyReply): { virtual?: VirtualMcp } | undefined => {
    const slug = (request.params as { slug?: string }).slug
    if (slug === undefined) return {}
    const virtual = deps.virtualMcps?.bySlug(slug)
    if (!virtual || !virtual.enabled) {
      rpcError(reply, 404, RpcErrorCode.InvalidRequest, `no virtual MCP is served at /mcp/${slug}`)
      return undefined
    }
    return { virtual }
  }

  const callerFor = (
    vkId: string | undefined,
    firstVk: McpVirtualKey | undefined,
    virtual: VirtualMcp | undefined,
    baseHeaders: GatewayContext['headers'],
    anonymous: AnonymousToolGrants,
  ) => {
    return (headers: GatewayContext['headers'] = baseHeaders): Caller => {
      // A session outlives its first request: the key and the Virtual MCP are read again, and a
      // session whose key was deleted, or whose Virtual MCP went away or left the key out, sees nothing.
      const vk = vkId === undefined ? undefined : deps.state.virtualKey(vkId)
      const current = virtual ? deps.virtualMcps?.bySlug(virtual.endpoint_slug) : undefined
      let scope: McpScope
      if (
        (vkId !== undefined && !vk) ||
        (virtual && !(current?.enabled && current.virtual_key_ids.includes(vkId ?? '')))
      )
        scope = EMPTY_SCOPE
      else if (current)
        scope = virtualScope(current, deps.source, headers, (name) => deps.virtualMcps?.clientId(name))
      else scope = callerScope(deps.source, vk, headers, anonymous)
      return { vk: vk ?? firstVk, headers, anonymous, scope }
    }
  }

  const handle = async (request: FastifyRequest, reply: FastifyReply) => {
    const foreign = deps.refusedOrigin?.(request)
    if (foreign) {
      return reply
        .code(403)
        .send({ jsonrpc: '2.0', error: { code: -32000, message: `Forbidden: ${foreign}` }, id: null })
    }
    const endpoint = endpointOf(request, reply)
    if (!endpoint) return reply
    const anonymous = deps.anonymousTools?.() ?? []
    const auth = await authenticate(deps, request, reply, anonymous, endpoint.virtual)
    if (!auth) return reply
    const owner = `${endpoint.virtual?.endpoint_slug ?? ''}\n${auth.vk?.id ?? 'anonymous'}`
    const session = sessions.find(sessionIdOf(request), owner)
    if (session) {
      // An open GET stream keeps its session alive, however long the client stays quiet.
      if (request.method === 'GET') sessions.streaming(session, reply.raw)
      reply.hijack()
      await session.transport.handleRequest(request.raw, reply.raw, request.body)
      return
    }
    if (request.method === 'GET') {
      if (sessionIdOf(request) !== undefined)
        return rpcError(reply, 404, RpcErrorCode.ConnectionClosed, 'session not found: initialize again')
      reply.header('allow', 'POST')
      return rpcError(
        reply,
        405,
        RpcErrorCode.ConnectionClosed,
        'method not allowed: open a session with initialize first; without one this MCP server is stateless (use POST)',
      )
    }
    if (request.method === 'DELETE') {
      if (sessionIdOf(request) !== undefined)
        return rpcError(reply, 404, RpcErrorCode.ConnectionClosed, 'session not found')
      reply.header('allow', 'POST')
      return rpcError(reply, 405, RpcErrorCode.ConnectionClosed, 'method not allowed: no session to end')
    }
    const callerOf = callerFor(auth.vk?.id, auth.vk, endpoint.virtual, request.headers, anonymous)
    const server = serverFor(deps, callerOf)
    if (isInitialize(request.body)) {
      const transport = await sessions.open(owner, server, () =>
        watchLists(deps, server, () => callerOf().scope),
      )
      reply.hijack()
      await transport.handleRequest(request.raw, reply.raw, request.body)
      return
    }
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      // A tool call streams, so that its progress and log messages reach the caller first.
      enableJsonResponse: !isToolCall(request.body),
    })
    reply.raw.on('close', () => {
      transport.close().catch(() => undefined)
      server.close().catch(() => undefined)
    })
    await server.connect(transport)
    reply.hijack()
    await transport.handleRequest(request.raw, reply.raw, request.body)
  }
  for (const path of ['/mcp', '/mcp/:slug']) {
    app.post(path, handle)
    app.get(path, handle)
    app.delete(path, handle)
  }
}
