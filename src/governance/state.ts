import { createHash } from 'node:crypto'
import type { Customer, GovernanceSnapshot, Team, VirtualKeyRecord } from './model.js'

export function hashVirtualKey(value: string): string {
  return createHash('sha256').update(value).digest('hex')
}

/**
 * The governance configuration in memory, as the hot path reads it: virtual keys by the hash of
 * their value, teams and customers by id. Rebuilt whole from the store on every change event;
 * requests in flight keep the snapshot they started with.
 */
export class GovernanceState {
  private byHash = new Map<string, VirtualKeyRecord>()
  private byId = new Map<string, VirtualKeyRecord>()
  private teams = new Map<string, Team>()
  private customers = new Map<string, Customer>()
  private loading: Promise<void> | undefined
  private again = false
  loadedAt = 0

  constructor(private load: () => Promise<GovernanceSnapshot>) {}

  /** Reloads from the store; concurrent calls share one load, and a call during a load queues one more. */
  reload(): Promise<void> {
    if (this.loading) {
      this.again = true
      return this.loading
    }
    this.loading = (async () => {
      try {
        do {
          this.again = false
          this.apply(await this.load())
        } while (this.again)
      } finally {
        this.loading = undefined
      }
    })()
    return this.loading
  }

  apply(snapshot: GovernanceSnapshot): void {
    const byHash = new Map<string, VirtualKeyRecord>()
    const byId = new Map<string, VirtualKeyRecord>()
    for (const vk of snapshot.virtualKeys) {
      byHash.set(vk.value_hash, vk)
      byId.set(vk.id, vk)
    }
    this.byHash = byHash
    this.byId = byId
    this.teams = new Map(snapshot.teams.map((t) => [t.id, t]))
    this.customers = new Map(snapshot.customers.map((c) => [c.id, c]))
    this.loadedAt = Date.now()
  }

  virtualKeyByValue(value: string): VirtualKeyRecord | undefined {
    return this.byHash.get(hashVirtualKey(value))
  }

  virtualKey(id: string): VirtualKeyRecord | undefined {
    return this.byId.get(id)
  }

  team(id: string | null | undefined): Team | undefined {
    return id ? this.teams.get(id) : undefined
  }

  customer(id: string | null | undefined): Customer | undefined {
    return id ? this.customers.get(id) : undefined
  }

  get size(): number {
    return this.byId.size
  }
}
