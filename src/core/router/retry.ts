import { onAbort, type CancelSignal } from '../cancel.js'

/** Exponential backoff with jitter: min(initial * 2^attempt, max) * [0.8, 1.2). */
export function backoffMs(
  attempt: number,
  initialMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const base = Math.min(initialMs * 2 ** attempt, maxMs)
  return Math.round(base * (0.8 + random() * 0.4))
}

/** Waits, unless the signal aborts first (then rejects with the signal's reason). */
export function sleep(ms: number, signal: CancelSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve()
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason)
    const timer = setTimeout(() => {
      stop()
      resolve()
    }, ms)
    const stop = onAbort(signal, () => {
      clearTimeout(timer)
      reject(signal.reason)
    })
  })
}
