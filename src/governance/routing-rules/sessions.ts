import type { ChangeBus } from '../../cluster/index.js'

/** What a session is pinned to: the provider, model and key that first served it. */
export interface SessionPin {
  provider: string
  model: string
  keyId: string | null
  /** The model string the caller sent: a session that asks for another model is routed afresh. */
  requested: string
}

interface Entry {
  pin: SessionPin
  expiresAt: number
}

export const SESSIONS_TOPIC = 'routing.sessions'
const MAX_SESSIONS = 100_000

/**
 * Session pins (`x-bf-session-id`), held in memory on every node and shared over the change bus
 * (Redis pub/sub with several nodes): a pin made on one node is on the others a moment later.
 * A node started later learns a session's pin from its next request served elsewhere.
 */
export class SessionPins {
  private readonly entries = new Map<string, Entry>()
  private readonly unsubscribe: () => void

  constructor(
    private readonly bus: ChangeBus,
    private readonly now: () => number = Date.now,
  ) {
    this.unsubscribe = bus.subscribe(SESSIONS_TOPIC, (m) => {
      const msg = m as { id?: unknown; pin?: SessionPin; expiresAt?: unknown }
      if (typeof msg?.id !== 'string' || !msg.pin || typeof msg.expiresAt !== 'number') return
      this.store(msg.id, { pin: msg.pin, expiresAt: msg.expiresAt })
    })
  }

  get(id: string): SessionPin | undefined {
    const e = this.entries.get(id)
    if (!e) return undefined
    if (e.expiresAt <= this.now()) {
      this.entries.delete(id)
      return undefined
    }
    return e.pin
  }

  /** Pins (or re-pins) a session; told to the other nodes when the pin changed or half its time is gone. */
  async set(id: string, pin: SessionPin, ttlMs: number): Promise<void> {
    const expiresAt = this.now() + ttlMs
    const current = this.entries.get(id)
    const same = current !== undefined && samePin(current.pin, pin)
    if (same && current.expiresAt - this.now() > ttlMs / 2) return
    this.store(id, { pin, expiresAt })
    await this.bus.publish(SESSIONS_TOPIC, { id, pin, expiresAt })
  }

  close(): void {
    this.unsubscribe()
  }

  private store(id: string, entry: Entry): void {
    this.entries.delete(id)
    this.entries.set(id, entry)
    if (this.entries.size > MAX_SESSIONS) {
      const oldest = this.entries.keys().next().value
      if (oldest !== undefined) this.entries.delete(oldest)
    }
  }
}

function samePin(a: SessionPin, b: SessionPin): boolean {
  return (
    a.provider === b.provider && a.model === b.model && a.keyId === b.keyId && a.requested === b.requested
  )
}
