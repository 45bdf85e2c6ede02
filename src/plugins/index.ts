export { createMocker, MockerConfigSchema, type MockerConfig } from './mocker.js'
export {
  createJsonParser,
  completePartialJson,
  JsonParserConfigSchema,
  JSON_PARSER_HEADER,
} from './jsonparser.js'
export { isEsModulePath, loadCustomPlugin, PluginConfigError, type PluginModule } from './custom.js'
export {
  CACHE_TOPIC,
  embedThrough,
  EntryStore,
  type CacheChange,
  type CacheEntries,
  type SemanticCachePlugin,
} from './semantic-cache/index.js'
export {
  type BuiltinDeps,
  isBuiltinPlugin,
  isConfigurableBuiltin,
  PluginHost,
  type PluginEntry,
  type PluginEntryStore,
  type PluginStatus,
  type PluginView,
} from './host.js'
