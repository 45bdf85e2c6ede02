import type { Server } from 'node:http'
import websocket from '@fastify/websocket'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { GatewayError } from '../../core/errors.js'
import type { ConfigFile } from '../../core/schemas/index.js'
import {
  breakdown,
  costHistogram,
  type Dimension,
  DIMENSIONS,
  iso,
  latencyByDimension,
  latencyHistogram,
  type LogFilters,
  type LogQueue,
  type LogStore,
  type LogSubscriber,
  mcpRowToEntry,
  type McpToolLogRow,
  modelHistogram,
  parseFilters,
  parseMcpFilters,
  parsePage,
  requestHistogram,
  rowToEntry,
  tokenHistogram,
  tokensByDimension,
} from '../../observability/index.js'
import type { ConfigStore } from '../../store/index.js'
import { refuseAdmin, type AdminAuth } from '../auth.js'
import { sendError } from '../errors.js'
import { upgradesOf } from '../upgrade.js'

export interface LogRouteDeps {
  store(): LogStore | undefined
  queue: LogQueue
  toolQueue: LogQueue<McpToolLogRow, McpToolLogRow>
  subscribers: Set<LogSubscriber>
  config: ConfigFile
  configStore: ConfigStore
  env: NodeJS.ProcessEnv
  /** The one admin login of the gateway (and its throttle of failed attempts), shared with /api and /metrics. */
  adminAuth: AdminAuth
  runRetention(now?: number): Promise<void>
}

type Query = Record<string, unknown>

const DAY_MS = 86_400_000

function needStore(deps: LogRouteDeps): LogStore {
  const store = deps.store()
  if (!store) throw new GatewayError('store_unavailable', 'the log store is not available')
  return store
}

/** The time range an aggregate covers: the filter's, or the last 24 hours. */
function range(f: LogFilters): { start: number; end: number; filters: LogFilters } {
  const end = f.end_time ?? Date.now()
  const start = f.start_time ?? end - DAY_MS
  return { start, end, filters: { ...f, start_time: start, end_time: end } }
}

function dimension(q: Query, fallback?: Dimension): Dimension {
  const d = (typeof q.dimension === 'string' ? q.dimension : undefined) ?? fallback
  if (d === undefined || !DIMENSIONS.includes(d as Dimension)) {
    throw new GatewayError('invalid_request', `dimension must be one of ${DIMENSIONS.join(', ')}`, {
      param: 'dimension',
    })
  }
  return d as Dimension
}

/** Bifrost's logging API: /api/logs (search, one entry, delete, stats, histograms, filter data) and the live /ws/logs. */
export function registerLogRoutes(app: FastifyInstance, deps: LogRouteDeps): void {
  const handle =
    <T>(f: (request: FastifyRequest) => Promise<T>) =>
    async (request: FastifyRequest, reply: import('fastify').FastifyReply) => {
      try {
        return await f(request)
      } catch (err) {
        return sendError(reply, request, err)
      }
    }
  const rows = async (q: Query) => {
    const { start, end, filters } = range(parseFilters(q))
    return { start, end, rows: await needStore(deps).aggregateRows(filters) }
  }

  app.get(
    '/api/logs',
    handle(async (request) => {
      const q = request.query as Query
      const filters = parseFilters(q)
      const page = parsePage(q)
      const store = needStore(deps)
      const [{ rows: found, total }, stats, hasLogs] = await Promise.all([
        store.search(filters, page),
        store.totals(filters),
        store.hasAny(),
      ])
      return {
        logs: found.map(rowToEntry),
        pagination: { ...page, total_count: total },
        stats,
        // The queries run side by side: an entry written between them must not read as "no logs".
        has_logs: hasLogs || total > 0,
        total,
        offset: page.offset,
        limit: page.limit,
      }
    }),
  )

  app.delete(
    '/api/logs',
    handle(async (request) => {
      const ids = (request.body as { ids?: unknown } | undefined)?.ids
      if (!Array.isArray(ids) || ids.some((i) => typeof i !== 'string')) {
        throw new GatewayError('invalid_request', 'ids must be an array of log ids', { param: 'ids' })
      }
      const deleted = await needStore(deps).delete(ids as string[])
      return { message: `${deleted} log(s) deleted` }
    }),
  )

  app.get(
    '/api/logs/stats',
    handle(async (request) => {
      const q = request.query as Query
      const f = parseFilters(q)
      const store = needStore(deps)
      const statsOf = async (filters: LogFilters) => {
        const [sums, providers, models] = await Promise.all([
          store.totals(filters),
          store.countBy(filters, 'provider'),
          store.countBy(filters, 'model'),
        ])
        return { ...sums, provider_breakdown: providers, model_breakdown: models }
      }
      const stats = await statsOf(f)
      if (q.compare_to_previous !== 'true') return stats
      if (f.start_time === undefined) return { ...stats, has_previous_period: false }
      const end = f.end_time ?? Date.now()
      const span = end - f.start_time
      const previous = await statsOf({ ...f, start_time: f.start_time - span, end_time: f.start_time - 1 })
      return { ...stats, has_previous_period: true, previous }
    }),
  )

  app.get('/api/logs/dropped', async () => ({
    dropped_requests: deps.queue.dropped,
    queue_depth: deps.queue.depth,
    written: deps.queue.written,
    failed_writes: deps.queue.failed,
  }))

  app.get(
    '/api/logs/filterdata',
    handle(async () => {
      const store = needStore(deps)
      const [models, providers, keys, objects, routes, vks, teams, customers] = await Promise.all([
        store.distinct('model'),
        store.distinct('provider'),
        store.distinct('selected_key_id'),
        store.distinct('object'),
        store.distinct('route'),
        store.distinctPairs('virtual_key_id', 'virtual_key_name'),
        store.distinctPairs('team_id', 'team_name'),
        store.distinctPairs('customer_id', 'customer_name'),
      ])
      return {
        models: models.map((m) => ({ id: m, name: m })),
        providers,
        objects,
        // Heimdall: the routes requests came in on, for the `routes` filter.
        routes,
        selected_keys: keys.map((k) => ({ id: k, name: k })),
        virtual_keys: vks,
        teams,
        customers,
      }
    }),
  )

  app.get(
    '/api/logs/histogram',
    handle(async (request) => {
      const { start, end, rows: r } = await rows(request.query as Query)
      return requestHistogram(r, start, end)
    }),
  )
  app.get(
    '/api/logs/histogram/tokens',
    handle(async (request) => {
      const { start, end, rows: r } = await rows(request.query as Query)
      return tokenHistogram(r, start, end)
    }),
  )
  app.get(
    '/api/logs/histogram/cost',
    handle(async (request) => {
      const { start, end, rows: r } = await rows(request.query as Query)
      const h = costHistogram(r, start, end, 'model')
      return {
        buckets: [...h.out].map(([t, b]) => ({
          timestamp: iso(t),
          total_cost: b.total_cost,
          by_model: b.by,
        })),
        bucket_size_seconds: h.size,
        models: h.values,
      }
    }),
  )
  app.get(
    '/api/logs/histogram/models',
    handle(async (request) => {
      const { start, end, rows: r } = await rows(request.query as Query)
      return modelHistogram(r, start, end)
    }),
  )
  app.get(
    '/api/logs/histogram/latency',
    handle(async (request) => {
      const { start, end, rows: r } = await rows(request.query as Query)
      return latencyHistogram(r, start, end)
    }),
  )

  // Split by provider (Bifrost's `by_provider`) or by any dimension (`by_dimension`).
  const costBy = async (q: Query, dim: Dimension, key: string, list: string) => {
    const { start, end, rows: r } = await rows(q)
    const h = costHistogram(r, start, end, dim)
    return {
      buckets: [...h.out].map(([t, b]) => ({ timestamp: iso(t), total_cost: b.total_cost, [key]: b.by })),
      bucket_size_seconds: h.size,
      [list]: h.values,
      ...(key === 'by_dimension' && { dimension: dim }),
    }
  }
  const tokensBy = async (q: Query, dim: Dimension, key: string, list: string) => {
    const { start, end, rows: r } = await rows(q)
    const h = tokensByDimension(r, start, end, dim)
    return {
      buckets: [...h.out].map(([t, b]) => ({ timestamp: iso(t), total_tokens: b.total_tokens, [key]: b.by })),
      bucket_size_seconds: h.size,
      [list]: h.values,
      ...(key === 'by_dimension' && { dimension: dim }),
    }
  }
  const latencyBy = async (q: Query, dim: Dimension, key: string, list: string) => {
    const { start, end, rows: r } = await rows(q)
    const h = latencyByDimension(r, start, end, dim)
    return {
      buckets: [...h.out].map(([t, by]) => ({ timestamp: iso(t), [key]: by })),
      bucket_size_seconds: h.size,
      [list]: h.values,
      ...(key === 'by_dimension' && { dimension: dim }),
    }
  }
  app.get(
    '/api/logs/histogram/cost/by-provider',
    handle((r) => costBy(r.query as Query, 'provider', 'by_provider', 'providers')),
  )
  app.get(
    '/api/logs/histogram/tokens/by-provider',
    handle((r) => tokensBy(r.query as Query, 'provider', 'by_provider', 'providers')),
  )
  app.get(
    '/api/logs/histogram/latency/by-provider',
    handle((r) => latencyBy(r.query as Query, 'provider', 'by_provider', 'providers')),
  )
  app.get(
    '/api/logs/histogram/cost/by-dimension',
    handle((r) => costBy(r.query as Query, dimension(r.query as Query), 'by_dimension', 'values')),
  )
  app.get(
    '/api/logs/histogram/tokens/by-dimension',
    handle((r) => tokensBy(r.query as Query, dimension(r.query as Query), 'by_dimension', 'values')),
  )
  app.get(
    '/api/logs/histogram/latency/by-dimension',
    handle((r) => latencyBy(r.query as Query, dimension(r.query as Query), 'by_dimension', 'values')),
  )

  // Totals per provider, model, key, team or customer over the range: the dashboard's tables.
  app.get(
    '/api/logs/breakdown',
    handle(async (request) => {
      const q = request.query as Query
      const dim = dimension(q)
      const { start, end, rows: r } = await rows(q)
      return { dimension: dim, start_time: iso(start), end_time: iso(end), rows: breakdown(r, dim) }
    }),
  )

  app.get(
    '/api/logs/:id',
    handle(async (request) => {
      const { id } = request.params as { id: string }
      const row = await needStore(deps).get(id)
      if (!row) throw new GatewayError('not_found', `log ${id} not found`)
      return rowToEntry(row)
    }),
  )

  registerMcpLogRoutes(app, deps, handle)
  registerLiveLogs(app, deps)
}

type Handle = <T>(
  f: (request: FastifyRequest) => Promise<T>,
) => (request: FastifyRequest, reply: import('fastify').FastifyReply) => Promise<unknown>

/** Bifrost's MCP tool logs: /api/mcp-logs (search, one entry, delete, stats, filter data). */
function registerMcpLogRoutes(app: FastifyInstance, deps: LogRouteDeps, handle: Handle): void {
  app.get(
    '/api/mcp-logs',
    handle(async (request) => {
      const q = request.query as Query
      const filters = parseMcpFilters(q)
      const page = parsePage(q, ['timestamp', 'latency', 'cost'])
      const store = needStore(deps).mcp
      const [{ rows: found, total }, stats, hasLogs] = await Promise.all([
        store.search(filters, page),
        store.stats(filters),
        store.hasAny(),
      ])
      return {
        logs: found.map(mcpRowToEntry),
        pagination: { ...page, total_count: total },
        stats,
        has_logs: hasLogs || total > 0,
      }
    }),
  )

  app.delete(
    '/api/mcp-logs',
    handle(async (request) => {
      const ids = (request.body as { ids?: unknown } | undefined)?.ids
      if (!Array.isArray(ids) || ids.some((i) => typeof i !== 'string')) {
        throw new GatewayError('invalid_request', 'ids must be an array of log ids', { param: 'ids' })
      }
      const deleted = await needStore(deps).mcp.delete(ids as string[])
      return { message: `${deleted} MCP log(s) deleted` }
    }),
  )

  app.get(
    '/api/mcp-logs/stats',
    handle(async (request) => needStore(deps).mcp.stats(parseMcpFilters(request.query as Query))),
  )

  app.get(
    '/api/mcp-logs/filterdata',
    handle(async () => {
      const store = needStore(deps).mcp
      const [toolNames, serverLabels] = await Promise.all([
        store.distinct('tool_name'),
        store.distinct('server_label'),
      ])
      return { tool_names: toolNames, server_labels: serverLabels }
    }),
  )

  app.get(
    '/api/mcp-logs/:id',
    handle(async (request) => {
      const { id } = request.params as { id: string }
      const row = await needStore(deps).mcp.get(id)
      if (!row) throw new GatewayError('not_found', `MCP log ${id} not found`)
      return mcpRowToEntry(row)
    }),
  )
}

/** /ws/logs: every new entry passing the query string's filters, as `{type: "log", operation, payload}`. */
function registerLiveLogs(app: FastifyInstance, deps: LogRouteDeps): void {
  const auth = deps.adminAuth
  void app.register(async (scope) => {
    // Upgrades reach the plugin for /ws/logs only (its hooks, which end a refused socket, live in this scope).
    const server = upgradesOf(app.server, '/ws/logs') as unknown as Server
    await scope.register(websocket, { options: { maxPayload: 64 * 1024, server } })
    scope.get(
      '/ws/logs',
      {
        websocket: true,
        // The admin auth hook guards /api only; this socket carries the same data, so it checks the same
        // way (Host and Origin were checked by the origin guard before any route).
        onRequest: async (request, reply) => {
          try {
            if ((await auth.authenticate(request)) !== undefined) return
          } catch (err) {
            return sendError(reply, request, err)
          }
          return refuseAdmin(request, reply, auth)
        },
      },
      (socket, request) => {
        let filters: LogFilters
        try {
          filters = parseFilters(request.query as Query)
        } catch (err) {
          socket.close(1008, (err as Error).message.slice(0, 120))
          return
        }
        const subscriber: LogSubscriber = {
          filters,
          send(entry) {
            // A viewer that cannot keep up is dropped rather than buffered without bound.
            if (socket.bufferedAmount > 8 * 1024 * 1024) {
              socket.close(1013, 'too slow')
              return
            }
            socket.send(JSON.stringify({ type: 'log', operation: 'create', payload: entry }))
          },
        }
        deps.subscribers.add(subscriber)
        const ping = setInterval(() => socket.ping(), 30_000).unref()
        socket.on('close', () => {
          clearInterval(ping)
          deps.subscribers.delete(subscriber)
        })
        socket.on('message', () => undefined)
      },
    )
  })
}
