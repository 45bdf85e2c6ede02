/**
 * Operational events that operators may subscribe webhook endpoints to. Emitted where they happen
 * (governance, the router's health tracker, the async jobs) and delivered by src/webhooks, which
 * core does not know: whoever assembles the gateway connects the two.
 */
export interface GatewayEventMap {
  /** A request was refused because a budget is spent; once per budget and reset window per node. */
  'budget.exhausted': {
    budget_id: string
    scope: string
    scope_id: string
    scope_name: string
    max_limit: number
    used: number
    reset_duration: string
    reset_at: string
  }
  /** A virtual key's value was rotated (its new value is never part of the event). */
  'virtual_key.rotated': { virtual_key_id: string }
  /** A provider key's circuit opened for a model: requests go to its other keys until it closes. */
  'provider.circuit_opened': {
    provider: string
    key_id: string
    key_name: string
    model: string
    reason: string
    open_until?: string
  }
}

export type GatewayEventName = keyof GatewayEventMap

/** Every event name operators may subscribe to, the async job ones included. */
export const GATEWAY_EVENT_NAMES: readonly string[] = [
  'async_job.completed',
  'async_job.failed',
  'budget.exhausted',
  'virtual_key.rotated',
  'provider.circuit_opened',
]

type Listener = <K extends GatewayEventName>(name: K, data: GatewayEventMap[K]) => void

/** A small synchronous emitter; a listener that throws does not reach the emitter. */
export class GatewayEvents {
  private readonly listeners = new Set<Listener>()

  on(listener: Listener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  emit<K extends GatewayEventName>(name: K, data: GatewayEventMap[K]): void {
    for (const l of this.listeners) {
      try {
        l(name, data)
      } catch {
        // The emitter is on a request's path: a listener's fault must not become the request's.
      }
    }
  }
}
