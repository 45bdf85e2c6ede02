import type { IncomingMessage } from 'node:http'
import { ARRIVAL } from './arrival.js'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Gateway } from '../core/gateway.js'
import type { Logger } from '../observability/logger.js'
import { installErrorHandlers } from './errors.js'
import { registerCountTokensRoutes } from './routes/count-tokens.js'
import type { FileOwnershipDeps } from './routes/file-ownership.js'
import { registerFileRoutes } from './routes/files.js'
import { registerHealthRoutes, type HealthDeps } from './routes/health.js'
import { registerInferenceRoutes, type InferenceDeps } from './routes/inference.js'
import { registerIntegrationRoutes } from './routes/integrations/index.js'
import { registerRerankRoute } from './routes/rerank.js'
import { routeUpgrades } from './upgrade.js'
import { installJsonParser } from './json-body.js'
import { capConnectionsPerClient, timeoutOptions, type ConnectionLimits } from './connection-limits.js'

export interface ServerDeps extends HealthDeps {
  gateway: Gateway
  allowDirectKeys?: () => boolean
  mcpAgent?: InferenceDeps['mcpAgent']
  logger: Logger
  bodyLimitBytes: number
  /** Who created each file and batch, and whether a request is the admin's. */
  fileOwnership: FileOwnershipDeps
  /** Timeouts and the per-client connection cap; Node's defaults (no request timeout) without. */
  connectionLimits?: ConnectionLimits
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
    ...(deps.connectionLimits && timeoutOptions(deps.connectionLimits)),
  })
  if (deps.connectionLimits)
    capConnectionsPerClient(app.server, deps.connectionLimits.maxConnectionsPerClient)
  // A plain listener ahead of Fastify's, cheaper than an onRequest hook.
  app.server.prependListener('request', (raw: IncomingMessage) => {
    ;(raw as IncomingMessage & { [ARRIVAL]?: bigint })[ARRIVAL] = process.hrtime.bigint()
  })
  // Every upgrade is answered: a websocket route's path goes to its plugin, any other is refused.
  routeUpgrades(app.server)
  installErrorHandlers(app)
  installJsonParser(app)
  registerHealthRoutes(app, deps)
  registerInferenceRoutes(app, deps)
  const integrationDeps = { gateway: deps.gateway, allowDirectKeys: deps.allowDirectKeys ?? (() => false) }
  registerRerankRoute(app, integrationDeps)
  const fileDeps = { ...integrationDeps, bodyLimitBytes: deps.bodyLimitBytes, ownership: deps.fileOwnership }
  // The drop-ins serve files, batches and token counting on their own paths too (`/openai/v1` ...).
  registerIntegrationRoutes(app, fileDeps)
  registerFileRoutes(app, fileDeps, '/v1')
  registerCountTokensRoutes(app, integrationDeps, '/v1')
  return app
}
