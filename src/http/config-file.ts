import { readFile } from 'node:fs/promises'
import { normalizeProvider } from '../core/config.js'
import {
  ConfigFileSchema,
  type ConfigFile,
  type ProviderConfigInput,
  type StoreSpec,
} from '../core/schemas/index.js'
import type { Logger } from '../observability/logger.js'
import { createAdapter, isBuiltinProvider } from '../providers/index.js'
import { acceptBifrostShapes } from './bifrost-shapes.js'
import { compileValidator } from './validate.js'

/** config.json: read, checked against the schema and Bifrost's shapes, its providers and store named when at fault. */

const validateConfigFile = compileValidator(ConfigFileSchema)

export async function readConfigFile(
  path: string,
  logger: Logger,
  env: NodeJS.ProcessEnv,
): Promise<ConfigFile> {
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
    return validateConfigFile(acceptBifrostShapes(parsed, logger, env))
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`)
  }
}

/** Checks every provider of config.json before anything is stored, naming the file and the entry at fault. */
export function validateFileProviders(providers: Record<string, ProviderConfigInput>, path: string): void {
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

/** Runs `read`, naming the config file in its error. */
export function inFile<T>(path: string, read: () => T): T {
  try {
    return read()
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`)
  }
}

/** The config store: config.json's `config_store`, else HEIMDALL_DATABASE_URL, else SQLite under the app dir. */
export function storeSpec(config: ConfigFile, env: NodeJS.ProcessEnv): StoreSpec {
  if (config.config_store) return config.config_store
  if (env.HEIMDALL_DATABASE_URL)
    return { enabled: true, type: 'postgres', config: { connection_string: env.HEIMDALL_DATABASE_URL } }
  return { enabled: true, type: 'sqlite', config: {} }
}
