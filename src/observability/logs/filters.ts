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
  /** Heimdall: the routes the requests came in on (`/v1/chat/completions`, `/anthropic/v1/messages` ...). */
  routes?: string[]
  /** Bifrost's: entries the response cache answered, by `direct` or `semantic` hit. */
  cache_hit_types?: string[]
  /** Bifrost's: entries a routing rule routed, by rule id. */
  routing_rule_ids?: string[]
  /** Bifrost's: entries one of these routing engines routed (`governance`, `routing-rule`, `loadbalancing`). */
  routing_engine_used?: string[]
  /** Heimdall: the HTTP status answered: 200 for a success, the error's `status_code` otherwise. */
  status_codes?: number[]
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
  /** Heimdall: only entries whose cost was (true) or was not (false) estimated. */
  cost_estimated?: boolean
  content_search?: string
  request_id?: string
  /** A Bifrost filter on something Heimdall's entries never have (a routing rule, a project ...): nothing matches. */
  match_none?: boolean
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
  routes: 'route',
  cache_hit_types: 'cache_hit_type',
  routing_rule_ids: 'routing_rule_id',
} as const satisfies Record<string, keyof LogRow>

export type Query = Record<string, unknown>

export function textParam(q: Query, name: string): string | undefined {
  const v = q[name]
  const s = Array.isArray(v) ? v.join(',') : v
  return typeof s === 'string' && s.trim() !== '' ? s.trim() : undefined
}

/** A comma-separated (or repeated) parameter as its non-empty values. */
export function listParam(q: Query, name: string): string[] | undefined {
  return textParam(q, name)
    ?.split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '')
}

export function numberParam(q: Query, name: string): number | undefined {
  const s = textParam(q, name)
  if (s === undefined) return undefined
  const n = Number(s)
  if (!Number.isFinite(n))
    throw new GatewayError('invalid_request', `${name} must be a number`, { param: name })
  return n
}

export function timeParam(q: Query, name: string): number | undefined {
  const s = textParam(q, name)
  if (s === undefined) return undefined
  const ms = /^\d+$/.test(s) ? Number(s) * (s.length <= 10 ? 1000 : 1) : Date.parse(s)
  if (!Number.isFinite(ms)) {
    throw new GatewayError('invalid_request', `${name} must be an RFC 3339 time`, { param: name })
  }
  return ms
}

export function booleanParam(q: Query, name: string): boolean | undefined {
  const s = textParam(q, name)
  if (s === undefined) return undefined
  if (s !== 'true' && s !== 'false')
    throw new GatewayError('invalid_request', `${name} must be true or false`, { param: name })
  return s === 'true'
}

const PERIODS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 }

/** `start_time` and `end_time` (RFC 3339 or epoch), or `period` (30m, 24h, 7d, 1w) back from now. */
export function parseTimeRange(q: Query, now = Date.now()): { start_time?: number; end_time?: number } {
  let start = timeParam(q, 'start_time')
  const end = timeParam(q, 'end_time')
  const period = textParam(q, 'period')
  if (period !== undefined && start === undefined) {
    const m = /^(\d+)([mhdw])$/.exec(period)
    if (!m)
      throw new GatewayError('invalid_request', 'period must look like 30m, 24h, 7d or 1w', {
        param: 'period',
      })
    start = now - Number(m[1]) * PERIODS[m[2]]
  }
  return { start_time: start, end_time: end }
}

/** `status_codes`: comma-separated HTTP status codes (100-599); anything else is a 400. */
function statusCodesParam(q: Query): number[] | undefined {
  const values = listParam(q, 'status_codes')
  if (values === undefined) return undefined
  const bad = values.find((v) => !/^[1-5]\d\d$/.test(v))
  if (bad !== undefined)
    throw new GatewayError(
      'invalid_request',
      `status_codes must be HTTP status codes from 100 to 599, comma-separated (got ${JSON.stringify(bad)})`,
      { param: 'status_codes' },
    )
  return values.map(Number)
}

/** The HTTP status a logged request was answered with: 200, or its error body's `status_code`. */
export function rowStatusCode(row: Pick<LogRow, 'status' | 'error'>): number | undefined {
  if (row.status === 'success') return 200
  try {
    const code = (JSON.parse(row.error ?? '') as { status_code?: unknown }).status_code
    return typeof code === 'number' ? code : undefined
  } catch {
    return undefined
  }
}

/** Bifrost's filters on attributes no Heimdall entry has: given a value, they match nothing. */
const ABSENT_DIMENSIONS = ['aliases', 'business_unit_ids', 'project_ids', 'parent_request_id']
/** Bifrost's filters on attributes entries have but the store does not keep: refused rather than ignored. */
const UNSUPPORTED_FILTERS = ['user_ids', 'stop_reasons']

/** Reads the filters of /api/logs and its siblings; throws a 400 on a malformed value. */
export function parseFilters(q: Query, now = Date.now()): LogFilters {
  const f: LogFilters = {}
  for (const name of Object.keys(LIST_FILTERS) as (keyof typeof LIST_FILTERS)[]) {
    const values = listParam(q, name)
    if (values !== undefined) f[name] = values
  }
  f.status_codes = statusCodesParam(q)
  f.routing_engine_used = listParam(q, 'routing_engine_used')
  const badHitType = f.cache_hit_types?.find((t) => t !== 'direct' && t !== 'semantic')
  if (badHitType !== undefined)
    throw new GatewayError(
      'invalid_request',
      `cache_hit_types must be direct and/or semantic, comma-separated (got ${JSON.stringify(badHitType)})`,
      { param: 'cache_hit_types' },
    )
  Object.assign(f, parseTimeRange(q, now))
  f.min_latency = numberParam(q, 'min_latency')
  f.max_latency = numberParam(q, 'max_latency')
  f.min_tokens = numberParam(q, 'min_tokens')
  f.max_tokens = numberParam(q, 'max_tokens')
  f.min_cost = numberParam(q, 'min_cost')
  f.max_cost = numberParam(q, 'max_cost')
  const missing = textParam(q, 'missing_cost_only')
  if (missing !== undefined) f.missing_cost_only = missing === 'true'
  f.cost_estimated = booleanParam(q, 'cost_estimated')
  f.content_search = textParam(q, 'content_search')
  f.request_id = textParam(q, 'request_id')
  for (const name of UNSUPPORTED_FILTERS) {
    if (textParam(q, name) !== undefined)
      throw new GatewayError('invalid_request', `${name} is not a filter of Heimdall's request logs`, {
        param: name,
      })
  }
  if (
    ABSENT_DIMENSIONS.some((name) => textParam(q, name) !== undefined) ||
    Object.keys(q).some((k) => k.startsWith('metadata_') && textParam(q, k) !== undefined)
  )
    f.match_none = true
  if (f.request_id !== undefined) {
    // An exact lookup ignores the time range, as Bifrost's does.
    delete f.start_time
    delete f.end_time
  }
  for (const k of Object.keys(f) as (keyof LogFilters)[]) if (f[k] === undefined) delete f[k]
  return f
}

/** Reads limit, offset, sort_by and order; `sorts` are the sort_by values the list accepts. */
export function parsePage(
  q: Query,
  sorts: readonly SortBy[] = ['timestamp', 'latency', 'tokens', 'cost'],
): Page {
  const limit = numberParam(q, 'limit') ?? 50
  const offset = numberParam(q, 'offset') ?? 0
  if (limit < 1 || limit > 1000 || !Number.isInteger(limit)) {
    throw new GatewayError('invalid_request', 'limit must be an integer from 1 to 1000', { param: 'limit' })
  }
  if (offset < 0 || !Number.isInteger(offset)) {
    throw new GatewayError('invalid_request', 'offset must be a non-negative integer', { param: 'offset' })
  }
  const sortBy = textParam(q, 'sort_by') ?? 'timestamp'
  if (!(sorts as readonly string[]).includes(sortBy)) {
    throw new GatewayError('invalid_request', `sort_by must be one of ${sorts.join(', ')}`, {
      param: 'sort_by',
    })
  }
  const order = textParam(q, 'order') ?? 'desc'
  if (order !== 'asc' && order !== 'desc') {
    throw new GatewayError('invalid_request', 'order must be asc or desc', { param: 'order' })
  }
  return { limit, offset, sort_by: sortBy as SortBy, order }
}

/** Whether a row passes the filters: the live stream's check, the same as the store's query. */
export function matchesFilters(row: LogRow, f: LogFilters): boolean {
  if (f.match_none) return false
  for (const [name, column] of Object.entries(LIST_FILTERS)) {
    const list = f[name as keyof typeof LIST_FILTERS]
    if (list && !list.includes(String(row[column] ?? ''))) return false
  }
  if (f.status_codes && !f.status_codes.includes(rowStatusCode(row) ?? -1)) return false
  if (f.routing_engine_used) {
    const used = (row.routing_engine_used ?? '').split(',')
    if (!f.routing_engine_used.some((e) => used.includes(e))) return false
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
  if (f.cost_estimated !== undefined && Boolean(Number(row.cost_estimated)) !== f.cost_estimated) return false
  if (f.content_search !== undefined) {
    const hay = (row.content_summary ?? '').toLowerCase()
    if (!hay.includes(f.content_search.toLowerCase())) return false
  }
  return true
}
