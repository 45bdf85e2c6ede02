export { autoExecutableMetaTool } from './auto-execute.js'
export { callCodeModeTool, withCodeMode, type CodeModeAccess, type CodeModeCaller } from './dispatch.js'
export {
  CODE_MODE_CLIENT,
  EXECUTE_TOOL_CODE,
  GET_TOOL_DOCS,
  LIST_TOOL_FILES,
  META_TOOLS,
  READ_TOOL_FILE,
  isCodeModeTool,
} from './meta-tools.js'
export { DEFAULT_SANDBOX_LIMITS, type SandboxLimits, type SandboxOutcome } from './interpreter.js'
export { MAX_CONCURRENT_SCRIPTS, runSandboxed, sandboxLimitsFromConfig } from './sandbox.js'
export { codeIdentifier, schemaType, toolFileTypings } from './typings.js'
