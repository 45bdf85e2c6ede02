import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { GatewayError } from '../../core/errors.js'
import { virtualKeyFromHeaders } from '../../governance/enforce.js'
import type { GovernanceState } from '../../governance/state.js'
import {
  CALLBACK_PATH,
  oauthConfigStatus,
  revokeOAuthConfig,
  type McpSessionCaller,
  type PerUserOAuth,
} from '../../mcp/oauth-client/index.js'
import type { ConfigStore } from '../../store/index.js'

export interface McpSessionRouteDeps {
  oauth: PerUserOAuth
  /** Who is asking: signed-in user, virtual key, asserted `x-bf-mcp-session-id`. */
  caller(request: FastifyRequest): McpSessionCaller
  /** Where the OAuth configs live, for Bifrost's `/api/mcp/oauth/{id}`. */
  store: Pick<ConfigStore, 'db'>
}

/** Bifrost's name of the callback; Heimdall registers CALLBACK_PATH with authorization servers. */
export const BIFROST_CALLBACK_PATH = '/api/mcp/oauth/callback'

/**
 * The caller as the sessions routes see it: the virtual key of the request (when it is known and
 * active), the `x-bf-mcp-session-id` header, and the signed-in user when `userOf` knows one.
 */
export function sessionCaller(
  state: GovernanceState,
  userOf?: (request: FastifyRequest) => string | undefined,
): (request: FastifyRequest) => McpSessionCaller {
  return (request) => {
    const caller: McpSessionCaller = {}
    const value = virtualKeyFromHeaders(request.headers)
    const vk = value === undefined ? undefined : state.virtualKeyByValue(value)
    if (vk?.is_active) caller.virtualKeyId = vk.id
    const session = request.headers['x-bf-mcp-session-id']
    const sessionId = Array.isArray(session) ? session[0] : session
    if (sessionId) caller.sessionId = sessionId
    const userId = userOf?.(request)
    if (userId) caller.userId = userId
    return caller
  }
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

function page(reply: FastifyReply, status: number, message: string): FastifyReply {
  return reply
    .status(status)
    .type('text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('referrer-policy', 'no-referrer')
    .send(
      `<!doctype html><html><head><meta charset="utf-8"><title>Heimdall MCP login</title></head>` +
        `<body><p>${escapeHtml(message)}</p></body></html>`,
    )
}

/** The origin the browser used, for the callback URL when `mcp_external_client_url` is not set. */
function origin(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`
}

/**
 * Per-user MCP credentials: Bifrost's `/api/mcp/sessions` list, revoke and re-auth, and the two
 * browser legs of an upstream login: Heimdall's login link (`/api/oauth/upstream/{flow}/start`,
 * a redirect to the upstream authorization server) and the callback (`/api/oauth/callback`).
 * Both browser legs sit under /api/oauth/, which the admin-auth hook leaves public: the flow id and
 * the OAuth state are what authorize them.
 */
export function registerMcpSessionRoutes(
  app: FastifyInstance,
  { oauth, caller, store }: McpSessionRouteDeps,
): void {
  app.get('/api/mcp/sessions', async (request) => ({ sessions: await oauth.listSessions(caller(request)) }))

  app.delete<{ Params: { id: string } }>('/api/mcp/sessions/:id', async (request, reply) => {
    await oauth.revoke(request.params.id, caller(request))
    return reply.status(204).send()
  })

  app.post<{ Params: { id: string } }>('/api/mcp/sessions/:id/reauth', async (request) =>
    oauth.reauth(request.params.id, caller(request)),
  )

  app.get<{ Params: { flowId: string } }>('/api/oauth/upstream/:flowId/start', async (request, reply) => {
    try {
      const url = await oauth.start(request.params.flowId, origin(request))
      return reply.header('cache-control', 'no-store').redirect(url.href, 302)
    } catch (err) {
      if (err instanceof GatewayError && err.status < 500) return page(reply, err.status, err.message)
      request.log.warn({ err: (err as Error).message }, 'upstream MCP login could not start')
      return page(reply, 502, 'The MCP server’s authorization server could not be reached. Try again later.')
    }
  })

  const callback = async (request: FastifyRequest, reply: FastifyReply) => {
    const q = request.query as Record<string, unknown>
    const str = (v: unknown) => (typeof v === 'string' ? v : undefined)
    const outcome = await oauth.callback({
      code: str(q.code),
      state: str(q.state),
      error: str(q.error),
      error_description: str(q.error_description),
    })
    return page(reply, outcome.status, outcome.message)
  }
  app.get(CALLBACK_PATH, callback)
  app.get(BIFROST_CALLBACK_PATH, callback)

  // Bifrost's OAuth config of an MCP client: its status, and revoking its token.
  app.get<{ Params: { id: string } }>('/api/mcp/oauth/:id', async (request) => {
    const status = await oauthConfigStatus(store, request.params.id)
    if (!status) throw new GatewayError('not_found', 'OAuth config not found', { param: 'id' })
    return status
  })
  app.delete<{ Params: { id: string } }>('/api/mcp/oauth/:id', async (request) => {
    if (!(await revokeOAuthConfig(store, request.params.id)))
      throw new GatewayError('not_found', 'OAuth config not found', { param: 'id' })
    return { status: 'success', message: 'OAuth token revoked successfully' }
  })
}
