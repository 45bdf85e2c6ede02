import type { FastifyInstance, FastifyRequest } from 'fastify'
import { GatewayError } from '../../core/errors.js'
import { virtualKeyFromHeaders } from '../../core/virtual-keys.js'
import type { GovernanceState } from '../../governance/index.js'
import {
  absoluteLoginLinks,
  callerBindings,
  CLIENT_METADATA_PATH,
  type McpSessionCaller,
  oauthConfigStatus,
  type PerUserOAuth,
  revokeOAuthConfig,
} from '../../mcp/index.js'
import type { ConfigStore } from '../../store/index.js'
import type { AdminAuth } from '../auth.js'
import { requestOrigin } from './oauth-server.js'

export interface McpSessionRouteDeps {
  oauth: PerUserOAuth
  /** Who is asking: signed-in user, virtual key, asserted `x-bf-mcp-session-id`. */
  caller(request: FastifyRequest): McpSessionCaller | Promise<McpSessionCaller>
  /** Where the OAuth configs live, for Bifrost's `/api/mcp/oauth/{id}`. */
  store: Pick<ConfigStore, 'db'>
}

export { BIFROST_CALLBACK_PATH } from './upstream-login.js'

/**
 * The caller as the sessions routes see it: the virtual key of the request (when it is known and
 * active), the `x-bf-mcp-session-id` header, and the signed-in user when `userOf` knows one. The
 * management API's admin (admin credentials, or no admin login configured and no caller identity
 * sent) is marked `admin` and sees every caller's sessions.
 */
export function sessionCaller(
  state: GovernanceState,
  adminAuth?: Pick<AdminAuth, 'authenticate'>,
  userOf?: (request: FastifyRequest) => string | undefined,
): (request: FastifyRequest) => Promise<McpSessionCaller> {
  return async (request) => {
    const caller: McpSessionCaller = {}
    const value = virtualKeyFromHeaders(request.headers)
    const vk = value === undefined ? undefined : state.virtualKeyByValue(value)
    if (vk?.is_active) caller.virtualKeyId = vk.id
    const session = request.headers['x-bf-mcp-session-id']
    const sessionId = Array.isArray(session) ? session[0] : session
    if (sessionId) caller.sessionId = sessionId
    const userId = userOf?.(request)
    if (userId) caller.userId = userId
    const how = await adminAuth?.authenticate(request)
    // Without an admin login every /api caller is let in: one that names itself sees only its own.
    if (how === 'session' || how === 'basic' || (how === 'open' && callerBindings(caller).length === 0))
      caller.admin = true
    return caller
  }
}

/**
 * Per-user MCP credentials: Bifrost's `/api/mcp/sessions` list, revoke and re-auth (the browser
 * legs of an upstream login are in upstream-login.ts).
 */
export function registerMcpSessionRoutes(
  app: FastifyInstance,
  { oauth, caller, store }: McpSessionRouteDeps,
): void {
  // Heimdall's client ID metadata document: its client id at authorization servers that support them.
  app.get(CLIENT_METADATA_PATH, async (request, reply) =>
    reply.header('cache-control', 'public, max-age=3600').send(oauth.clientMetadata(requestOrigin(request))),
  )

  app.get('/api/mcp/sessions', async (request) => ({
    sessions: await oauth.listSessions(await caller(request)),
  }))

  app.delete<{ Params: { id: string } }>('/api/mcp/sessions/:id', async (request, reply) => {
    await oauth.revoke(request.params.id, await caller(request))
    return reply.status(204).send()
  })

  app.post<{ Params: { id: string } }>('/api/mcp/sessions/:id/reauth', async (request) => {
    const answer = await oauth.reauth(request.params.id, await caller(request))
    return { ...answer, authorize_url: absoluteLoginLinks(answer.authorize_url, requestOrigin(request)) }
  })

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
