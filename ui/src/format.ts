/**
 * How the UI writes numbers, money, durations and times: one format for each, used by every page,
 * so the same cost never reads `$0.0012` on one page and `$0.00` on another.
 */

const EMPTY = '—'

const absent = (n: number | undefined | null): n is undefined | null =>
  n === undefined || n === null || Number.isNaN(n)

/**
 * US dollars: cents from a cent up (`$1,234.56`); below a cent, four decimals (`$0.0012`) so that
 * a single request's cost still shows; below that, `<$0.0001`.
 */
export function formatMoney(n: number | undefined | null): string {
  if (absent(n)) return EMPTY
  const sign = n < 0 ? '-' : ''
  const a = Math.abs(n)
  if (a === 0) return '$0.00'
  if (a < 0.0001) return `${sign}<$0.0001`
  const digits = a < 0.01 ? 4 : 2
  return `${sign}$${a.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })}`
}

/**
 * Money on a chart axis, short enough for a narrow card: `$0`, `$0.000002`, `$0.0045`, `$1.20`, `$12`,
 * `$1.2k`. Below a cent, two significant digits written out in full: a reader compares `$0.00001`
 * with `$0.0001` at a glance, not `$1e-5` with `$1e-4`.
 */
export function formatMoneyShort(n: number | undefined | null): string {
  if (absent(n)) return EMPTY
  const a = Math.abs(n)
  const sign = n < 0 ? '-' : ''
  if (a === 0) return '$0'
  if (a >= 1000) return `${sign}$${formatCompact(a)}`
  if (a >= 10) return `${sign}$${Math.round(a)}`
  if (a >= 0.01) return `${sign}$${a.toFixed(2)}`
  return `${sign}$${a.toLocaleString('en-US', { maximumSignificantDigits: 2 })}`
}

/**
 * Ticks for a money axis from $0 to at least `max`, 1, 2 or 5 × 10ⁿ apart, so that each label keeps
 * one or two digits (`$0.00002`, never `$0.0000175`): `[0, 0.00001, 0.00002, 0.00003, 0.00004]`.
 */
export function moneyTicks(max: number): number[] {
  if (!(max > 0) || !Number.isFinite(max)) return [0, 1]
  const raw = max / 4
  const magnitude = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw * (1 - 1e-9))!
  const count = Math.ceil(max / step - 1e-9)
  return Array.from({ length: count + 1 }, (_, i) => Number((i * step).toPrecision(12)))
}

/** A count with thousands separators: `12,345`. */
export function formatNumber(n: number | undefined | null): string {
  return absent(n) ? EMPTY : n.toLocaleString('en-US', { maximumFractionDigits: 2 })
}

/** A count for a chart axis: `950`, `1.2k`, `3.4M`. */
export function formatCompact(n: number | undefined | null): string {
  return absent(n)
    ? EMPTY
    : new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 }).format(n)
}

/** A duration in milliseconds: `850 ms`, `1.2 s`. */
export function formatMs(n: number | undefined | null): string {
  if (absent(n)) return EMPTY
  return n >= 1000 ? `${(n / 1000).toFixed(1)} s` : `${Math.round(n)} ms`
}

/** A share out of 100: `99.5%`; absent (no requests yet) reads `—`, never `0.0%`. */
export function formatPercent(n: number | undefined | null): string {
  return absent(n) ? EMPTY : `${n.toFixed(1)}%`
}

/** A moment, with its date: `Dec 6, 14:05`; with `seconds`, `Dec 6, 14:05:09`. */
export function formatDateTime(t: string | number | Date | undefined | null, seconds = false): string {
  if (t === undefined || t === null || t === '') return EMPTY
  const d = new Date(t)
  if (Number.isNaN(d.getTime())) return EMPTY
  return d.toLocaleString('en-US', {
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    ...(seconds ? { second: '2-digit' } : {}),
    hour12: false,
  })
}

/** A time of day for a short chart axis: `14:05`. */
export function formatTime(t: string | number | Date): string {
  return new Date(t).toLocaleTimeString('en-US', { hour: '2-digit', minute: '2-digit', hour12: false })
}
