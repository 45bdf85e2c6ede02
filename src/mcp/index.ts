export type { McpTool, McpToolResult, McpCallOptions, McpToolSource } from './types.js'
export * from './clients/index.js'
