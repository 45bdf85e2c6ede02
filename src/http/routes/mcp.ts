import { Type } from '@sinclair/typebox'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { GatewayError } from '../../core/errors.js'
import {
  McpClientCreateSchema,
  type McpClientManager,
  McpClientUpdateSchema,
  type PerUserOAuth,
} from '../../mcp/index.js'
import { compileValidator } from '../validate.js'

export interface McpRouteDeps {
  manager: McpClientManager
  /**
   * Whether stdio clients may be registered through the API (config.json `mcp.allow_stdio`, default
   * true). A stdio client runs a command on the gateway's host: the admin-auth hook already limits
   * /api to admins when auth is on; this switch refuses them altogether.
   */
  allowStdio?: boolean
  /** Per-user OAuth, for the admin verification of per_user_oauth clients; without it that route refuses. */
  oauth?: Pick<PerUserOAuth, 'initiateVerification'>
  /** Called after a client was added, changed, removed or reconnected (to tell the other nodes). */
  onChange?: (change: McpClientChange) => void | Promise<void>
}

/** A change made through the MCP client routes, as the cluster bus carries it. */
export interface McpClientChange {
  action: 'add' | 'update' | 'delete' | 'reconnect'
  client_id: string
}

/** The cluster bus topic of MCP client changes: every node then syncs its clients from the store. */
export const MCP_TOPIC = 'mcp'

/** The origin the admin used, for the callback URL when `mcp_external_client_url` is not set. */
function origin(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`
}

const validateCreate = compileValidator(McpClientCreateSchema)
const validateUpdate = compileValidator(McpClientUpdateSchema)
/** The paging and search fields of Bifrost's MCP list queries (clients and Virtual MCPs). */
export const MCP_LIST_QUERY = {
  limit: Type.Optional(Type.String({ pattern: '^[0-9]+$' })),
  offset: Type.Optional(Type.String({ pattern: '^[0-9]+$' })),
  search: Type.Optional(Type.String()),
}

const validateListQuery = compileValidator(
  Type.Object({
    ...MCP_LIST_QUERY,
    server: Type.Optional(Type.String()),
    connection_type: Type.Optional(Type.String()),
    disabled: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])),
  }),
)

const success = (message: string) => ({ status: 'success', message })

/** Bifrost's MCP client management API (`/api/mcp/clients`, `/api/mcp/client[/{id}[/reconnect]]`). */
export function registerMcpRoutes(
  app: FastifyInstance,
  { manager, allowStdio = true, oauth, onChange }: McpRouteDeps,
): void {
  const changed = async (action: McpClientChange['action'], client_id: string) => {
    // The change is made and stored: a failure to announce it is the callback's to report.
    await Promise.resolve(onChange?.({ action, client_id })).catch(() => undefined)
  }

  app.get('/api/mcp/clients', async (request) => {
    const q = validateListQuery(request.query ?? {})
    const limit = q.limit === undefined ? 25 : Number(q.limit)
    if (limit < 1 || limit > 100)
      throw new GatewayError('invalid_request', 'limit must be between 1 and 100', { param: 'limit' })
    const offset = q.offset === undefined ? 0 : Number(q.offset)
    const types = q.connection_type
      ?.split(',')
      .map((t) => t.trim())
      .filter((t) => t !== '')
    const search = q.search?.toLowerCase()
    const matching = manager
      .list()
      .filter((c) => search === undefined || c.config.name.toLowerCase().includes(search))
      .filter((c) => q.server === undefined || c.config.client_id === q.server)
      .filter((c) => types === undefined || types.length === 0 || types.includes(c.config.connection_type))
      .filter((c) => q.disabled === undefined || c.config.disabled === (q.disabled === 'true'))
      .sort((a, b) => (a.config.name < b.config.name ? -1 : a.config.name > b.config.name ? 1 : 0))
    const clients = matching.slice(offset, offset + limit)
    return { clients, count: clients.length, total_count: matching.length, limit, offset }
  })

  app.post('/api/mcp/client', async (request) => {
    const body = validateCreate(request.body)
    if (body.connection_type === 'stdio' && !allowStdio) {
      throw new GatewayError(
        'forbidden',
        'stdio MCP clients are turned off on this gateway (mcp.allow_stdio)',
        {
          param: 'connection_type',
        },
      )
    }
    const view = await manager.add(body)
    await changed('add', view.config.client_id)
    return success('MCP client added successfully')
  })

  app.put<{ Params: { id: string } }>('/api/mcp/client/:id', async (request) => {
    await manager.update(request.params.id, validateUpdate(request.body))
    await changed('update', request.params.id)
    return success('MCP client updated successfully')
  })

  app.delete<{ Params: { id: string } }>('/api/mcp/client/:id', async (request) => {
    await manager.remove(request.params.id)
    await changed('delete', request.params.id)
    return success('MCP client removed successfully')
  })

  app.post<{ Params: { id: string } }>('/api/mcp/client/:id/reconnect', async (request) => {
    await manager.reconnect(request.params.id)
    await changed('reconnect', request.params.id)
    return success('MCP client reconnected successfully')
  })

  /**
   * Bifrost's initiate-verification, for per_user_oauth clients: the upstream authorization URL of
   * a login as the client's admin identity. When the upstream redirects back to
   * /api/oauth/callback, the client's tools are listed with that credential (for discovery only)
   * and the client becomes `connected`; no complete step is needed.
   */
  app.post<{ Params: { id: string } }>('/api/mcp/client/:id/initiate-verification', async (request) => {
    const view = manager.get(request.params.id)
    const { client_id, name, auth_type } = view.config
    if (auth_type !== 'per_user_oauth')
      throw new GatewayError('invalid_request', `MCP client ${name} is not a per_user_oauth client`)
    if (view.state !== 'pending_verification')
      throw new GatewayError(
        'invalid_request',
        `MCP client ${name} is not in pending_verification state (it is ${view.state})`,
      )
    if (!oauth)
      throw new GatewayError('unsupported_operation', 'per-user OAuth is not configured on this gateway')
    const flow = await oauth.initiateVerification(client_id, origin(request))
    return {
      status: 'pending_oauth',
      message: `Open authorize_url to verify MCP client ${name}`,
      oauth_config_id: flow.oauth_config_id,
      authorize_url: flow.authorize_url,
      expires_at: flow.expires_at,
      mcp_client_id: client_id,
      next_steps: [
        'Open authorize_url in a browser and approve the access',
        `The authorization server redirects back to Heimdall, which lists the client's tools`,
        `GET /api/mcp/clients shows the client connected`,
      ],
    }
  })
}
