import { GatewayError } from '../core/errors.js'

/** Failed attempts an address may make before it has to wait. */
const FREE_FAILURES = 9
/** The wait after the first failure past the free ones; it doubles with each further failure. */
const FIRST_DELAY_MS = 1000
const MAX_DELAY_MS = 60 * 1000
/** Failures older than this are forgotten. */
const FORGET_AFTER_MS = 60 * 60 * 1000
const MAX_TRACKED_ADDRESSES = 10_000

interface Failures {
  count: number
  last: number
  /** No attempt is checked before then. */
  waitUntil: number
}

/**
 * Failed admin logins per address, for every route that accepts the admin's credentials (/api,
 * /metrics, /ws/logs): after nine free failures, each further one makes the address wait 1 s, 2 s,
 * 4 s … up to a minute before its next attempt is checked. A back-off, not a lock-out: once the wait
 * is over the right password works, so an address shared behind a proxy cannot lock the admin out.
 * Kept per process: a node counts the attempts it sees.
 */
export class LoginThrottle {
  private readonly entries = new Map<string, Failures>()

  constructor(private readonly now: () => number = Date.now) {}

  /** Throws a 429 (with Retry-After) while the address has to wait. */
  check(address: string): void {
    const entry = this.entries.get(address)
    const wait = entry ? entry.waitUntil - this.now() : 0
    if (wait > 0) {
      throw new GatewayError(
        'rate_limited',
        `too many failed login attempts; retry in ${Math.ceil(wait / 1000)} s`,
        { retryAfterMs: wait, isBifrostError: false },
      )
    }
  }

  failed(address: string): void {
    const at = this.now()
    let entry = this.entries.get(address)
    if (!entry || at - entry.last > FORGET_AFTER_MS) {
      if (!entry && this.entries.size >= MAX_TRACKED_ADDRESSES) this.prune(at)
      entry = { count: 0, last: at, waitUntil: 0 }
      this.entries.set(address, entry)
    }
    entry.count += 1
    entry.last = at
    const past = entry.count - FREE_FAILURES
    if (past > 0) entry.waitUntil = at + Math.min(FIRST_DELAY_MS * 2 ** Math.min(past - 1, 20), MAX_DELAY_MS)
  }

  succeeded(address: string): void {
    this.entries.delete(address)
  }

  private prune(at: number): void {
    for (const [address, entry] of this.entries) {
      if (entry.waitUntil <= at && at - entry.last > FORGET_AFTER_MS) this.entries.delete(address)
    }
    // Still full: forget the oldest, rather than grow without bound.
    for (const address of this.entries.keys()) {
      if (this.entries.size < MAX_TRACKED_ADDRESSES) break
      this.entries.delete(address)
    }
  }
}
