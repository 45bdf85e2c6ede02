export {
  McpClientManager,
  DEFAULT_TIMINGS,
  type McpClientManagerOptions,
  type McpClientView,
  type McpClientState,
  type McpToolFunction,
} from './manager.js'
export type { McpConnectionState, ConnectionTimings } from './connection.js'
export {
  McpClientCreateSchema,
  McpClientUpdateSchema,
  CLIENT_NAME_PATTERN,
  type McpClientConfig,
  type McpClientCreateInput,
  type McpClientUpdateInput,
} from './config.js'
export { SqlMcpClientRepo, MemoryMcpClientRepo, type McpClientRepo } from './repo.js'
export { exposedToolNames, MAX_TOOL_NAME } from './tool-names.js'
