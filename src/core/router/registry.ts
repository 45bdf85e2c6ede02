import { GatewayError } from '../errors.js'
import type { ProviderConfig } from '../schemas/index.js'

/** Provider names key plain objects elsewhere (config files, budgets): none may be one of Object's own. */
export function isReservedProviderName(name: string): boolean {
  return name in Object.prototype
}

/** What the registry needs from the providers module: an adapter per configured provider. */
export interface AdapterSource<A> {
  create(cfg: ProviderConfig): A
  isKnown(name: string): boolean
}

export interface RegisteredProvider<A> {
  config: ProviderConfig
  adapter: A
}

/**
 * The providers in memory, as the hot path reads them. The store and the management API write
 * here; nothing on the request path touches the database.
 */
export class ProviderRegistry<A> {
  private entries = new Map<string, RegisteredProvider<A>>()
  private listeners = new Set<(name: string) => void>()

  constructor(private source: AdapterSource<A>) {}

  /** Adds or replaces a provider; throws a 400 if its type is unknown or its name is reserved. */
  set(cfg: ProviderConfig): void {
    if (isReservedProviderName(cfg.name)) {
      throw new GatewayError('unknown_provider', `unknown provider ${cfg.name}: the name is reserved`, {
        param: 'provider',
      })
    }
    if (!cfg.custom_provider_config && !this.source.isKnown(cfg.name)) {
      throw new GatewayError('unknown_provider', `unknown provider ${cfg.name}`, { param: 'provider' })
    }
    this.entries.set(cfg.name, { config: cfg, adapter: this.source.create(cfg) })
    for (const l of this.listeners) l(cfg.name)
  }

  delete(name: string): boolean {
    const had = this.entries.delete(name)
    if (had) for (const l of this.listeners) l(name)
    return had
  }

  get(name: string): RegisteredProvider<A> | undefined {
    return this.entries.get(name)
  }

  has(name: string): boolean {
    return this.entries.has(name)
  }

  list(): RegisteredProvider<A>[] {
    return [...this.entries.values()]
  }

  isKnown(name: string): boolean {
    return this.source.isKnown(name)
  }

  /** Called with a provider's name whenever it is added, replaced or removed. */
  onChange(listener: (name: string) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }
}
