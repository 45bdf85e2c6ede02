import type { ChangeBus, SharedRecords } from '../cluster/index.js'
import type { CircuitTransition, HealthTracker, TargetWindow } from '../core/router/health.js'
import type { ProviderRegistry } from '../core/router/registry.js'
import type { ProviderAdapter } from '../providers/index.js'

/** Circuit changes, told to every node (Redis pub/sub with several). */
export const HEALTH_TOPIC = 'providers.health'
/** Each node's windows of the targets that changed, a few times a second. */
export const WINDOWS_TOPIC = 'providers.health.windows'
/** An administrator's reset of circuits. */
export const RESET_TOPIC = 'providers.health.reset'
/** Where open circuits are kept, for a node that starts later (or after Redis lost them). */
export const OPEN_CIRCUITS = 'open-circuits'
/** How often a node publishes its changed windows. */
export const WINDOWS_EVERY_MS = 300

export interface HealthSharingDeps {
  health: HealthTracker
  registry: ProviderRegistry<ProviderAdapter>
  bus: ChangeBus
  records: SharedRecords
  onError?: (err: Error, what: string) => void
}

export interface ResetRequest {
  provider: string
  key_id?: string
  model?: string
}

export interface HealthSharing {
  /**
   * Closes the circuits here at once and on the other nodes: how many were not closed here, and
   * whether the other nodes were told (not while Redis is down; they keep theirs until they expire).
   */
  reset(req: ResetRequest): Promise<{ reset: number; shared: boolean }>
  /** Learns the circuits open now from the shared records. */
  load(): Promise<void>
  stop(): void
}

/**
 * Provider health held across nodes, off the request path: circuit changes go over the change bus
 * and, while open, into the shared records; each node publishes its changed windows every
 * WINDOWS_EVERY_MS and merges the others' (the breaker's error rate and consecutive failures, and
 * adaptive weights, count every node's requests). Without Redis (or while it is down) a node goes by
 * its own view: the others' windows expire after one window.
 */
export function shareHealth(deps: HealthSharingDeps): HealthSharing {
  const { health, registry, bus, records } = deps
  const failed = (what: string) => (err: unknown) =>
    deps.onError?.(err instanceof Error ? err : new Error(String(err)), what)
  const configOf = (provider: unknown) =>
    typeof provider === 'string' ? registry.get(provider)?.config : undefined

  const offTransition = health.onTransition((t) => {
    void bus.publish(HEALTH_TOPIC, t).catch(failed('publishing a circuit change'))
    const id = circuitId(t)
    const stored =
      t.state === 'open' && t.openUntil !== undefined
        ? records.put(OPEN_CIRCUITS, id, t, t.openUntil - Date.now())
        : records.delete(OPEN_CIRCUITS, [id])
    void stored.catch(failed('storing an open circuit'))
  })
  const unsubscribe = [
    bus.subscribe(HEALTH_TOPIC, (m) => applyTransition(m)),
    bus.subscribe(WINDOWS_TOPIC, (m) => {
      const msg = m as { node?: unknown; windows?: unknown }
      if (typeof msg?.node !== 'string' || msg.node === health.node || !Array.isArray(msg.windows)) return
      for (const w of msg.windows as Partial<TargetWindow>[]) {
        const config = configOf(w?.provider)
        if (config && isWindow(w)) health.mergeWindow(msg.node, w, config)
      }
    }),
    bus.subscribe(RESET_TOPIC, (m) => {
      const msg = m as ResetRequest & { node?: string }
      if (msg?.node !== health.node && typeof msg?.provider === 'string')
        health.reset(msg.provider, msg.key_id, msg.model)
    }),
    // Redis came back (perhaps empty): re-store what is open here, then learn what others stored.
    bus.onReconnect(() => {
      const open = health.openCircuits()
      void Promise.all(
        open.map((t) => records.put(OPEN_CIRCUITS, circuitId(t), t, t.openUntil! - Date.now())),
      )
        .then(() => load())
        .catch(failed('re-storing open circuits'))
    }),
  ]

  function applyTransition(m: unknown): void {
    const msg = m as Partial<CircuitTransition>
    if (typeof msg?.keyId !== 'string' || typeof msg.model !== 'string') return
    const config = configOf(msg.provider)
    if (config) health.applyRemote(msg as CircuitTransition, config)
  }

  async function load(): Promise<void> {
    const now = Date.now()
    for (const { value } of await records.list(OPEN_CIRCUITS)) {
      const t = value as Partial<CircuitTransition>
      if (t?.state === 'open' && typeof t.openUntil === 'number' && t.openUntil > now) applyTransition(t)
    }
  }

  // One publication at a time: while Redis is down, each fails within its command timeout.
  let publishing = false
  const timer = setInterval(() => {
    if (publishing) return
    const windows = health.windows()
    if (windows.length === 0) return
    publishing = true
    bus
      .publish(WINDOWS_TOPIC, { node: health.node, windows })
      // Redis is down: the cluster logs that; the other nodes' views expire and they go by their own.
      .catch(() => undefined)
      .finally(() => (publishing = false))
  }, WINDOWS_EVERY_MS)
  timer.unref()

  return {
    async reset(req) {
      const reset = health.reset(req.provider, req.key_id, req.model)
      try {
        const ids = (await records.list(OPEN_CIRCUITS))
          .filter(({ value }) => matches(value as CircuitTransition, req))
          .map(({ id }) => id)
        await records.delete(OPEN_CIRCUITS, ids)
        await bus.publish(RESET_TOPIC, { ...req, node: health.node })
        return { reset, shared: true }
      } catch (err) {
        failed('sharing a circuit reset')(err)
        return { reset, shared: false }
      }
    },
    load,
    stop() {
      clearInterval(timer)
      offTransition()
      for (const off of unsubscribe) off()
    },
  }
}

function circuitId(t: Pick<CircuitTransition, 'provider' | 'keyId' | 'model'>): string {
  return JSON.stringify([t.provider, t.keyId, t.model])
}

function matches(t: CircuitTransition, req: ResetRequest): boolean {
  return (
    t?.provider === req.provider &&
    (req.key_id === undefined || t.keyId === req.key_id) &&
    (req.model === undefined || t.model === req.model)
  )
}

const WINDOW_NUMBERS = ['req', 'err', 'rl', 'to', 'lat', 'consecutive', 'ewmaMs'] as const

function isWindow(w: Partial<TargetWindow>): w is TargetWindow {
  return (
    typeof w.keyId === 'string' &&
    typeof w.keyName === 'string' &&
    typeof w.model === 'string' &&
    WINDOW_NUMBERS.every((f) => typeof w[f] === 'number' && Number.isFinite(w[f]) && w[f] >= 0)
  )
}
