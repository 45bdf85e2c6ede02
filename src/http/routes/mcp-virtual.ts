import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { GatewayError } from '../../core/errors.js'
import { VirtualMcpCreateSchema, type VirtualMcps, VirtualMcpUpdateSchema } from '../../mcp/index.js'
import { compileValidator } from '../validate.js'
import { MCP_LIST_QUERY } from './mcp.js'

export interface VirtualMcpRouteDeps {
  virtualMcps: VirtualMcps
  /** Called after a change (to tell the other nodes). */
  onChange?: () => void | Promise<void>
}

/** The cluster bus topic of Virtual MCP changes: every node then reads them again from the store. */
export const VIRTUAL_MCP_TOPIC = 'mcp_virtual'

const validateCreate = compileValidator(VirtualMcpCreateSchema)
const validateUpdate = compileValidator(VirtualMcpUpdateSchema)
const validateListQuery = compileValidator(Type.Object(MCP_LIST_QUERY))

function idOf(raw: string): number {
  if (!/^[0-9]{1,9}$/.test(raw))
    throw new GatewayError('invalid_request', 'invalid virtual MCP id', { param: 'id' })
  return Number(raw)
}

/**
 * Bifrost's Virtual MCP API: `GET|POST /api/mcp/virtual-mcps`, `GET|PUT|DELETE
 * /api/mcp/virtual-mcps/{id}`, and `POST|DELETE /api/mcp/virtual-mcps/{id}/virtual-keys/{vkId}`.
 */
export function registerVirtualMcpRoutes(
  app: FastifyInstance,
  { virtualMcps, onChange }: VirtualMcpRouteDeps,
): void {
  const changed = async () => {
    await Promise.resolve(onChange?.()).catch(() => undefined)
  }

  app.get('/api/mcp/virtual-mcps', async (request) => {
    const q = validateListQuery(request.query ?? {})
    const limit = q.limit === undefined ? 25 : Math.min(Math.max(Number(q.limit), 1), 100)
    const offset = q.offset === undefined ? 0 : Number(q.offset)
    const search = q.search?.toLowerCase()
    const matching = virtualMcps
      .list()
      .filter((v) => search === undefined || v.name.toLowerCase().includes(search))
    const page = matching.slice(offset, offset + limit)
    return { virtual_mcps: page, count: page.length, total_count: matching.length, limit, offset }
  })

  app.get<{ Params: { id: string } }>('/api/mcp/virtual-mcps/:id', async (request) => ({
    virtual_mcp: virtualMcps.get(idOf(request.params.id)),
  }))

  app.post('/api/mcp/virtual-mcps', async (request, reply) => {
    const virtual_mcp = await virtualMcps.create(validateCreate(request.body))
    await changed()
    return reply.code(201).send({ virtual_mcp })
  })

  app.put<{ Params: { id: string } }>('/api/mcp/virtual-mcps/:id', async (request) => {
    const virtual_mcp = await virtualMcps.update(idOf(request.params.id), validateUpdate(request.body))
    await changed()
    return { virtual_mcp }
  })

  app.delete<{ Params: { id: string } }>('/api/mcp/virtual-mcps/:id', async (request) => {
    await virtualMcps.remove(idOf(request.params.id))
    await changed()
    return { success: true }
  })

  for (const [method, attached] of [
    ['POST', true],
    ['DELETE', false],
  ] as const) {
    app.route<{ Params: { id: string; vkId: string } }>({
      method,
      url: '/api/mcp/virtual-mcps/:id/virtual-keys/:vkId',
      handler: async (request) => {
        await virtualMcps.setKey(idOf(request.params.id), request.params.vkId, attached)
        await changed()
        return { success: true }
      },
    })
  }
}
