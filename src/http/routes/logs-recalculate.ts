import type { FastifyInstance } from 'fastify'
import { GatewayError } from '../../core/errors.js'
import { type CostRecalculation, parseFilters, type Query } from '../../observability/index.js'

/** Bifrost's JSON filters (`SearchFilters` and `period`) as the query values the log search reads. */
function filtersOf(body: unknown) {
  if (body === undefined || body === null) return parseFilters({})
  if (typeof body !== 'object' || Array.isArray(body))
    throw new GatewayError('invalid_request', 'the body must be a JSON object')
  const raw = (body as { filters?: unknown }).filters
  if (raw === undefined || raw === null) return parseFilters({})
  if (typeof raw !== 'object' || Array.isArray(raw))
    throw new GatewayError('invalid_request', 'filters must be an object', { param: 'filters' })
  const q: Query = {}
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    if (value === null || value === undefined) continue
    if (Array.isArray(value)) q[name] = value.map(String).join(',')
    else if (typeof value === 'object')
      throw new GatewayError('invalid_request', `filters.${name} must be a value or a list`, {
        param: `filters.${name}`,
      })
    else q[name] = String(value as string | number | boolean)
  }
  return parseFilters(q)
}

function limitOf(body: unknown): number | undefined {
  const limit = (body as { limit?: unknown } | undefined)?.limit
  if (limit === undefined || limit === null) return undefined
  if (typeof limit !== 'number' || !Number.isInteger(limit))
    throw new GatewayError('invalid_request', 'limit must be an integer', { param: 'limit' })
  // As Bifrost reads it: 0 or less is the default, more than 1,000 is 1,000.
  return limit <= 0 ? 200 : Math.min(limit, 1000)
}

function idOf(query: unknown): string | undefined {
  const id = (query as { id?: unknown } | undefined)?.id
  return typeof id === 'string' && id.trim() !== '' ? id.trim() : undefined
}

/**
 * Bifrost's background recomputation of stored costs: POST /api/logs/recalculate-cost (202 with
 * the job, 409 with the running one), GET .../status (?id=, or the running job, or `idle`),
 * POST .../cancel (?id=, or the running job).
 */
export function registerCostRecalculationRoutes(
  app: FastifyInstance,
  deps: { recalculation: CostRecalculation; connected(): boolean },
): void {
  const needStore = () => {
    if (!deps.connected()) throw new GatewayError('store_unavailable', 'the log store is not available')
  }

  app.post('/api/logs/recalculate-cost', async (request, reply) => {
    needStore()
    const filters = filtersOf(request.body)
    const limit = limitOf(request.body)
    const { started, view } = await deps.recalculation.start(filters, limit)
    return reply.code(started ? 202 : 409).send(view)
  })

  app.get('/api/logs/recalculate-cost/status', async (request) => {
    needStore()
    const id = idOf(request.query)
    const view = deps.recalculation.status(id)
    if (!view) throw new GatewayError('not_found', `no recalculation job ${id}`, { param: 'id' })
    return view
  })

  app.post('/api/logs/recalculate-cost/cancel', async (request) => {
    needStore()
    const id = idOf(request.query) ?? idOf(request.body)
    const view = deps.recalculation.cancel(id)
    if (!view)
      throw new GatewayError(
        'not_found',
        id === undefined ? 'no recalculation job is running' : `no recalculation job ${id}`,
        id === undefined ? {} : { param: 'id' },
      )
    return view
  })
}
