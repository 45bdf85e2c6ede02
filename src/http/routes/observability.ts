import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ClientConfig, ConfigFile } from '../../core/schemas/index.js'
import type { Observability } from '../../observability/index.js'
import type { ConfigStore } from '../../store/index.js'
import { refuseAdmin, type AdminAuth } from '../auth.js'
import { registerCostRecalculationRoutes } from './logs-recalculate.js'
import { registerLogRoutes } from './logs.js'

export interface ObservabilityRouteDeps {
  config: ConfigFile
  /** The live client settings (`whitelisted_routes` can make /metrics public). */
  client: ClientConfig
  configStore: ConfigStore
  env: NodeJS.ProcessEnv
  /** The gateway's one admin login, which /metrics and /ws/logs check as /api does. */
  adminAuth: AdminAuth
}

/** GET /metrics, /api/logs*, /ws/logs and the cost recalculation routes, over what observability collects. */
export function registerObservabilityRoutes(
  app: FastifyInstance,
  observability: Observability,
  deps: ObservabilityRouteDeps,
): void {
  const { logRoutes } = observability
  registerLogRoutes(app, { ...logRoutes, ...deps })
  registerCostRecalculationRoutes(app, {
    recalculation: logRoutes.recalculation,
    connected: () => logRoutes.store() !== undefined,
  })
  const scrape = observability.scrapeMetrics
  if (!scrape) return
  // As Bifrost: with admin auth on, /metrics takes the admin's credentials (Basic, or a session
  // token) unless `client.whitelisted_routes` lists it, for scrapers that cannot send any.
  const isPublic = () =>
    (deps.client.whitelisted_routes ?? []).some((r) => r === '/metrics' || r === '/metrics*')
  app.get('/metrics', async (request: FastifyRequest, reply: FastifyReply) => {
    if (!isPublic() && (await deps.adminAuth.authenticate(request)) === undefined)
      return refuseAdmin(request, reply, deps.adminAuth, true)
    const { contentType, text } = await scrape()
    return reply.type(contentType).send(text)
  })
}
