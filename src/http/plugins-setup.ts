import { dirname } from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { Kysely } from 'kysely'
import { DEFAULT_PREFIX, type Cluster } from '../cluster/index.js'
import type { Gateway } from '../core/gateway.js'
import type { ConfigFile } from '../core/schemas/index.js'
import {
  embedThrough,
  isConfigurableBuiltin,
  isEsModulePath,
  PluginHost,
  type PluginEntry,
  type SemanticCachePlugin,
} from '../plugins/index.js'
import type { Logger } from '../observability/logger.js'
import type { ConfigReloads, ConfigStore } from '../store/index.js'
import { registerCacheRoutes } from './routes/cache.js'
import { PLUGINS_TOPIC, registerPluginRoutes } from './routes/plugins.js'

/** The config store's key for plugin entries changed through /api/plugins. */
const STORE_KEY = 'plugins'

/** config.json's entries Heimdall builds as plugins: mocker, jsonparser and modules with a path. */
function fileEntries(config: ConfigFile): PluginEntry[] {
  const out: PluginEntry[] = []
  for (const p of config.plugins ?? []) {
    const path = isEsModulePath(p.path) ? p.path : undefined
    // Go and WASM plugins (Bifrost's) were warned about and are left out.
    if (!path && (p.path || !isConfigurableBuiltin(p.name))) continue
    out.push({
      name: p.name,
      enabled: p.enabled !== false,
      ...(path && { path }),
      config: p.config ?? {},
      ...(p.placement && { placement: p.placement }),
      ...(typeof p.order === 'number' && { order: p.order }),
    })
  }
  return out
}

/**
 * Loads the configured plugins into the gateway's pipeline (a bad one stops the start, naming the
 * entry and the file), serves /api/plugins, and follows changes made on other nodes.
 */
export async function startPlugins(deps: {
  app: FastifyInstance
  gateway: Gateway
  store: ConfigStore
  cluster: Cluster
  config: ConfigFile
  configPath: string
  reloads: ConfigReloads
  logger: Logger
}): Promise<PluginHost> {
  const { gateway, store, cluster, reloads } = deps
  const db = store.db as unknown as Kysely<unknown>
  const host = new PluginHost({
    pipeline: gateway.plugins,
    baseDir: dirname(deps.configPath),
    store: {
      load: () => store.getValue<PluginEntry[]>(STORE_KEY),
      save: (entries) => store.setValue(STORE_KEY, entries),
    },
    builtins: () => gateway.plugins.builtinNames(),
    onReloadError: (name, message) =>
      deps.logger.warn({ plugin: name, err: message }, 'plugin changed on another node not loaded here'),
    deps: {
      db,
      bus: cluster.bus,
      embed: embedThrough(gateway),
      redis: { url: deps.config.cluster?.redis_url, prefix: deps.config.cluster?.prefix ?? DEFAULT_PREFIX },
    },
  })
  try {
    await host.start(fileEntries(deps.config))
  } catch (err) {
    throw new Error(`${deps.configPath}: ${(err as Error).message}`)
  }
  registerPluginRoutes(deps.app, { host, bus: cluster.bus })
  registerCacheRoutes(deps.app, {
    db,
    bus: cluster.bus,
    entries: () => (host.instance('semantic_cache') as SemanticCachePlugin | undefined)?.entries,
  })
  // Changes made on other nodes: on their event, retried while the store cannot be read, and found
  // by the store's change counter when the event was missed.
  reloads.add('plugins', () => host.reload())
  cluster.bus.subscribe(PLUGINS_TOPIC, () => reloads.reload('plugins'))
  return host
}
