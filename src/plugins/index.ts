export { createMocker, MockerConfigSchema, type MockerConfig } from './mocker.js'
export {
  createJsonParser,
  completePartialJson,
  JsonParserConfigSchema,
  JSON_PARSER_HEADER,
} from './jsonparser.js'
export { isEsModulePath, loadCustomPlugin, PluginConfigError, type PluginModule } from './custom.js'
export {
  isBuiltinPlugin,
  isConfigurableBuiltin,
  PluginHost,
  type PluginEntry,
  type PluginEntryStore,
  type PluginStatus,
  type PluginView,
} from './host.js'
