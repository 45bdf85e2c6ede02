import type { AggregateRow } from './store.js'

/** Bucket widths the histograms choose from, in seconds. */
const BUCKET_SIZES = [
  60,
  300,
  900,
  1800,
  3600,
  3 * 3600,
  6 * 3600,
  12 * 3600,
  86_400,
  7 * 86_400,
  30 * 86_400,
]

/** Bifrost's rule of thumb: about 30–60 bars over the range. */
export function bucketSizeSeconds(startMs: number, endMs: number): number {
  const span = Math.max(1, Math.floor((endMs - startMs) / 1000))
  return BUCKET_SIZES.find((s) => span / s <= 60) ?? BUCKET_SIZES.at(-1)!
}

export type Dimension =
  'provider' | 'model' | 'selected_key_id' | 'virtual_key_id' | 'team_id' | 'customer_id'
export const DIMENSIONS: readonly Dimension[] = [
  'provider',
  'model',
  'selected_key_id',
  'virtual_key_id',
  'team_id',
  'customer_id',
]

function buckets<T>(rows: AggregateRow[], startMs: number, endMs: number, size: number, init: () => T) {
  const sizeMs = size * 1000
  const first = Math.floor(startMs / sizeMs) * sizeMs
  const out = new Map<number, T>()
  for (let t = first; t <= endMs; t += sizeMs) out.set(t, init())
  const at = (ts: number) => {
    const key = Math.floor(ts / sizeMs) * sizeMs
    let b = out.get(key)
    if (!b) out.set(key, (b = init()))
    return b
  }
  return { out, at, rows }
}

const iso = (ms: number) => new Date(ms).toISOString()
const cost = (r: AggregateRow) => Number(r.cost ?? 0)

export function requestHistogram(rows: AggregateRow[], start: number, end: number) {
  const size = bucketSizeSeconds(start, end)
  const { out, at } = buckets(rows, start, end, size, () => ({ count: 0, success: 0, error: 0 }))
  for (const r of rows) {
    const b = at(r.ts)
    b.count++
    if (r.status === 'success') b.success++
    else b.error++
  }
  return { buckets: [...out].map(([t, b]) => ({ timestamp: iso(t), ...b })), bucket_size_seconds: size }
}

export function tokenHistogram(rows: AggregateRow[], start: number, end: number) {
  const size = bucketSizeSeconds(start, end)
  const { out, at } = buckets(rows, start, end, size, () => ({
    prompt_tokens: 0,
    completion_tokens: 0,
    total_tokens: 0,
  }))
  for (const r of rows) {
    const b = at(r.ts)
    b.prompt_tokens += Number(r.prompt_tokens)
    b.completion_tokens += Number(r.completion_tokens)
    b.total_tokens += Number(r.total_tokens)
  }
  return { buckets: [...out].map(([t, b]) => ({ timestamp: iso(t), ...b })), bucket_size_seconds: size }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]
}

function latencyStats(values: number[]) {
  const sorted = values.slice().sort((a, b) => a - b)
  const avg = sorted.length === 0 ? 0 : sorted.reduce((s, v) => s + v, 0) / sorted.length
  return {
    avg_latency: avg,
    p50_latency: percentile(sorted, 50),
    p90_latency: percentile(sorted, 90),
    p95_latency: percentile(sorted, 95),
    p99_latency: percentile(sorted, 99),
    total_requests: sorted.length,
  }
}

export function latencyHistogram(rows: AggregateRow[], start: number, end: number) {
  const size = bucketSizeSeconds(start, end)
  const { out, at } = buckets(rows, start, end, size, () => [] as number[])
  for (const r of rows) at(r.ts).push(Number(r.latency))
  return {
    buckets: [...out].map(([t, v]) => ({ timestamp: iso(t), ...latencyStats(v) })),
    bucket_size_seconds: size,
  }
}

/** Cost per bucket, split by one dimension (`by_model` for models, as Bifrost names it). */
export function costHistogram(rows: AggregateRow[], start: number, end: number, dim: Dimension = 'model') {
  const size = bucketSizeSeconds(start, end)
  const values = new Set<string>()
  const { out, at } = buckets(rows, start, end, size, () => ({
    total_cost: 0,
    by: {} as Record<string, number>,
  }))
  for (const r of rows) {
    const b = at(r.ts)
    const key = String(r[dim] ?? '')
    values.add(key)
    b.total_cost += cost(r)
    b.by[key] = (b.by[key] ?? 0) + cost(r)
  }
  return { out, size, values: [...values].sort() }
}

export function tokensByDimension(rows: AggregateRow[], start: number, end: number, dim: Dimension) {
  const size = bucketSizeSeconds(start, end)
  const values = new Set<string>()
  const { out, at } = buckets(rows, start, end, size, () => ({
    total_tokens: 0,
    by: {} as Record<string, number>,
  }))
  for (const r of rows) {
    const b = at(r.ts)
    const key = String(r[dim] ?? '')
    values.add(key)
    b.total_tokens += Number(r.total_tokens)
    b.by[key] = (b.by[key] ?? 0) + Number(r.total_tokens)
  }
  return { out, size, values: [...values].sort() }
}

export function latencyByDimension(rows: AggregateRow[], start: number, end: number, dim: Dimension) {
  const size = bucketSizeSeconds(start, end)
  const values = new Set<string>()
  const { out, at } = buckets(rows, start, end, size, () => new Map<string, number[]>())
  for (const r of rows) {
    const key = String(r[dim] ?? '')
    values.add(key)
    const b = at(r.ts)
    const list = b.get(key) ?? []
    list.push(Number(r.latency))
    b.set(key, list)
  }
  return {
    out: new Map(
      [...out].map(
        ([t, m]) => [t, Object.fromEntries([...m].map(([k, v]) => [k, latencyStats(v)]))] as const,
      ),
    ),
    size,
    values: [...values].sort(),
  }
}

export function modelHistogram(rows: AggregateRow[], start: number, end: number) {
  const size = bucketSizeSeconds(start, end)
  const models = new Set<string>()
  const { out, at } = buckets(
    rows,
    start,
    end,
    size,
    () => ({}) as Record<string, { total: number; success: number; error: number }>,
  )
  for (const r of rows) {
    models.add(r.model)
    const b = at(r.ts)
    const s = (b[r.model] ??= { total: 0, success: 0, error: 0 })
    s.total++
    if (r.status === 'success') s.success++
    else s.error++
  }
  return {
    buckets: [...out].map(([t, by]) => ({ timestamp: iso(t), by_model: by })),
    bucket_size_seconds: size,
    models: [...models].sort(),
  }
}

/** Requests, errors, tokens and cost per value of a dimension, most expensive first. */
export function breakdown(rows: AggregateRow[], dim: Dimension) {
  const by = new Map<
    string,
    { requests: number; errors: number; tokens: number; cost: number; latency: number[] }
  >()
  for (const r of rows) {
    const key = String(r[dim] ?? '')
    const b = by.get(key) ?? { requests: 0, errors: 0, tokens: 0, cost: 0, latency: [] }
    b.requests++
    if (r.status !== 'success') b.errors++
    b.tokens += Number(r.total_tokens)
    b.cost += cost(r)
    b.latency.push(Number(r.latency))
    by.set(key, b)
  }
  return [...by]
    .map(([value, b]) => ({
      ...latencyStats(b.latency),
      [dim]: value === '' ? null : value,
      total_requests: b.requests,
      errors: b.errors,
      total_tokens: b.tokens,
      total_cost: b.cost,
    }))
    .sort((a, b) => b.total_cost - a.total_cost || b.total_requests - a.total_requests)
}

export { iso }
