import { GatewayError } from '../core/errors.js'
import type { LimitCheck } from './types.js'

/**
 * Amounts are kept as integers of nano-units (1e-9): a dollar figure never drifts by float error,
 * and the cheapest per-request costs (a few tokens at $0.01 per million) still count. Redis adds
 * them as 64-bit integers, which bounds a counter window at about 9.2 billion (dollars, tokens or
 * requests); one amount may not exceed MAX_AMOUNT.
 */
export const UNITS_PER_ONE = 1_000_000_000n
const UNITS = 1e9
export const MAX_AMOUNT = 1e9

/** Below this, a whole amount times UNITS is an exact integer in a double (2^53 / 1e9). */
const EXACT_WHOLE = 9_007_199

export function toUnits(value: number): bigint {
  // Whole amounts (requests, tokens, most limits) take one conversion instead of three BigInts.
  if (Number.isInteger(value) && value <= EXACT_WHOLE && value >= -EXACT_WHOLE) return BigInt(value * UNITS)
  const whole = Math.trunc(value)
  return BigInt(whole) * UNITS_PER_ONE + BigInt(Math.round((value - whole) * UNITS))
}

export function fromUnits(units: bigint): number {
  const n = Number(units)
  // One division is correctly rounded, so 1230000000n reads back as exactly 1.23.
  if (Number.isSafeInteger(n)) return n / UNITS
  return Number(units / UNITS_PER_ONE) + Number(units % UNITS_PER_ONE) / UNITS
}

/** Windows longer than this (about a century) are kept forever: "never resets". */
const NEVER_EXPIRES_BEYOND_MS = 100 * 365 * 24 * 3_600_000

/** How long a window's data is kept after its last write: the window plus a margin for late settles and clock skew. */
export function windowExpiryMs(windowMs: number): number {
  if (!(windowMs > 0) || windowMs > NEVER_EXPIRES_BEYOND_MS) return 0
  return Math.ceil(windowMs + Math.min(Math.max(windowMs, 60_000), 3_600_000))
}

/** A reservation's record outlives its hold by this much, so a slow request that settles late is still charged. */
export const RECORD_GRACE_MS = 3_600_000

function invalid(message: string): GatewayError {
  return new GatewayError('internal', `cluster counters: ${message}`)
}

/** Whether an amount is a finite number within bounds (negative only where allowed). */
function validAmount(value: number, allowNegative: boolean): boolean {
  return (
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (allowNegative || value >= 0) &&
    Math.abs(value) <= MAX_AMOUNT
  )
}

export function checkAmount(name: string, value: number, allowNegative = false): void {
  if (validAmount(value, allowNegative)) return
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(`${name} must be a finite number`)
  if (!allowNegative && value < 0) throw invalid(`${name} must not be negative`)
  throw invalid(`${name} must not exceed ${MAX_AMOUNT}`)
}

/** A settle's actual amounts; an argument's name is only written out for the error. */
export function checkActuals(actual: readonly number[]): void {
  for (let i = 0; i < actual.length; i++)
    if (!validAmount(actual[i], false)) checkAmount(`actual[${i}]`, actual[i])
}

export function checkWindow(counter: string, windowStart: number, windowMs = 0): void {
  if (typeof counter !== 'string' || counter === '') throw invalid('counter must be a non-empty string')
  if (!Number.isFinite(windowStart)) throw invalid(`windowStart of ${counter} must be a finite number`)
  if (typeof windowMs !== 'number' || Number.isNaN(windowMs))
    throw invalid(`windowMs of ${counter} must be a number`)
}

export function checkLimitCheck(c: LimitCheck, i: number): void {
  checkWindow(c.counter, c.windowStart, c.windowMs)
  if (typeof c.limit !== 'number' || Number.isNaN(c.limit) || c.limit === -Infinity) {
    throw invalid(`limit of check ${i} must be a finite number or Infinity`)
  }
  if (!validAmount(c.amount, false)) checkAmount(`amount of check ${i}`, c.amount)
}

export function checkTtl(ttlMs: number): void {
  if (!(ttlMs > 0) || !Number.isFinite(ttlMs)) throw invalid('ttlMs must be a positive number')
}
