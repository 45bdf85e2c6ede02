import { isAbsolute, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Ajv, ValidateFunction } from 'ajv'
import type { GatewayPlugin } from '../core/plugins.js'

/**
 * What a plugin module exports:
 *   `init(config)` (required): the plugin's hooks (sync or async), see GatewayPlugin;
 *   `configSchema` (optional): a JSON Schema or TypeBox schema its `config` must match;
 *   `name` (optional): checked against the entry's name.
 */
export interface PluginModule {
  init: (config: unknown) => unknown
  configSchema?: object
  name?: string
}

/** Whether a `plugins[].path` names an ES module Heimdall loads (a Go `.so` or a `.wasm` plugin is Bifrost's only). */
export function isEsModulePath(path: unknown): path is string {
  return typeof path === 'string' && /\.(m?js|cjs)$/i.test(path)
}

/** A plugin that cannot be loaded or configured, with the entry, the file and the field at fault. */
export class PluginConfigError extends Error {
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(message)
    this.name = 'PluginConfigError'
  }
}

let ajv: Ajv | undefined
const compiled = new WeakMap<object, ValidateFunction>()

/** Checks `config` against a JSON Schema (TypeBox schemas are JSON Schemas); throws naming the first bad field. */
export async function checkConfig(schema: object, config: unknown, where: string): Promise<void> {
  let validate = compiled.get(schema)
  if (!validate) {
    // Loaded with the first plugin that has a schema, not at every start.
    ajv ??= new (await import('ajv')).Ajv({ strict: false, allErrors: false })
    try {
      validate = ajv.compile(schema)
    } catch (err) {
      throw new PluginConfigError(
        `${where}: configSchema is not a valid JSON Schema: ${(err as Error).message}`,
        'configSchema',
      )
    }
    compiled.set(schema, validate)
  }
  if (validate(config)) return
  const first = validate.errors?.[0]
  const missing = (first?.params as { missingProperty?: string } | undefined)?.missingProperty
  const path = [
    'config',
    ...(first?.instancePath.split('/').filter(Boolean) ?? []),
    ...(missing ? [missing] : []),
  ].join('.')
  throw new PluginConfigError(
    `${where}: ${path}: ${first?.message ?? 'does not match the plugin schema'}`,
    path,
  )
}

/** The plugin file's absolute path: a relative `path` is read from the config file's folder. */
export function pluginFile(path: string, baseDir: string): string {
  return isAbsolute(path) ? path : resolve(baseDir, path)
}

/**
 * Imports a plugin module, checks its exports and its config, and builds the plugin. Every
 * failure is a PluginConfigError naming the entry, the file and what is wrong.
 */
export async function loadCustomPlugin(
  name: string,
  path: string,
  baseDir: string,
  config: unknown,
  reload: number,
): Promise<GatewayPlugin> {
  const file = pluginFile(path, baseDir)
  const where = `plugins.${name} (${path})`
  let mod: Partial<PluginModule>
  try {
    // A query per load, so that a reconfigured or edited module is imported afresh.
    mod = (await import(`${pathToFileURL(file).href}?v=${reload}`)) as Partial<PluginModule>
  } catch (err) {
    throw new PluginConfigError(`${where}: cannot load ${file}: ${(err as Error).message}`, 'path')
  }
  if (typeof mod.init !== 'function') {
    throw new PluginConfigError(
      `${where}: ${file} exports no init function (export function init(config) {...})`,
      'init',
    )
  }
  if (mod.configSchema !== undefined) {
    if (typeof mod.configSchema !== 'object' || mod.configSchema === null)
      throw new PluginConfigError(`${where}: configSchema must be a JSON Schema object`, 'configSchema')
    await checkConfig(mod.configSchema, config ?? {}, where)
  }
  let hooks: unknown
  try {
    hooks = await mod.init(config ?? {})
  } catch (err) {
    throw new PluginConfigError(`${where}: init failed: ${(err as Error).message}`, 'init')
  }
  if (typeof hooks !== 'object' || hooks === null) {
    throw new PluginConfigError(
      `${where}: init must return an object of hooks (preHook, postHook ...)`,
      'init',
    )
  }
  const h = hooks as Record<string, unknown>
  for (const hook of ['preHook', 'postHook', 'onStreamChunk', 'onEnd', 'cleanup']) {
    if (h[hook] !== undefined && typeof h[hook] !== 'function')
      throw new PluginConfigError(`${where}: ${hook} must be a function`, hook)
  }
  // Only the hooks of the plugin interface that a user's module may provide; the name is the entry's.
  return {
    name,
    critical: h.critical === false ? false : undefined,
    timeoutMs: typeof h.timeoutMs === 'number' && h.timeoutMs > 0 ? h.timeoutMs : undefined,
    preHook: bind(h, 'preHook'),
    postHook: bind(h, 'postHook'),
    onStreamChunk: bind(h, 'onStreamChunk'),
    onEnd: bind(h, 'onEnd'),
    cleanup: bind(h, 'cleanup'),
  } as GatewayPlugin
}

function bind(h: Record<string, unknown>, key: string): ((...args: unknown[]) => unknown) | undefined {
  const f = h[key]
  return typeof f === 'function' ? (f as (...args: unknown[]) => unknown).bind(h) : undefined
}
