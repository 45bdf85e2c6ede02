import type { FastifyInstance } from 'fastify'
import { GatewayError } from '../../core/errors.js'
import type { WebhookDeliveries } from '../../webhooks/index.js'

export interface WebhookRouteDeps {
  deliveries: WebhookDeliveries
}

const STATUSES = new Set(['pending', 'delivered', 'failed'])

function limitOf(raw: string | undefined, fallback: number, max: number, name: string): number {
  if (raw === undefined || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 0 || n > max)
    throw new GatewayError('invalid_request', `${name} must be an integer from 0 to ${max}`, { param: name })
  return n
}

/**
 * The webhook delivery log: `GET /api/webhooks/deliveries[/{id}]`, `GET /api/webhooks/{endpoint_id}/deliveries`,
 * `POST /api/webhooks/deliveries/{id}/redeliver`.
 */
export function registerWebhookRoutes(app: FastifyInstance, { deliveries }: WebhookRouteDeps): void {
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
