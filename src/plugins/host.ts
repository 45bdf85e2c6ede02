import type { TSchema } from '@sinclair/typebox'
import type { GatewayPlugin, PluginPipeline, PluginPlacement } from '../core/plugins.js'
import { checkConfig, loadCustomPlugin, PluginConfigError } from './custom.js'
import { createJsonParser, JsonParserConfigSchema, type JsonParserConfig } from './jsonparser.js'
import { createMocker, MockerConfigSchema, type MockerConfig } from './mocker.js'
import {
  createSemanticCache,
  SemanticCacheConfigSchema,
  type SemanticCacheConfig,
  type SemanticCacheDeps,
} from './semantic-cache/index.js'

/** One `plugins[]` entry of config.json, and of /api/plugins (Bifrost's fields). */
export interface PluginEntry {
  name: string
  enabled: boolean
  /** An ES module; absent for a built-in. */
  path?: string | null
  config?: Record<string, unknown>
  placement?: PluginPlacement
  order?: number
}

/** Bifrost's PluginStatus. */
export interface PluginStatus {
  name: string
  status: 'active' | 'error' | 'disabled'
  logs: string[]
  types: string[]
}

/** Bifrost's PluginResponse. */
export interface PluginView {
  name: string
  actualName: string
  enabled: boolean
  config: Record<string, unknown>
  isCustom: boolean
  path: string | null
  placement?: PluginPlacement
  order?: number
  status: PluginStatus
}

/** Where API changes to plugins are kept (the config store), so that they survive a restart. */
export interface PluginEntryStore {
  load(): Promise<PluginEntry[] | undefined>
  save(entries: PluginEntry[]): Promise<void>
}

/** What built-ins may use of the server: the config store's database, the change bus, the gateway's calls. */
export type BuiltinDeps = SemanticCacheDeps

interface BuiltinFactory {
  schema: TSchema
  create(config: Record<string, unknown>, deps: BuiltinDeps): GatewayPlugin
}

/** Plugins Heimdall builds from a name alone. */
const FACTORIES: Readonly<Record<string, BuiltinFactory>> = {
  mocker: { schema: MockerConfigSchema, create: (c) => createMocker(c as MockerConfig) },
  jsonparser: { schema: JsonParserConfigSchema, create: (c) => createJsonParser(c as JsonParserConfig) },
  semantic_cache: {
    schema: SemanticCacheConfigSchema,
    create: (c, deps) => createSemanticCache(c as SemanticCacheConfig, deps),
  },
}

/** Built-in parts that are plugins already, configured in their own sections (client, governance, telemetry). */
const SECTION_PLUGINS = new Set(['governance', 'logging', 'telemetry', 'otel', 'mcp', 'metrics', 'tracing'])

/** Built-ins that a `plugins[]` entry builds (mocker, jsonparser). */
export function isConfigurableBuiltin(name: string): boolean {
  return Object.hasOwn(FACTORIES, name)
}

export function isBuiltinPlugin(name: string): boolean {
  return Object.hasOwn(FACTORIES, name) || SECTION_PLUGINS.has(name)
}

interface Loaded {
  entry: PluginEntry
  plugin?: GatewayPlugin
  status: PluginStatus
  /** The saved entry could not be built on this node: the next reload tries again. */
  failed?: boolean
}

/**
 * The configured plugins (mocker, jsonparser, users' modules): built from their entries, put in the
 * gateway's pipeline in their placement and order, rebuilt when an entry changes, cleaned up when
 * disabled or removed. Requests already running keep the plugins they started with.
 */
export class PluginHost {
  private readonly loaded = new Map<string, Loaded>()
  private reloads = 0

  constructor(
    private readonly opts: {
      pipeline: PluginPipeline
      /** The folder relative plugin paths are read from (the config file's). */
      baseDir: string
      store?: PluginEntryStore
      /** Names of the built-in plugins in the pipeline (governance, logging ...), for the listing. */
      builtins: () => string[]
      /** An entry changed on another node that this one could not build. */
      onReloadError?: (name: string, message: string) => void
      deps?: BuiltinDeps
    },
  ) {}

  /** config.json's entries, then those saved through the API (which win by name). Throws naming the entry at fault. */
  async start(fileEntries: PluginEntry[]): Promise<void> {
    const stored = (await this.opts.store?.load()) ?? []
    const byName = new Map<string, PluginEntry>()
    for (const e of [...fileEntries, ...stored]) byName.set(e.name, e)
    for (const entry of byName.values()) {
      const loaded = await this.build(normalize(entry))
      this.loaded.set(entry.name, loaded)
    }
    this.apply()
  }

  /**
   * Re-reads the saved entries (another node changed them); throws when the store cannot be read.
   * An entry this node cannot build (its module missing here, say) leaves the running plugin in
   * place, with status `error` naming why, and is tried again at the next reload.
   */
  async reload(): Promise<void> {
    const stored = await this.opts.store?.load()
    if (!stored) return
    const names = new Set(stored.map((e) => e.name))
    for (const name of [...this.loaded.keys()]) if (!names.has(name)) await this.drop(name)
    for (const e of stored) {
      const entry = normalize(e)
      const current = this.loaded.get(e.name)
      if (current && !current.failed && JSON.stringify(current.entry) === JSON.stringify(entry)) continue
      try {
        await this.put(entry, false)
      } catch (err) {
        const message = (err as Error).message
        this.opts.onReloadError?.(e.name, message)
        const status: PluginStatus = { name: e.name, status: 'error', logs: [message], types: ['llm'] }
        this.loaded.set(
          e.name,
          current ? { ...current, status, failed: true } : { entry, status, failed: true },
        )
      }
    }
  }

  list(): PluginView[] {
    const views = [...this.loaded.values()].map(view)
    for (const name of this.opts.builtins()) {
      if (this.loaded.has(name)) continue
      views.push({
        name,
        actualName: name,
        enabled: true,
        config: {},
        isCustom: false,
        path: null,
        status: { name, status: 'active', logs: [], types: ['llm'] },
      })
    }
    return views
  }

  get(name: string): PluginView | undefined {
    return this.list().find((v) => v.name === name)
  }

  has(name: string): boolean {
    return this.loaded.has(name)
  }

  /** The running plugin of an entry; undefined when it is absent or disabled. */
  instance(name: string): GatewayPlugin | undefined {
    return this.loaded.get(name)?.plugin
  }

  /**
   * Adds or replaces an entry: the new plugin is built (and its config checked) before the old one
   * is taken out, so a bad entry leaves the running one in place. Throws PluginConfigError.
   */
  async put(entry: PluginEntry, persist = true): Promise<PluginView> {
    if (SECTION_PLUGINS.has(entry.name)) {
      throw new PluginConfigError(
        `plugins.${entry.name} is built in and configured in its own settings (/api/config, governance, telemetry)`,
        'name',
      )
    }
    const loaded = await this.build(entry)
    const old = this.loaded.get(entry.name)
    this.loaded.set(entry.name, loaded)
    this.apply()
    if (old?.plugin) await cleanup(old.plugin)
    if (persist) await this.save({ put: entry })
    return view(loaded)
  }

  async remove(name: string): Promise<boolean> {
    if (!this.loaded.has(name)) return false
    await this.drop(name)
    await this.save({ remove: name })
    return true
  }

  async close(): Promise<void> {
    for (const l of this.loaded.values()) if (l.plugin) await cleanup(l.plugin)
  }

  private async drop(name: string): Promise<void> {
    const old = this.loaded.get(name)
    this.loaded.delete(name)
    this.apply()
    if (old?.plugin) await cleanup(old.plugin)
  }

  /**
   * Writes one change into the stored entries as they are in the store now, not this node's view of
   * them: an entry another node saved that this one has not reloaded yet is kept, not overwritten.
   */
  private async save(change: { put: PluginEntry } | { remove: string }): Promise<void> {
    const store = this.opts.store
    if (!store) return
    const base = (await store.load()) ?? [...this.loaded.values()].map((l) => l.entry)
    const name = 'put' in change ? change.put.name : change.remove
    const next = base.filter((e) => e.name !== name)
    if ('put' in change) {
      const at = base.findIndex((e) => e.name === name)
      next.splice(at < 0 ? next.length : at, 0, change.put)
    }
    await store.save(next)
  }

  private async build(entry: PluginEntry): Promise<Loaded> {
    const status: PluginStatus = { name: entry.name, status: 'disabled', logs: [], types: ['llm'] }
    if (!entry.enabled) return { entry, status }
    const plugin = await this.instantiate(entry)
    return { entry, plugin, status: { ...status, status: 'active' } }
  }

  private async instantiate(entry: PluginEntry): Promise<GatewayPlugin> {
    const config = entry.config ?? {}
    if (entry.path) return loadCustomPlugin(entry.name, entry.path, this.opts.baseDir, config, ++this.reloads)
    const factory = FACTORIES[entry.name]
    if (!factory) {
      throw new PluginConfigError(
        `plugins.${entry.name}: no built-in plugin has this name (built in: ${Object.keys(FACTORIES).join(', ')}); a custom plugin needs a path`,
        'name',
      )
    }
    await checkConfig(factory.schema, config, `plugins.${entry.name}`)
    try {
      return factory.create(config, this.opts.deps ?? {})
    } catch (err) {
      throw new PluginConfigError(`plugins.${entry.name}: ${(err as Error).message}`, 'config')
    }
  }

  /** The pipeline's configured plugins: by placement, then `order` (lower first), then as listed. */
  private apply(): void {
    const enabled = [...this.loaded.values()].filter((l) => l.plugin)
    const sorted = (placement: PluginPlacement) =>
      enabled
        .filter((l) => (l.entry.placement ?? 'post_builtin') === placement)
        .sort((a, b) => (a.entry.order ?? 0) - (b.entry.order ?? 0))
        .map((l) => l.plugin!)
    this.opts.pipeline.setConfigured(sorted('pre_builtin'), sorted('post_builtin'))
  }
}

function normalize(e: PluginEntry): PluginEntry {
  return {
    name: e.name,
    enabled: e.enabled !== false,
    ...(e.path ? { path: e.path } : {}),
    config: e.config ?? {},
    ...(e.placement ? { placement: e.placement } : {}),
    ...(e.order !== undefined ? { order: e.order } : {}),
  }
}

function view(l: Loaded): PluginView {
  return {
    name: l.entry.name,
    actualName: l.plugin?.name ?? l.entry.name,
    enabled: l.entry.enabled,
    config: l.entry.config ?? {},
    isCustom: !isBuiltinPlugin(l.entry.name),
    path: l.entry.path ?? null,
    ...(l.entry.placement && { placement: l.entry.placement }),
    ...(l.entry.order !== undefined && { order: l.entry.order }),
    status: l.status,
  }
}

async function cleanup(p: GatewayPlugin): Promise<void> {
  try {
    await p.cleanup?.()
  } catch {
    // A plugin's failure to clean up must not keep its replacement out.
  }
}
