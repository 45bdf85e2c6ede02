import type { McpTool, McpToolSource } from '../types.js'
import { EXECUTE_TOOL_CODE, isCodeModeTool, META_TOOLS } from './meta-tools.js'
import { codeIdentifier } from './typings.js'

/**
 * Agent mode and code mode, as in Bifrost: the read-only meta-tools always run without the
 * caller; `executeToolCode` only when every tool its script calls is in its client's
 * `tools_to_auto_execute`. The script is read before it runs (each `<server>.<tool>(` call); a
 * server object used any other way (`server[name]`, passed around) could call anything, so such a
 * script goes back to the caller. While it runs, the gateway refuses any other tool anyway.
 */

const IDENT = '[A-Za-z_$][A-Za-z0-9_$]*'

function codeModeTools(source: McpToolSource): McpTool[] {
  return source.listTools().filter((t) => source.isCodeModeClient?.(t.client) === true)
}

/** The code-mode tool a script's `<server>.<name>` means, if any. */
export function scriptTool(source: McpToolSource, server: string, name: string): McpTool | undefined {
  return codeModeTools(source).find(
    (t) => t.client === server && (codeIdentifier(t.toolName) === name || t.toolName === name),
  )
}

/** Whether every use of a code-mode server in the script is a direct call of an auto-executed tool. */
function scriptAutoExecutes(source: McpToolSource, code: string): boolean {
  const servers = new Set(codeModeTools(source).map((t) => t.client))
  for (const server of servers) {
    const uses = code.match(new RegExp(`(?<![\\w$.])${server}(?![\\w$])`, 'g'))?.length ?? 0
    const calls = [...code.matchAll(new RegExp(`(?<![\\w$.])${server}\\s*\\.\\s*(${IDENT})\\s*\\(`, 'g'))]
    if (calls.length !== uses) return false
    for (const [, name] of calls) {
      const tool = scriptTool(source, server, name)
      if (!tool || !source.autoExecutes(tool.name)) return false
    }
  }
  return true
}

/** The meta-tool a model called, when agent mode may run the call without the caller. */
export function autoExecutableMetaTool(
  source: McpToolSource,
  name: string,
  args: Record<string, unknown>,
): McpTool | undefined {
  if (!isCodeModeTool(name)) return undefined
  if (name === EXECUTE_TOOL_CODE && (typeof args.code !== 'string' || !scriptAutoExecutes(source, args.code)))
    return undefined
  return META_TOOLS.find((t) => t.name === name)
}
