import { createHash } from 'node:crypto'
import type {
  Customer,
  GovernanceSnapshot,
  ModelConfig,
  ProviderGovernance,
  Team,
  VirtualKeyRecord,
} from './model.js'

export function hashVirtualKey(value: string): string {
  return createHash('sha256').update(value).digest('hex')
}

/** Hashes of the values seen lately: every governed request looks its key up by hash. */
const recentHashes = new Map<string, string>()
const RECENT_HASHES_MAX = 10_000

function cachedHash(value: string): string {
  let hash = recentHashes.get(value)
  if (hash === undefined) {
    // Bounded: a flood of made-up values empties it rather than growing it.
    if (recentHashes.size >= RECENT_HASHES_MAX) recentHashes.clear()
    hash = hashVirtualKey(value)
    recentHashes.set(value, hash)
  }
  return hash
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
  /** Rotated keys by the hash of their previous value, while it still works. */
  private previous = new Map<string, VirtualKeyRecord>()
  private providers = new Map<string, ProviderGovernance>()
  /** Model configs by model_name (`*` included). */
  private models = new Map<string, ModelConfig[]>()
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
    const previous = new Map<string, VirtualKeyRecord>()
    for (const vk of snapshot.virtualKeys)
      if (vk.previous_value_hash && vk.previous_value_expires_at) previous.set(vk.previous_value_hash, vk)
    this.previous = previous
    const models = new Map<string, ModelConfig[]>()
    for (const mc of snapshot.modelConfigs ?? []) {
      const list = models.get(mc.model_name)
      if (list) list.push(mc)
      else models.set(mc.model_name, [mc])
    }
    this.models = models
    this.providers = new Map((snapshot.providerGovernance ?? []).map((p) => [p.provider, p]))
    this.loadedAt = Date.now()
  }

  /** A rotated key's previous value also finds it until the rotation cooldown has passed. */
  virtualKeyByValue(value: string, now = Date.now()): VirtualKeyRecord | undefined {
    const hash = cachedHash(value)
    const vk = this.byHash.get(hash)
    if (vk || this.previous.size === 0) return vk
    const rotated = this.previous.get(hash)
    return rotated && Date.parse(rotated.previous_value_expires_at ?? '') > now ? rotated : undefined
  }

  /** Whether any model config or provider governance exists: admission skips their lookup when none does. */
  get hasDeploymentLimits(): boolean {
    return this.models.size > 0 || this.providers.size > 0
  }

  providerGovernance(provider: string): ProviderGovernance | undefined {
    return this.providers.get(provider)
  }

  /** The model configs named for this model and for `*`, in creation order within each. */
  modelConfigs(model: string): readonly ModelConfig[] {
    const exact = this.models.get(model)
    const all = this.models.get('*')
    if (!all) return exact ?? []
    return exact ? [...exact, ...all] : all
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
