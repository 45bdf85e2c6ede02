import { mkdir } from 'node:fs/promises'
import { resolve } from 'node:path'
import { createCluster, type Cluster } from '../../cluster/index.js'
import { resolveSecret } from '../../core/config.js'
import { ProviderRegistry } from '../../core/router/registry.js'
import {
  DEFAULT_CLIENT,
  type ClientConfig,
  type ConfigFile,
  type ProviderConfigInput,
} from '../../core/schemas/index.js'
import { createLogger, type Logger } from '../../observability/logger.js'
import { createAdapter, isBuiltinProvider, type ProviderAdapter } from '../../providers/index.js'
import {
  openConfigStore,
  reconcileProviders,
  type ConfigReloads,
  type ConfigStore,
  type StoreSpec,
} from '../../store/index.js'
import { acceptBifrostShapes } from '../bifrost-shapes.js'
import { readConfigFile, storeSpec, validateFileProviders } from '../config-file.js'
import { loadClientConfig } from '../routes/config.js'
import { createStoreReloads } from '../store-reloads.js'
import type { Closers } from './lifecycle.js'

export interface HeimdallOptions {
  /** Where config.json and the SQLite files live. */
  appDir: string
  /** Path of the config file; defaults to `<appDir>/config.json`. A missing file means defaults. */
  configPath?: string
  /** The config as an object, instead of a file (tests). */
  config?: ConfigFile
  port?: number
  host?: string
  logLevel?: string
  /** A logger to use instead of a new one (tests). */
  logger?: Logger
  env?: NodeJS.ProcessEnv
}

/** The `client` section with every default filled in; API changes update it in place. */
export type ClientSettings = Required<Pick<ClientConfig, keyof typeof DEFAULT_CLIENT>> & ClientConfig

/** What every part of the assembly reads: the options, the config file and the logger. */
export interface Base {
  opts: HeimdallOptions
  env: NodeJS.ProcessEnv
  appDir: string
  configPath: string
  logger: Logger
  config: ConfigFile
  client: ClientSettings
  /** The Redis URL of the cluster (config or HEIMDALL_REDIS_URL), secrets resolved; none: one node. */
  redisUrl?: string
}

/** Reads the options and the config file (or the config given as an object). */
export async function loadConfig(opts: HeimdallOptions): Promise<Base> {
  const env = opts.env ?? process.env
  const appDir = resolve(opts.appDir)
  await mkdir(appDir, { recursive: true })
  const configPath = opts.configPath ?? resolve(appDir, 'config.json')
  const logger = opts.logger ?? createLogger(opts.logLevel ?? 'info')
  const config = opts.config
    ? (acceptBifrostShapes(opts.config, logger, env) as ConfigFile)
    : await readConfigFile(configPath, logger, env)
  const redisUrl = config.cluster?.redis_url ?? env.HEIMDALL_REDIS_URL
  return {
    opts,
    env,
    appDir,
    configPath,
    logger,
    config,
    client: { ...DEFAULT_CLIENT, ...config.client },
    redisUrl: redisUrl ? resolveSecret(redisUrl, env) : undefined,
  }
}

export interface Stores {
  store: ConfigStore
  spec: StoreSpec
  /** Reloads of what this node holds in memory: on change events, retried, and checked on a timer. */
  reloads: ConfigReloads
  registry: ProviderRegistry<ProviderAdapter>
}

/** Opens the config store, loads the client settings and the providers (file and store reconciled). */
export async function openStores(base: Base, closers: Closers): Promise<Stores> {
  const { config, env, logger, configPath } = base
  const encryptionKeyRef = config.encryption_key ?? env.HEIMDALL_ENCRYPTION_KEY ?? env.BIFROST_ENCRYPTION_KEY
  const encryptionKey = encryptionKeyRef ? resolveSecret(encryptionKeyRef, env) : undefined
  const registry = new ProviderRegistry<ProviderAdapter>({
    create: createAdapter,
    isKnown: isBuiltinProvider,
  })
  const fileProviders = (config.providers ?? {}) as Record<string, ProviderConfigInput>
  validateFileProviders(fileProviders, configPath)

  // With the config store switched off, an in-memory one holds the file's configuration: API
  // changes then last until the process stops.
  const spec = storeSpec(config, env)
  const store = await openConfigStore(
    spec.enabled === false ? { type: 'sqlite', config: { path: ':memory:' } } : spec,
    { appDir: base.appDir, encryptionKey },
  )
  closers.add(() => store.close())
  const reloads = createStoreReloads(store, spec, logger)
  closers.add(() => reloads.close())
  if (!encryptionKey && spec.enabled !== false) {
    logger.warn('no encryption key set: provider keys are stored unencrypted (set HEIMDALL_ENCRYPTION_KEY)')
  }
  await loadClientConfig(store, base.client, config.client)
  for (const p of await reconcileProviders(store, fileProviders)) {
    try {
      registry.set(p)
    } catch (err) {
      // A stored provider this version cannot serve must not keep the gateway from starting.
      logger.error({ provider: p.name, err: (err as Error).message }, 'stored provider skipped')
    }
  }
  return { store, spec, reloads, registry }
}

/** Counters and change events: in Redis when a URL is configured, else in this process. */
export async function joinCluster(base: Base, closers: Closers): Promise<Cluster> {
  const cluster = await createCluster({
    redisUrl: base.redisUrl,
    prefix: base.config.cluster?.prefix,
    onError: (err, source) => base.logger.warn({ err: err.message, source }, 'cluster connection trouble'),
  })
  closers.add(() => cluster.close())
  return cluster
}
