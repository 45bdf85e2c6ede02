import { GatewayError } from '../core/errors.js'

/**
 * Bifrost's reset durations (`30s`, `5m`, `1h`, `1d`, `1w`, `1M`, `1Q`, `1Y`, `daily`...) and the
 * windows they cut time into. Everything is UTC and computed from numbers alone, so every node of a
 * cluster derives the same window from the same inputs.
 */

export type DurationUnit = 's' | 'm' | 'h' | 'd' | 'w' | 'M' | 'Q' | 'Y'

export interface ResetDuration {
  /** The text as given (`1M`, `monthly`). */
  text: string
  count: number
  unit: DurationUnit
  /** Rolling length in ms: a month counts 30 days, a quarter 90, a year 365 (as Bifrost). */
  ms: number
}

export interface ResetWindow {
  /** Inclusive, ms since the epoch. */
  start: number
  /** Exclusive: the next reset. */
  end: number
}

export interface WindowOptions {
  calendarAligned: boolean
  /** Where rolling windows are counted from: the last reset, or the owner's creation. */
  anchor: number
  now: number
  /** First month (1–12) of the quarter cycle for `Q` (Bifrost's `reset_config.quarter_start_month`). */
  quarterStartMonth?: number
}

const SECOND = 1000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR
const WEEK = 7 * DAY

const UNIT_MS: Readonly<Record<DurationUnit, number>> = {
  s: SECOND,
  m: MINUTE,
  h: HOUR,
  d: DAY,
  w: WEEK,
  M: 30 * DAY,
  Q: 90 * DAY,
  Y: 365 * DAY,
}

const ALIASES: ReadonlyMap<string, { count: number; unit: DurationUnit }> = new Map([
  ['daily', { count: 1, unit: 'd' }],
  ['weekly', { count: 1, unit: 'w' }],
  ['monthly', { count: 1, unit: 'M' }],
  ['quarterly', { count: 1, unit: 'Q' }],
  ['yearly', { count: 1, unit: 'Y' }],
])

const FORMAT = /^([1-9][0-9]{0,15})([smhdwMQY])$/
/** Keeps every window far inside the range of a JavaScript Date. */
const MAX_MS = 100 * 365 * DAY
const SUB_DAY: ReadonlySet<DurationUnit> = new Set(['s', 'm', 'h'])
/** 1969-12-29, the Monday of the week that holds the epoch: week 0 of aligned weeks. */
const FIRST_MONDAY = -3 * DAY

const ACCEPTED =
  'a positive whole number followed by s, m (minutes), h, d, w, M (months), Q (quarters) or Y (years), ' +
  'such as 30m, 1d or 1M, or one of daily, weekly, monthly, quarterly, yearly'

export function parseResetDuration(text: string, param = 'reset_duration'): ResetDuration {
  const parsed = readDuration(text)
  const shown = typeof text === 'string' ? JSON.stringify(text) : String(text)
  if (!parsed) {
    throw new GatewayError('invalid_request', `${param} ${shown} is not valid: use ${ACCEPTED}`, { param })
  }
  const ms = parsed.count * UNIT_MS[parsed.unit]
  if (ms > MAX_MS) {
    throw new GatewayError('invalid_request', `${param} ${shown} is longer than 100 years`, { param })
  }
  return { text, count: parsed.count, unit: parsed.unit, ms }
}

function readDuration(text: unknown): { count: number; unit: DurationUnit } | undefined {
  if (typeof text !== 'string') return undefined
  const alias = ALIASES.get(text)
  if (alias) return alias
  const m = FORMAT.exec(text)
  return m ? { count: Number(m[1]), unit: m[2] as DurationUnit } : undefined
}

/** Parses a duration from the API and checks it can be calendar-aligned when asked to be. */
export function validateResetDuration(
  text: string,
  calendarAligned: boolean,
  param = 'reset_duration',
): ResetDuration {
  const d = parseResetDuration(text, param)
  if (calendarAligned) assertAlignable(d, param)
  return d
}

/**
 * The window `now` falls in.
 *
 * Rolling: consecutive windows of `d.ms` from `anchor`; an anchor in the future (clock skew between
 * nodes) yields the first window, so a window never starts before its anchor.
 *
 * Calendar-aligned (UTC, anchor ignored): days start at 00:00, weeks on Monday, months on the 1st,
 * quarters on the 1st of Jan/Apr/Jul/Oct (or of `quarterStartMonth` and every third month after it),
 * years on 1 January, with real month lengths. A multiple (`2d`, `3M`, `2Y`) groups whole periods
 * counted from the period that holds the epoch (1970-01-01; week 0 is the week of Monday
 * 1969-12-29; for quarters, the cycle starting in `quarterStartMonth` of 1970), so `2Y` windows
 * start in even years and `2M` windows in odd-numbered months (Jan, Mar, May...).
 */
export function currentWindow(d: ResetDuration, opts: WindowOptions): ResetWindow {
  if (!opts.calendarAligned) {
    const k = Math.max(0, Math.floor((opts.now - opts.anchor) / d.ms))
    const start = opts.anchor + k * d.ms
    return { start, end: start + d.ms }
  }
  assertAlignable(d, 'reset_duration')
  const now = opts.now
  switch (d.unit) {
    case 'd':
      return alignedFixed(now, 0, DAY, d.count)
    case 'w':
      return alignedFixed(now, FIRST_MONDAY, WEEK, d.count)
    case 'M':
      return alignedMonths(now, d.count, 0)
    case 'Q':
      return alignedMonths(now, 3 * d.count, quarterOffset(opts.quarterStartMonth))
    default:
      return alignedMonths(now, 12 * d.count, 0)
  }
}

function assertAlignable(d: ResetDuration, param: string): void {
  if (SUB_DAY.has(d.unit)) {
    throw new GatewayError('invalid_request', 'calendar_aligned needs a reset_duration in d, w, M, Q or Y', {
      param,
    })
  }
}

function quarterOffset(startMonth: number | undefined): number {
  if (startMonth === undefined) return 0
  if (!Number.isInteger(startMonth) || startMonth < 1 || startMonth > 12) {
    throw new GatewayError('invalid_request', 'quarter_start_month must be a whole number from 1 to 12', {
      param: 'quarter_start_month',
    })
  }
  return startMonth - 1
}

/** Modulo that stays non-negative for instants before the epoch. */
function mod(a: number, n: number): number {
  return ((a % n) + n) % n
}

function alignedFixed(now: number, origin: number, period: number, count: number): ResetWindow {
  const index = Math.floor((now - origin) / period)
  const first = index - mod(index, count)
  const start = origin + first * period
  return { start, end: start + count * period }
}

/** `months` months per window, counted from January 1970 shifted by `offset` months. */
function alignedMonths(now: number, months: number, offset: number): ResetWindow {
  const date = new Date(now)
  const index = (date.getUTCFullYear() - 1970) * 12 + date.getUTCMonth() - offset
  const first = index - mod(index, months)
  // Date.UTC carries month numbers past 11 (or below 0) into the year.
  return { start: Date.UTC(1970, first + offset, 1), end: Date.UTC(1970, first + offset + months, 1) }
}
