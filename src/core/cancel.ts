/**
 * A request's cancellation: aborted when the client goes away. It is an AbortSignal in all but
 * cost — Node's AbortController and EventTarget take a few microseconds per request, this takes
 * an object. undici accepts it as an event-emitter signal; `onAbort` serves both kinds.
 */
export class Cancellation {
  aborted = false
  reason: unknown = undefined
  private listeners: (() => void)[] | undefined

  abort(reason?: unknown): void {
    if (this.aborted) return
    this.aborted = true
    this.reason = reason ?? new Error('the request was cancelled')
    const listeners = this.listeners
    this.listeners = undefined
    if (listeners) for (const l of listeners) l()
  }

  /** EventEmitter-style, as undici uses it. */
  on(_event: 'abort', listener: () => void): this {
    ;(this.listeners ??= []).push(listener)
    return this
  }

  once(event: 'abort', listener: () => void): this {
    return this.on(event, listener)
  }

  removeListener(_event: 'abort', listener: () => void): this {
    const i = this.listeners?.indexOf(listener) ?? -1
    if (i !== -1) this.listeners!.splice(i, 1)
    return this
  }

  off(event: 'abort', listener: () => void): this {
    return this.removeListener(event, listener)
  }
}

export type CancelSignal = AbortSignal | Cancellation

/** Calls `listener` once when the signal aborts; returns the function that stops listening. */
export function onAbort(signal: CancelSignal, listener: () => void): () => void {
  if (signal instanceof Cancellation) {
    signal.once('abort', listener)
    return () => signal.removeListener('abort', listener)
  }
  signal.addEventListener('abort', listener, { once: true })
  return () => signal.removeEventListener('abort', listener)
}
