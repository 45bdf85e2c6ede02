import type { ProviderRegistry } from '../core/router/registry.js'
import type { Logger } from '../observability/logger.js'
import type { ProviderAdapter } from '../providers/index.js'
import {
  ConfigReloads,
  readConfigVersion,
  reconcileIntervalMs,
  stableJson,
  type ConfigStore,
  type StoreSpec,
} from '../store/index.js'

/**
 * The reloads of this node's in-memory configuration: on change events, retried after failures,
 * and on a timer when the store's change counter moved (PostgreSQL, shared with other nodes).
 */
export function createStoreReloads(store: ConfigStore, spec: StoreSpec, logger: Logger): ConfigReloads {
  return new ConfigReloads({
    readVersion: () => readConfigVersion(store.db),
    intervalMs: store.kind === 'postgres' ? reconcileIntervalMs(spec) : 0,
    onError: (err, what) => logger.warn({ err: err.message }, `${what} failed; trying again`),
  })
}

/** Makes the registry hold the stored providers: changed ones replaced, removed ones removed. */
export async function syncProviders(
  store: ConfigStore,
  registry: ProviderRegistry<ProviderAdapter>,
  logger: Logger,
): Promise<void> {
  const stored = await store.listProviders()
  const names = new Set(stored.map((p) => p.name))
  for (const cfg of stored) {
    if (stableJson(registry.get(cfg.name)?.config) === stableJson(cfg)) continue
    try {
      registry.set(cfg)
    } catch (err) {
      // A stored provider this version cannot serve stays out, as at start.
      logger.error({ provider: cfg.name, err: (err as Error).message }, 'stored provider skipped')
    }
  }
  for (const p of registry.list()) if (!names.has(p.config.name)) registry.delete(p.config.name)
}
