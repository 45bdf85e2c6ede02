import type { GatewayContext, GatewayHook } from '../../core/context.js'
import { isStoreEnabled, type StoreSpec } from '../../store/index.js'
import type { ObservabilityDeps, ObservabilityPart } from '../index.js'
import { CostRecalculation } from './cost-recalculation.js'
import type { StandaloneToolCall, ToolCallRecord } from '../../core/tool-calls.js'
import {
  buildPendingLog,
  credentialsOf,
  DEFAULT_LOG_CONTENT_MAX_CHARS,
  finalise,
  streamAccumulator,
} from './entry.js'
import { matchesFilters, type LogFilters } from './filters.js'
import { toolCallRow, type McpToolLogRow } from './mcp-record.js'
import { LogQueue } from './queue.js'
import { rowToEntry, type LogEntry, type LogRow } from './record.js'
import { LogStore } from './store.js'

export { LogStore } from './store.js'
export { LogQueue } from './queue.js'
export type { LogEntry, LogRow } from './record.js'
export type { LogOwners } from './entry.js'
export type { McpToolLogEntry, McpToolLogRow } from './mcp-record.js'

export interface LogQueueStats {
  /** Entries waiting to be written. */
  depth: number
  /** Entries dropped since start because the queue was full. */
  dropped: number
  /** Entries written since start. */
  written: number
}

export interface Logging extends ObservabilityPart {
  queueStats(): LogQueueStats
  /** Whether request logs have a store to go to. */
  connected(): boolean
  /** Readiness of the log store: undefined when none is configured. */
  ping(): Promise<void> | undefined
  /** What /api/logs, /ws/logs and the cost recalculation routes read (src/http registers them). */
  routes: LogRouteSources
}

export interface LogRouteSources {
  store(): LogStore | undefined
  queue: LogQueue
  toolQueue: LogQueue<McpToolLogRow, McpToolLogRow>
  subscribers: Set<LogSubscriber>
  runRetention(now?: number): Promise<void>
  recalculation: CostRecalculation
}

/** Heimdall's settings of the log store, beside Bifrost's `logs_store` fields. */
interface LogsStoreSettings {
  /** Most entries waiting to be written (default 10,000); beyond, entries are dropped and counted. */
  max_queue_size?: number
  batch_size?: number
  flush_interval_ms?: number
  /** Days the request and response bodies are kept, when shorter than `client.log_retention_days`. */
  content_retention_days?: number
  /** How often retention runs (default hourly). */
  retention_interval_ms?: number
}

const DEFAULT_RETENTION_DAYS = 30

/** Someone watching new entries (the WebSocket of /ws/logs). */
export interface LogSubscriber {
  filters: LogFilters
  send(entry: LogEntry): void
}

/**
 * Request logs: an entry per request built when it ends, queued and written in batches to the
 * log store (SQLite or PostgreSQL), searchable at /api/logs and streamed live at /ws/logs.
 */
export async function createLogging(deps: ObservabilityDeps): Promise<Logging> {
  const spec = deps.config.logs_store as (StoreSpec & LogsStoreSettings) | undefined
  const settings: LogsStoreSettings = spec ?? {}
  const client = deps.client
  const enabled = () => client.enable_logging !== false
  const sources = { owners: deps.owners, pricing: deps.pricing }
  // Content is kept unless the deployment or the caller's virtual key switched it off.
  const withContent = (ctx: GatewayContext) =>
    client.disable_content_logging !== true && ctx.facts.virtualKey?.disable_content_logging !== true
  const subscribers = new Set<LogSubscriber>()
  const maxContentChars = () => client.log_max_content_chars ?? DEFAULT_LOG_CONTENT_MAX_CHARS

  let store: LogStore | undefined
  if (isStoreEnabled(spec)) {
    try {
      store = await LogStore.open(spec, deps.appDir, (err) =>
        deps.logger.warn({ err: err.message }, 'log store connection error'),
      )
    } catch (err) {
      // A broken log database must not keep the gateway from serving.
      deps.logger.error({ err: (err as Error).message }, 'log store unavailable; request logs are off')
    }
  }

  let lastWarn = 0
  const queue = new LogQueue({
    maxSize: settings.max_queue_size ?? 10_000,
    batchSize: settings.batch_size ?? 500,
    flushIntervalMs: settings.flush_interval_ms ?? 200,
    write: async (rows) => {
      if (!store) return
      await store.insert(rows)
    },
    onWriteError: (err, n) => {
      if (Date.now() - lastWarn < 10_000) return
      lastWarn = Date.now()
      deps.logger.warn({ err: (err as Error).message, entries: n }, 'could not write request logs')
    },
  })

  // MCP tool executions: rows are built when the call ends (they are small), written in batches.
  const toolQueue = new LogQueue<McpToolLogRow, McpToolLogRow>({
    maxSize: settings.max_queue_size ?? 10_000,
    batchSize: settings.batch_size ?? 500,
    flushIntervalMs: settings.flush_interval_ms ?? 200,
    serialize: (row) => row,
    write: async (rows) => {
      if (!store) return
      await store.mcp.insert(rows)
    },
    onWriteError: (err, n) => {
      if (Date.now() - lastWarn < 10_000) return
      lastWarn = Date.now()
      deps.logger.warn({ err: (err as Error).message, entries: n }, 'could not write MCP tool logs')
    },
  })
  const logToolCalls = (calls: readonly ToolCallRecord[], origin: Parameters<typeof toolCallRow>[1]) => {
    for (const call of calls) toolQueue.push(toolCallRow(call, origin))
  }

  const publish = (row: LogRow) => {
    let entry: LogEntry | undefined
    for (const s of subscribers) {
      if (!matchesFilters(row, s.filters)) continue
      entry ??= rowToEntry(row)
      s.send(entry)
    }
  }

  const hook: GatewayHook = {
    name: 'logging',
    observeStream(ctx: GatewayContext) {
      if (!enabled() || !withContent(ctx) || !store) return undefined
      return streamAccumulator(ctx, maxContentChars())
    },
    onEnd(ctx: GatewayContext) {
      if (!enabled() || !store) return
      const tools = ctx.facts.mcpToolCalls
      if (tools?.length) {
        logToolCalls(tools, {
          llmRequestId: ctx.requestId,
          virtualKey: ctx.facts.virtualKey,
          withContent: withContent(ctx),
          secrets: credentialsOf(ctx.headers),
        })
      }
      try {
        const pending = buildPendingLog(ctx, sources, withContent(ctx) && { maxChars: maxContentChars() })
        if (!queue.push(pending)) return
        // Live viewers see the entry now, in the order requests ended; bodies are serialized once.
        if (subscribers.size > 0) publish(finalise(pending))
      } catch (err) {
        deps.logger.warn({ err: (err as Error).message }, 'could not build a request log entry')
      }
    },
  }

  let retentionTimer: NodeJS.Timeout | undefined
  const runRetention = async (now = Date.now()) => {
    if (!store) return
    await store.enforceRetention(
      now,
      client.log_retention_days ?? DEFAULT_RETENTION_DAYS,
      settings.content_retention_days,
    )
  }
  if (store) {
    const tick = () =>
      void runRetention().catch((err: unknown) =>
        deps.logger.warn({ err: (err as Error).message }, 'log retention failed'),
      )
    retentionTimer = setInterval(tick, settings.retention_interval_ms ?? 3_600_000).unref()
    setTimeout(tick, 5_000).unref()
  }

  /** A tool call of POST /v1/mcp/tool/execute, outside any inference request. */
  const onStandaloneToolCall = (call: StandaloneToolCall) => {
    if (!enabled() || !store) return
    const contentOff =
      client.disable_content_logging === true || call.virtualKey?.disable_content_logging === true
    logToolCalls([call.record], {
      virtualKey: call.virtualKey,
      withContent: !contentOff,
      secrets: credentialsOf(call.headers),
    })
  }

  return {
    hook,
    onStandaloneToolCall,
    routes: {
      store: () => store,
      queue,
      toolQueue,
      subscribers,
      runRetention,
      recalculation: new CostRecalculation({ store: () => store, pricing: deps.pricing }),
    },
    queueStats: () => ({ depth: queue.depth, dropped: queue.dropped, written: queue.written }),
    connected: () => store !== undefined,
    ping: () => {
      if (!isStoreEnabled(spec)) return undefined
      if (!store) return Promise.reject(new Error('could not be opened at start; request logs are off'))
      return store.ping()
    },
    async close() {
      if (retentionTimer) clearInterval(retentionTimer)
      queue.stop()
      toolQueue.stop()
      await queue.flush().catch(() => undefined)
      await toolQueue.flush().catch(() => undefined)
      await store?.close().catch(() => undefined)
      store = undefined
    },
  }
}
