import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Gateway } from '../core/gateway.js'
import type { Logger } from '../observability/logger.js'
import { installErrorHandlers } from './errors.js'
import { registerHealthRoutes, type HealthDeps } from './routes/health.js'
import { registerInferenceRoutes } from './routes/inference.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** process.hrtime.bigint() when the request arrived, for the overhead header. */
    startNs: bigint
  }
}

export interface ServerDeps extends HealthDeps {
  gateway: Gateway
  allowDirectKeys?: () => boolean
  logger: Logger
  bodyLimitBytes: number
}

/** The Fastify application: routes, error shapes, no listening yet. */
export function buildServer(deps: ServerDeps): FastifyInstance {
  const app: FastifyInstance = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.bodyLimitBytes,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // Request ids are ours (x-request-id or a UUID); Fastify's counter is not used.
    genReqId: () => '',
    // No child logger per request: nothing logs per request on the hot path, and a child costs an allocation.
    childLoggerFactory: (logger) => logger,
  })
  app.decorateRequest('startNs', 0n)
  app.addHook('onRequest', (request, _reply, done) => {
    request.startNs = process.hrtime.bigint()
    done()
  })
  installErrorHandlers(app)
  registerHealthRoutes(app, deps)
  registerInferenceRoutes(app, deps)
  return app
}
