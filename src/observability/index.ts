import type { FastifyInstance } from 'fastify'
import type { Cluster } from '../cluster/index.js'
import type { GatewayHook } from '../core/context.js'
import type { Pricing } from '../core/pricing.js'
import type { ClientConfig, ConfigFile } from '../core/schemas/index.js'
import type { StandaloneToolCall } from '../core/tool-calls.js'
import type { ConfigStore } from '../store/index.js'
import type { Logger } from './logger.js'
import { createLogging, type LogOwners, type LogRouteSources } from './logs/index.js'
import type { HealthSource } from './health-metrics.js'
import { createMetrics, type Metrics } from './metrics.js'
import { createTracing } from './tracing.js'

/** What request logs, metrics and traces are built from. */
export interface ObservabilityDeps {
  app: FastifyInstance
  /** The config file as read (its `logs_store`, plugins ...). */
  config: ConfigFile
  /** The live client settings (changed at run time through /api/config). */
  client: ClientConfig
  configStore: ConfigStore
  appDir: string
  env: NodeJS.ProcessEnv
  logger: Logger
  cluster: Cluster
  /** Prices with the pricing overrides (governance's, handed in by src/http). */
  pricing: Pricing
  /** Teams and customers by id, for their names in request logs (governance's state). */
  owners: LogOwners
  /** Whether Heimdall ships a provider of this name (metric labels keep it rather than fold it). */
  isBuiltinProvider(name: string): boolean
  /** Provider health for its /metrics gauges. */
  providerHealth?: HealthSource
}

/** One part of observability: the gateway hook it adds, and how it stops. */
export interface ObservabilityPart {
  hook?: GatewayHook
  /** Tool calls of POST /v1/mcp/tool/execute, which no gateway hook sees. */
  onStandaloneToolCall?(call: StandaloneToolCall): void
  close(): Promise<void>
}

export interface Observability {
  /** In the order they must run, after governance (which leaves the key and the cost in the context). */
  hooks: GatewayHook[]
  /** Whether request logs are being stored (`is_logs_connected` of GET /api/config). */
  logsConnected(): boolean
  /** Readiness of the log store: undefined when none is configured. */
  pingLogs(): Promise<void> | undefined
  /** What the log routes read; src/http registers them. */
  logRoutes: LogRouteSources
  /** The text of `GET /metrics`; absent when metrics are off. */
  scrapeMetrics: Metrics['scrape']
  close(): Promise<void>
}

/** Request logs (store, search, live stream), Prometheus metrics and OpenTelemetry traces. */
export async function createObservability(deps: ObservabilityDeps): Promise<Observability> {
  const logging = await createLogging(deps)
  const metrics = createMetrics(deps, { logQueue: () => logging.queueStats() })
  const tracing = createTracing(deps)
  const parts: ObservabilityPart[] = [metrics, logging, tracing]
  // The execute route reads this decoration per request (see src/http/routes/mcp-inference.ts).
  deps.app.decorate('mcpToolCallObserver', (call: StandaloneToolCall) => {
    for (const p of parts) {
      try {
        p.onStandaloneToolCall?.(call)
      } catch (err) {
        deps.logger.warn({ err: (err as Error).message }, 'could not observe an MCP tool call')
      }
    }
  })
  return {
    hooks: parts.flatMap((p) => (p.hook ? [p.hook] : [])),
    logsConnected: () => logging.connected(),
    pingLogs: () => logging.ping(),
    logRoutes: logging.routes,
    scrapeMetrics: metrics.scrape,
    async close() {
      for (const p of parts) await p.close().catch(() => undefined)
    },
  }
}
export {
  breakdown,
  costHistogram,
  DIMENSIONS,
  iso,
  latencyByDimension,
  latencyHistogram,
  modelHistogram,
  requestHistogram,
  tokenHistogram,
  tokensByDimension,
} from './logs/aggregates.js'
export type { Dimension } from './logs/aggregates.js'
export { CostRecalculation } from './logs/cost-recalculation.js'
export { parseFilters, parsePage } from './logs/filters.js'
export type { LogFilters, Query } from './logs/filters.js'
export type { LogSubscriber } from './logs/index.js'
export { mcpRowToEntry, parseMcpFilters } from './logs/mcp-record.js'
export type { McpToolLogRow } from './logs/mcp-record.js'
export { LogQueue } from './logs/queue.js'
export { rowToEntry } from './logs/record.js'
export { LogStore } from './logs/store.js'
