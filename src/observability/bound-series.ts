import type { Counter, Histogram } from 'prom-client'

type Labels = Record<string, string>

/** prom-client's own record of one label set (15.x): counters keep `value`, histograms `sum`, `count` and `bucketValues`. */
interface SeriesRecord {
  labels: Labels
  value?: number
  sum?: number
  count?: number
  bucketValues?: Record<number, number>
}

/** More label sets than this (unbounded labels asked for) empties the cache rather than growing it. */
const MAX_SERIES = 10_000

/**
 * The series of one metric by a key the caller builds from its label values. prom-client's
 * `inc(labels)` / `observe(labels)` validates, sorts and hashes the labels on every call (about a
 * tenth of the metrics' per-request cost each); here a label set goes through that public call
 * once, its record is found (prom-client keeps the labels object it was given), and later calls
 * update that record as prom-client itself would. The /metrics text is prom-client's own. When a
 * record cannot be found (another prom-client version) or the metric was reset, the public call is
 * used again.
 */
class SeriesCache {
  private readonly records = new Map<string, SeriesRecord | null>()
  private hashMap: unknown

  constructor(private readonly metric: object) {}

  /** The record of this key, or undefined when the caller must take the public call (which it then reports). */
  find(key: string): SeriesRecord | null | undefined {
    const current = (this.metric as { hashMap?: unknown }).hashMap
    if (current !== this.hashMap) {
      // reset() replaced the map: every record known is gone.
      this.records.clear()
      this.hashMap = current
    }
    return this.records.get(key)
  }

  /** After the public call for `labels`: remembers its record (null when it cannot be found). */
  learn(key: string, labels: Labels): void {
    const map = this.hashMap as Record<string, SeriesRecord> | undefined
    let found: SeriesRecord | null = null
    if (map && typeof map === 'object') {
      for (const k in map) {
        if (map[k]?.labels === labels) {
          found = map[k]
          break
        }
      }
    }
    if (this.records.size >= MAX_SERIES) this.records.clear()
    this.records.set(key, found)
  }
}

export class BoundCounter {
  private readonly cache: SeriesCache

  constructor(private readonly metric: Counter<string>) {
    this.cache = new SeriesCache(metric)
  }

  /** Adds `value` (default 1) to the series `key` names; `labels` is called only the first time. */
  inc(key: string, labels: () => Labels, value = 1): void {
    const record = this.cache.find(key)
    if (record && typeof record.value === 'number' && Number.isFinite(value) && value >= 0) {
      record.value += value
      return
    }
    const l = labels()
    this.metric.inc(l, value)
    if (record === undefined) this.cache.learn(key, l)
  }
}

export class BoundHistogram {
  private readonly cache: SeriesCache
  /** The buckets as prom-client's `bucketValues` keys: a fractional number key is converted to text on every access. */
  private readonly bucketKeys: readonly string[]

  constructor(
    private readonly metric: Histogram<string>,
    private readonly buckets: readonly number[],
  ) {
    this.cache = new SeriesCache(metric)
    this.bucketKeys = buckets.map(String)
  }

  /** Observes `value` in the series `key` names; `labels` is called only the first time. */
  observe(key: string, labels: () => Labels, value: number): void {
    const record = this.cache.find(key)
    const bucketValues = record?.bucketValues
    if (record && bucketValues && typeof record.sum === 'number' && Number.isFinite(value)) {
      record.sum += value
      record.count = (record.count ?? 0) + 1
      const buckets = this.buckets
      for (let i = 0; i < buckets.length; i++) {
        if (value <= buckets[i]) {
          ;(bucketValues as Record<string, number>)[this.bucketKeys[i]] += 1
          break
        }
      }
      return
    }
    const l = labels()
    this.metric.observe(l, value)
    if (record === undefined) this.cache.learn(key, l)
  }
}
