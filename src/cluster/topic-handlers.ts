import type { ChangeHandler, ClusterErrorHandler } from './types.js'

/** Subscribers per topic, shared by both buses. */
export function addHandler(
  handlers: Map<string, Set<ChangeHandler>>,
  topic: string,
  handler: ChangeHandler,
): () => void {
  let set = handlers.get(topic)
  if (!set) handlers.set(topic, (set = new Set()))
  // Wrapped, so that subscribing the same function twice gives two independent subscriptions.
  const entry: ChangeHandler = (message) => handler(message)
  set.add(entry)
  return () => {
    set.delete(entry)
    if (set.size === 0 && handlers.get(topic) === set) handlers.delete(topic)
  }
}

/** Calls every handler; one that throws is reported and does not keep the message from the others. */
export function deliver(
  set: Set<ChangeHandler> | undefined,
  topic: string,
  message: unknown,
  onError: ClusterErrorHandler | undefined,
): void {
  if (!set) return
  for (const handler of [...set]) {
    // One handler may unsubscribe another while the message is delivered.
    if (!set.has(handler)) continue
    try {
      handler(message)
    } catch (err) {
      onError?.(err instanceof Error ? err : new Error(String(err)), `handler of ${topic}`)
    }
  }
}
