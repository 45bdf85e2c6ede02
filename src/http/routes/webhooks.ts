import type { FastifyInstance } from 'fastify'
import { GatewayError } from '../../core/errors.js'
import type { WebhookDeliveries, WebhookEndpointRegistry } from '../../webhooks/index.js'

export interface WebhookRouteDeps {
  deliveries: WebhookDeliveries
  endpoints: WebhookEndpointRegistry
}

const STATUSES = new Set(['pending', 'delivered', 'failed'])

/** A whole-number query parameter from 0 to `max`, or `fallback` when absent. */
export function limitOf(raw: string | undefined, fallback: number, max: number, name: string): number {
  if (raw === undefined || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 0 || n > max)
    throw new GatewayError('invalid_request', `${name} must be an integer from 0 to ${max}`, { param: name })
  return n
}

function booleanOf(raw: string | undefined, name: string): boolean | undefined {
  if (raw === undefined || raw === '') return undefined
  if (raw === 'true' || raw === 'false') return raw === 'true'
  throw new GatewayError('invalid_request', `${name} must be true or false`, { param: name })
}

/**
 * Webhook endpoints, after Bifrost's management API: `GET|POST /api/webhooks`,
 * `GET|PUT|DELETE /api/webhooks/{id}`, `POST /api/webhooks/{id}/rotate-secret`. The signing secret
 * is in no answer but the one that made it.
 */
function registerEndpointRoutes(app: FastifyInstance, endpoints: WebhookEndpointRegistry): void {
  app.get<{
    Querystring: { search?: string; event?: string; disabled?: string; limit?: string; offset?: string }
  }>('/api/webhooks', async (request) => {
    const q = request.query
    const limit = limitOf(q.limit, 100, 1000, 'limit')
    const offset = limitOf(q.offset, 0, 1_000_000_000, 'offset')
    const page = await endpoints.list({
      search: q.search,
      event: q.event ? q.event.split(',').map((e) => e.trim()) : undefined,
      disabled: booleanOf(q.disabled, 'disabled'),
      limit,
      offset,
    })
    return { ...page, limit, offset }
  })
  app.post('/api/webhooks', async (request, reply) => {
    const { endpoint, secret } = await endpoints.create(request.body)
    return reply.code(201).send({ ...endpoint, ...(secret ? { secret } : {}) })
  })
  app.get<{ Params: { id: string } }>('/api/webhooks/:id', async (request) =>
    endpoints.get(request.params.id),
  )
  app.put<{ Params: { id: string } }>('/api/webhooks/:id', async (request) =>
    endpoints.update(request.params.id, request.body),
  )
  app.delete<{ Params: { id: string } }>('/api/webhooks/:id', async (request) => {
    await endpoints.delete(request.params.id)
    return { status: 'success', message: 'webhook endpoint deleted' }
  })
  app.post<{ Params: { id: string } }>('/api/webhooks/:id/rotate-secret', async (request) => {
    const { endpoint, secret } = await endpoints.rotateSecret(request.params.id)
    return { ...endpoint, secret }
  })
}

/**
 * The webhook endpoints and the delivery log: `GET /api/webhooks/deliveries[/{id}]`,
 * `GET /api/webhooks/{endpoint_id}/deliveries`, `POST /api/webhooks/deliveries/{id}/redeliver`.
 */
export function registerWebhookRoutes(
  app: FastifyInstance,
  { deliveries, endpoints }: WebhookRouteDeps,
): void {
  registerEndpointRoutes(app, endpoints)
  app.get<{ Querystring: { limit?: string; offset?: string; status?: string } }>(
    '/api/webhooks/deliveries',
    async (request) => {
      const { status } = request.query
      if (status !== undefined && !STATUSES.has(status))
        throw new GatewayError('invalid_request', 'status must be pending, delivered or failed', {
          param: 'status',
        })
      const limit = limitOf(request.query.limit, 50, 1000, 'limit')
      const offset = limitOf(request.query.offset, 0, 1_000_000_000, 'offset')
      const page = await deliveries.list({ limit, offset, status })
      return { ...page, limit, offset }
    },
  )
  // Bifrost's per-endpoint history.
  app.get<{ Params: { id: string }; Querystring: { limit?: string; offset?: string } }>(
    '/api/webhooks/:id/deliveries',
    async (request) => {
      const limit = limitOf(request.query.limit, 50, 1000, 'limit')
      const offset = limitOf(request.query.offset, 0, 1_000_000_000, 'offset')
      const page = await deliveries.list({ limit, offset, endpointId: request.params.id })
      return { ...page, limit, offset }
    },
  )
  app.get<{ Params: { id: string } }>('/api/webhooks/deliveries/:id', async (request) => {
    const found = await deliveries.get(request.params.id)
    if (!found) throw new GatewayError('not_found', `webhook delivery ${request.params.id} not found`)
    return { delivery: found }
  })
  // 202 as in Bifrost; the attempt has been made when it answers, and `delivery` says how it went.
  app.post<{ Params: { id: string } }>('/api/webhooks/deliveries/:id/redeliver', async (request, reply) => {
    const done = await deliveries.redeliver(request.params.id)
    if (!done) throw new GatewayError('not_found', `webhook delivery ${request.params.id} not found`)
    return reply.code(202).send({ webhook_id: done.id, delivery: done })
  })
}
