import type { LimitCheck } from '../cluster/index.js'
import { currentWindow, parseResetDuration } from './durations.js'
import type { Budget, RateLimit } from './model.js'

/** Who a budget or rate limit belongs to, for messages that say which scope tripped. */
export interface Scope {
  kind: 'virtual_key' | 'provider_config' | 'team' | 'customer' | 'provider' | 'model_config'
  id: string
  name: string
}

export type LimitKind = 'budget' | 'requests' | 'tokens'

/** One limit to check at admission, with what is needed to explain a refusal. */
export interface PlannedCheck {
  check: LimitCheck
  kind: LimitKind
  scope: Scope
  /** The limit's own id (budget id or rate limit id). */
  limitId: string
  duration: string
  windowStart: number
  windowEnd: number
}

export function budgetCounter(id: string): string {
  return counterName(budgetCounters, 'budget:', id, '')
}

export function rateLimitCounter(id: string, kind: 'requests' | 'tokens'): string {
  return kind === 'requests'
    ? counterName(requestCounters, 'rl:', id, ':req')
    : counterName(tokenCounters, 'rl:', id, ':tok')
}

// A limit's counter is named once: each request then hands the counters and the usage persistence
// the same string, whose hash is kept, instead of a new string to hash for every check.
const budgetCounters = new Map<string, string>()
const requestCounters = new Map<string, string>()
const tokenCounters = new Map<string, string>()

function counterName(names: Map<string, string>, prefix: string, id: string, suffix: string): string {
  let name = names.get(id)
  if (name === undefined) {
    if (names.size >= MAX_WINDOWS) names.clear()
    name = `${prefix}${id}${suffix}`
    names.set(id, name)
  }
  return name
}

const SUB_DAY = new Set(['s', 'm', 'h'])

/** The current window of a reset duration, anchored at the limit's last reset (or creation). */
export function windowFor(
  duration: string,
  calendarAligned: boolean,
  anchorIso: string | undefined,
  now: number,
): LimitWindow {
  // Every request asks for the same few windows: each is computed once and reused until it ends,
  // found by anchor, then duration (no key string built and hashed per check).
  let byDuration = windows.get(anchorIso ?? '')
  const pair = byDuration?.get(duration)
  const last = pair?.[calendarAligned ? 1 : 0]
  if (last !== undefined && now >= last.start && now < last.end) return last
  const w = computeWindow(duration, calendarAligned, anchorIso, now)
  if (windowCount >= MAX_WINDOWS) {
    windows.clear()
    windowCount = 0
    byDuration = undefined
  }
  if (!byDuration) windows.set(anchorIso ?? '', (byDuration = new Map()))
  let slots = byDuration.get(duration)
  if (!slots) {
    byDuration.set(duration, (slots = [undefined, undefined]))
    windowCount++
  }
  slots[calendarAligned ? 1 : 0] = w
  return w
}

interface LimitWindow {
  start: number
  end: number
  ms: number
}

const MAX_WINDOWS = 10_000
/** By anchor, then duration: the window of each alignment (not aligned, aligned). */
const windows = new Map<string, Map<string, [LimitWindow | undefined, LimitWindow | undefined]>>()
let windowCount = 0

export function computeWindow(
  duration: string,
  calendarAligned: boolean,
  anchorIso: string | undefined,
  now: number,
): LimitWindow {
  const d = parseResetDuration(duration)
  const anchor = anchorIso ? Date.parse(anchorIso) : 0
  // As in Bifrost, calendar alignment does not apply to windows shorter than a day.
  const aligned = calendarAligned && !SUB_DAY.has(d.unit)
  const w = currentWindow(d, { calendarAligned: aligned, anchor: Number.isNaN(anchor) ? 0 : anchor, now })
  return { ...w, ms: d.ms }
}

/** Whether the budget's override raises its cap at `now`: `forever`, or `cycles` before its last window ends. */
export function overrideActive(b: Budget, now: number): boolean {
  if (b.override_amount === undefined || b.override_amount <= 0) return false
  if (b.override_mode === 'forever') return true
  return (
    b.override_mode === 'cycles' &&
    b.override_expires_at !== undefined &&
    now < expiryMs(b.override_expires_at)
  )
}

// Each admission reads the end of a `cycles` override: parsed once per value (Date.parse costs
// about 1.5 µs), not per request.
const expiries = new Map<string, number>()
function expiryMs(iso: string): number {
  let ms = expiries.get(iso)
  if (ms === undefined) {
    if (expiries.size >= MAX_WINDOWS) expiries.clear()
    ms = Date.parse(iso)
    expiries.set(iso, ms)
  }
  return ms
}

/** Bifrost's EffectiveMaxLimit: max_limit, plus the override's amount while it is active. */
export function effectiveMaxLimit(b: Budget, now: number): number {
  return overrideActive(b, now) ? b.max_limit + (b.override_amount ?? 0) : b.max_limit
}

export function planBudget(b: Budget, scope: Scope, amount: number, now: number): PlannedCheck {
  const w = windowFor(b.reset_duration, b.calendar_aligned, b.last_reset ?? b.created_at, now)
  return {
    check: {
      counter: budgetCounter(b.id),
      windowStart: w.start,
      windowMs: w.end - w.start,
      limit: effectiveMaxLimit(b, now),
      amount,
    },
    kind: 'budget',
    scope,
    limitId: b.id,
    duration: b.reset_duration,
    windowStart: w.start,
    windowEnd: w.end,
  }
}

const ONE_REQUEST = () => 1

/** A rate limit's columns for each half. */
const HALVES = {
  requests: { max: 'request_max_limit', duration: 'request_reset_duration', last: 'request_last_reset' },
  tokens: { max: 'token_max_limit', duration: 'token_reset_duration', last: 'token_last_reset' },
} as const

/** The request and token halves of a rate limit, each only when it has both a limit and a duration. */
export function planRateLimit(
  rl: RateLimit,
  scope: Scope,
  tokens: () => number,
  now: number,
): PlannedCheck[] {
  const out: PlannedCheck[] = []
  const requests = planRateLimitHalf(rl, scope, 'requests', ONE_REQUEST, now)
  if (requests) out.push(requests)
  const tokenCheck = planRateLimitHalf(rl, scope, 'tokens', tokens, now)
  if (tokenCheck) out.push(tokenCheck)
  return out
}

function planRateLimitHalf(
  rl: RateLimit,
  scope: Scope,
  kind: 'requests' | 'tokens',
  amount: () => number,
  now: number,
): PlannedCheck | undefined {
  const columns = HALVES[kind]
  const max = rl[columns.max]
  const duration = rl[columns.duration]
  if (max == null || !duration) return undefined
  const w = windowFor(duration, false, rl[columns.last] ?? rl.created_at, now)
  return {
    check: {
      counter: rateLimitCounter(rl.id, kind),
      windowStart: w.start,
      windowMs: w.end - w.start,
      limit: max,
      amount: amount(),
    },
    kind,
    scope,
    limitId: rl.id,
    duration,
    windowStart: w.start,
    windowEnd: w.end,
  }
}
