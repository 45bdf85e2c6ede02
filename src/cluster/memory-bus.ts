import { addHandler, deliver } from './topic-handlers.js'
import type { ChangeBus, ChangeHandler, ClusterErrorHandler } from './types.js'

/** Change events of a single node. Like the Redis bus, it delivers a JSON copy, asynchronously. */
export class MemoryChangeBus implements ChangeBus {
  private readonly handlers = new Map<string, Set<ChangeHandler>>()
  private closed = false

  constructor(private readonly onError?: ClusterErrorHandler) {}

  async publish(topic: string, message: unknown): Promise<void> {
    const payload = JSON.stringify(message ?? null)
    setImmediate(() => {
      if (!this.closed) deliver(this.handlers.get(topic), topic, JSON.parse(payload), this.onError)
    })
  }

  subscribe(topic: string, handler: ChangeHandler): () => void {
    return addHandler(this.handlers, topic, handler)
  }

  onReconnect(): () => void {
    return () => undefined
  }

  async close(): Promise<void> {
    this.closed = true
    this.handlers.clear()
  }
}
