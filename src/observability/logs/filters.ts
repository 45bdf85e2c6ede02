import { GatewayError } from '../../core/errors.js'
import type { LogRow } from './record.js'

/** Bifrost's log search filters (`SearchFilters`), parsed from the query string. */
export interface LogFilters {
  providers?: string[]
  models?: string[]
  status?: string[]
  objects?: string[]
  selected_key_ids?: string[]
  virtual_key_ids?: string[]
  team_ids?: string[]
  customer_ids?: string[]
  /** Milliseconds since the epoch. */
  start_time?: number
  end_time?: number
  min_latency?: number
  max_latency?: number
  min_tokens?: number
  max_tokens?: number
  min_cost?: number
  max_cost?: number
  missing_cost_only?: boolean
  content_search?: string
  request_id?: string
}

export type SortBy = 'timestamp' | 'latency' | 'tokens' | 'cost'

export interface Page {
  limit: number
  offset: number
  sort_by: SortBy
  order: 'asc' | 'desc'
}

/** Comma-separated lists, as the filters name them in the query string, and the row column each filters. */
export const LIST_FILTERS = {
  providers: 'provider',
  models: 'model',
  status: 'status',
  objects: 'object',
  selected_key_ids: 'selected_key_id',
  virtual_key_ids: 'virtual_key_id',
  team_ids: 'team_id',
  customer_ids: 'customer_id',
} as const satisfies Record<string, keyof LogRow>

type Query = Record<string, unknown>

function text(q: Query, name: string): string | undefined {
  const v = q[name]
  const s = Array.isArray(v) ? v.join(',') : v
  return typeof s === 'string' && s.trim() !== '' ? s.trim() : undefined
}

function number(q: Query, name: string): number | undefined {
  const s = text(q, name)
  if (s === undefined) return undefined
  const n = Number(s)
  if (!Number.isFinite(n))
    throw new GatewayError('invalid_request', `${name} must be a number`, { param: name })
  return n
}

function time(q: Query, name: string): number | undefined {
  const s = text(q, name)
  if (s === undefined) return undefined
  const ms = /^\d+$/.test(s) ? Number(s) * (s.length <= 10 ? 1000 : 1) : Date.parse(s)
  if (!Number.isFinite(ms)) {
    throw new GatewayError('invalid_request', `${name} must be an RFC 3339 time`, { param: name })
  }
  return ms
}

const PERIODS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 }

/** Reads the filters of /api/logs and its siblings; throws a 400 on a malformed value. */
export function parseFilters(q: Query, now = Date.now()): LogFilters {
  const f: LogFilters = {}
  for (const name of Object.keys(LIST_FILTERS) as (keyof typeof LIST_FILTERS)[]) {
    const s = text(q, name)
    if (s !== undefined)
      f[name] = s
        .split(',')
        .map((v) => v.trim())
        .filter((v) => v !== '')
  }
  f.start_time = time(q, 'start_time')
  f.end_time = time(q, 'end_time')
  const period = text(q, 'period')
  if (period !== undefined && f.start_time === undefined) {
    const m = /^(\d+)([mhdw])$/.exec(period)
    if (!m)
      throw new GatewayError('invalid_request', 'period must look like 30m, 24h, 7d or 1w', {
        param: 'period',
      })
    f.start_time = now - Number(m[1]) * PERIODS[m[2]]
  }
  f.min_latency = number(q, 'min_latency')
  f.max_latency = number(q, 'max_latency')
  f.min_tokens = number(q, 'min_tokens')
  f.max_tokens = number(q, 'max_tokens')
  f.min_cost = number(q, 'min_cost')
  f.max_cost = number(q, 'max_cost')
  const missing = text(q, 'missing_cost_only')
  if (missing !== undefined) f.missing_cost_only = missing === 'true'
  f.content_search = text(q, 'content_search')
  f.request_id = text(q, 'request_id')
  if (f.request_id !== undefined) {
    // An exact lookup ignores the time range, as Bifrost's does.
    delete f.start_time
    delete f.end_time
  }
  for (const k of Object.keys(f) as (keyof LogFilters)[]) if (f[k] === undefined) delete f[k]
  return f
}

export function parsePage(q: Query): Page {
  const limit = number(q, 'limit') ?? 50
  const offset = number(q, 'offset') ?? 0
  if (limit < 1 || limit > 1000 || !Number.isInteger(limit)) {
    throw new GatewayError('invalid_request', 'limit must be an integer from 1 to 1000', { param: 'limit' })
  }
  if (offset < 0 || !Number.isInteger(offset)) {
    throw new GatewayError('invalid_request', 'offset must be a non-negative integer', { param: 'offset' })
  }
  const sortBy = text(q, 'sort_by') ?? 'timestamp'
  if (!['timestamp', 'latency', 'tokens', 'cost'].includes(sortBy)) {
    throw new GatewayError('invalid_request', 'sort_by must be timestamp, latency, tokens or cost', {
      param: 'sort_by',
    })
  }
  const order = text(q, 'order') ?? 'desc'
  if (order !== 'asc' && order !== 'desc') {
    throw new GatewayError('invalid_request', 'order must be asc or desc', { param: 'order' })
  }
  return { limit, offset, sort_by: sortBy as SortBy, order }
}

/** Whether a row passes the filters: the live stream's check, the same as the store's query. */
export function matchesFilters(row: LogRow, f: LogFilters): boolean {
  for (const [name, column] of Object.entries(LIST_FILTERS)) {
    const list = f[name as keyof typeof LIST_FILTERS]
    if (list && !list.includes(String(row[column] ?? ''))) return false
  }
  if (f.request_id !== undefined && row.id !== f.request_id) return false
  if (f.start_time !== undefined && row.ts < f.start_time) return false
  if (f.end_time !== undefined && row.ts > f.end_time) return false
  if (f.min_latency !== undefined && row.latency < f.min_latency) return false
  if (f.max_latency !== undefined && row.latency > f.max_latency) return false
  if (f.min_tokens !== undefined && row.total_tokens < f.min_tokens) return false
  if (f.max_tokens !== undefined && row.total_tokens > f.max_tokens) return false
  if (f.min_cost !== undefined && (row.cost ?? 0) < f.min_cost) return false
  if (f.max_cost !== undefined && (row.cost ?? 0) > f.max_cost) return false
  if (f.missing_cost_only && row.cost !== null && row.cost !== 0) return false
  if (f.content_search !== undefined) {
    const hay = (row.content_summary ?? '').toLowerCase()
    if (!hay.includes(f.content_search.toLowerCase())) return false
  }
  return true
}
