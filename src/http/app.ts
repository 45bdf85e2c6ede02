import { mkdir, readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { normalizeProvider, resolveSecret } from '../core/config.js'
import { Gateway } from '../core/gateway.js'
import { GatewayError } from '../core/errors.js'
import { ProviderRegistry } from '../core/router/registry.js'
import {
  ConfigFileSchema,
  DEFAULT_CLIENT,
  type ClientConfig,
  type ConfigFile,
  type ProviderConfigInput,
  type StoreSpec,
} from '../core/schemas/index.js'
import { createLogger, type Logger } from '../observability/logger.js'
import { createAdapter, isBuiltinProvider, isKeyless, type ProviderAdapter } from '../providers/index.js'
import { openConfigStore, reconcileProviders, type ConfigStore } from '../store/index.js'
import { registerProviderRoutes } from './routes/providers.js'
import { buildServer } from './server.js'
import { compileValidator } from './validate.js'

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

export interface Heimdall {
  app: FastifyInstance
  gateway: Gateway
  registry: ProviderRegistry<ProviderAdapter>
  store: ConfigStore | undefined
  client: Required<Pick<ClientConfig, keyof typeof DEFAULT_CLIENT>> & ClientConfig
  logger: Logger
  /** Starts listening; resolves with the base URL. */
  listen(): Promise<string>
  /** Stops accepting, lets in-flight requests and streams finish (bounded), closes the stores. */
  close(): Promise<void>
}

const validateConfigFile = compileValidator(ConfigFileSchema)

async function readConfigFile(path: string): Promise<ConfigFile> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw err
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    throw new Error(`${path} is not valid JSON: ${(err as Error).message}`)
  }
  try {
    return validateConfigFile(parsed)
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`)
  }
}

/** Checks every provider of config.json before anything is stored, naming the file and the entry at fault. */
function validateFileProviders(providers: Record<string, ProviderConfigInput>, path: string): void {
  for (const [name, input] of Object.entries(providers)) {
    try {
      const cfg = normalizeProvider(name, input)
      if (!cfg.custom_provider_config && !isBuiltinProvider(name)) {
        throw new Error(`unknown provider ${name} (a new name needs custom_provider_config)`)
      }
      createAdapter(cfg)
    } catch (err) {
      throw new Error(`${path}: providers.${name}: ${(err as Error).message}`)
    }
  }
}

/** The config store: config.json's `config_store`, else HEIMDALL_DATABASE_URL, else SQLite under the app dir. */
function storeSpec(config: ConfigFile, env: NodeJS.ProcessEnv): StoreSpec {
  if (config.config_store) return config.config_store
  if (env.HEIMDALL_DATABASE_URL)
    return { enabled: true, type: 'postgres', config: { connection_string: env.HEIMDALL_DATABASE_URL } }
  return { enabled: true, type: 'sqlite', config: {} }
}

/** Assembles Heimdall: config, store, providers, gateway and HTTP server. */
export async function createHeimdall(opts: HeimdallOptions): Promise<Heimdall> {
  const env = opts.env ?? process.env
  const appDir = resolve(opts.appDir)
  await mkdir(appDir, { recursive: true })
  const config = opts.config ?? (await readConfigFile(opts.configPath ?? resolve(appDir, 'config.json')))
  const logger = opts.logger ?? createLogger(opts.logLevel ?? 'info')
  const client = { ...DEFAULT_CLIENT, ...config.client }

  const encryptionKeyRef = config.encryption_key ?? env.HEIMDALL_ENCRYPTION_KEY ?? env.BIFROST_ENCRYPTION_KEY
  const encryptionKey = encryptionKeyRef ? resolveSecret(encryptionKeyRef, env) : undefined

  const registry = new ProviderRegistry<ProviderAdapter>({
    create: createAdapter,
    isKnown: isBuiltinProvider,
  })
  const fileProviders = (config.providers ?? {}) as Record<string, ProviderConfigInput>
  validateFileProviders(fileProviders, opts.configPath ?? resolve(appDir, 'config.json'))

  const spec = storeSpec(config, env)
  let store: ConfigStore | undefined
  if (spec.enabled !== false) {
    store = await openConfigStore(spec, { appDir, encryptionKey })
    if (!encryptionKey)
      logger.warn('no encryption key set: provider keys are stored unencrypted (set HEIMDALL_ENCRYPTION_KEY)')
    for (const p of await reconcileProviders(store, fileProviders)) {
      try {
        registry.set(p)
      } catch (err) {
        // A stored provider this version cannot serve must not keep the gateway from starting.
        logger.error({ provider: p.name, err: (err as Error).message }, 'stored provider skipped')
      }
    }
  } else {
    for (const [name, input] of Object.entries(fileProviders)) registry.set(normalizeProvider(name, input))
  }

  const gateway = new Gateway({
    registry,
    isKeyless,
    maxTotalAttempts: client.max_total_attempts,
    dropExcessRequests: () => client.drop_excess_requests === true,
    env,
  })

  const app = buildServer({
    gateway,
    logger,
    bodyLimitBytes: Math.round(client.max_request_body_size_mb * 1024 * 1024),
    pingStores: async () => {
      await store?.ping()
    },
  })
  registerProviderRoutes(app, { registry, store })

  let closing: Promise<void> | undefined
  return {
    app,
    gateway,
    registry,
    store,
    client,
    logger,
    async listen() {
      await app.listen({ port: opts.port ?? 8080, host: opts.host ?? '127.0.0.1' })
      const address = app.server.address()
      const port = typeof address === 'object' && address ? address.port : opts.port
      return `http://${opts.host && opts.host !== '0.0.0.0' ? opts.host : '127.0.0.1'}:${port}`
    },
    close() {
      closing ??= (async () => {
        const grace = client.shutdown_timeout_seconds * 1000
        const timer = setTimeout(() => {
          logger.warn('shutdown grace period over: closing remaining connections')
          app.server.closeAllConnections()
        }, grace)
        timer.unref()
        // Keep-alive connections whose last response ends during shutdown are closed as they go idle.
        const sweep = setInterval(() => app.server.closeIdleConnections(), 100)
        sweep.unref()
        try {
          await app.close()
        } finally {
          clearTimeout(timer)
          clearInterval(sweep)
          await store?.close()
        }
      })()
      return closing
    },
  }
}

export { GatewayError }
