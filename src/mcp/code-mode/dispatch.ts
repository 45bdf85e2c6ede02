import type { GatewayContext } from '../../core/context.js'
import { asGatewayError } from '../../core/errors.js'
import {
  allowedTools,
  assertToolAllowed,
  callIdentity,
  callToolWithDeadline,
  toolResultText,
  type AnonymousToolGrants,
  type McpVirtualKey,
} from '../access.js'
import type { ToolCallRecord } from '../../core/tool-calls.js'
import type { McpTool, McpToolResult, McpToolSource } from '../types.js'
import {
  EXECUTE_TOOL_CODE,
  GET_TOOL_DOCS,
  LIST_TOOL_FILES,
  META_TOOLS,
  READ_TOOL_FILE,
} from './meta-tools.js'
import { scriptTool } from './auto-execute.js'
import { DEFAULT_SANDBOX_LIMITS, type HostToolCall, type SandboxLimits } from './interpreter.js'
import { runSandboxed } from './sandbox.js'
import { codeIdentifier, toolFileTypings } from './typings.js'

/** What a caller may use: its tools, and the check of one call (throws the refusal). */
export interface CodeModeAccess {
  tools(): McpTool[]
  tool(name: string): McpTool
}

/** Who runs a meta-tool, and how: the same facts the gateway's direct tool calls are governed by. */
export interface CodeModeCaller {
  source: McpToolSource
  vk: McpVirtualKey | undefined
  headers: GatewayContext['headers']
  anonymous?: AnonymousToolGrants
  /** The caller's access (e.g. a Virtual MCP's); by default its virtual key's, or the anonymous grants. */
  access?: CodeModeAccess
  /** Deadline of each tool call a script makes. */
  toolTimeoutMs?: number
  /** The script's limits; Bifrost's 30 s and 64 MiB by default. */
  limits?: Partial<SandboxLimits>
  /** The caller's request: a script stops when it goes away. */
  signal?: AbortSignal
  /** Told of each tool call a script ran, once it ended (for MCP tool logs and traces). */
  onToolCall?: (record: ToolCallRecord) => void
  /** Agent mode: a script may call only tools in their client's `tools_to_auto_execute`. */
  autoExecuteOnly?: boolean
}

function isCodeModeOf(source: McpToolSource): (tool: McpTool) => boolean {
  return (tool) => source.isCodeModeClient?.(tool.client) === true
}

/**
 * The tools a model is shown: the code-mode clients' tools are replaced by the four meta-tools
 * (when the caller may use at least one of them); every other tool stays as it is.
 */
export function withCodeMode(tools: McpTool[], source: McpToolSource): McpTool[] {
  const direct = tools.filter((t) => !isCodeModeOf(source)(t))
  return direct.length === tools.length ? tools : [...direct, ...META_TOOLS]
}

/** The caller's code-mode tools, by server. */
function accessOf(caller: CodeModeCaller): CodeModeAccess {
  const { source, vk, headers, anonymous } = caller
  return (
    caller.access ?? {
      tools: () => allowedTools(source, vk, headers, anonymous),
      tool: (name) => assertToolAllowed(source, vk, headers, name, anonymous),
    }
  )
}

function codeModeServers(caller: CodeModeCaller): Map<string, McpTool[]> {
  const byServer = new Map<string, McpTool[]>()
  const tools = accessOf(caller).tools()
  for (const tool of tools.filter(isCodeModeOf(caller.source))) {
    const list = byServer.get(tool.client) ?? []
    list.push(tool)
    byServer.set(tool.client, list)
  }
  return byServer
}

const text = (value: string, isError = false): McpToolResult => ({
  content: [{ type: 'text', text: value }],
  ...(isError && { isError: true }),
})

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function listToolFiles(servers: Map<string, McpTool[]>): McpToolResult {
  if (servers.size === 0)
    return text('No code-mode MCP server is available to you: there is no .d.ts file to read.')
  return text(['servers/', ...[...servers.keys()].sort().map((s) => `  ${s}.d.ts`)].join('\n'))
}

function availableFiles(servers: Map<string, McpTool[]>): string {
  return [...servers.keys()].map((s) => `  servers/${s}.d.ts`).join('\n')
}

/** `servers/<server>.d.ts` or `servers/<server>/<tool>.d.ts`, matched without regard to case. */
function readToolFile(servers: Map<string, McpTool[]>, args: Record<string, unknown>): McpToolResult {
  const fileName = args.fileName
  if (typeof fileName !== 'string' || fileName.trim() === '')
    return text('fileName is required: a path from listToolFiles, e.g. servers/<server>.d.ts', true)
  const parts = fileName
    .trim()
    .replace(/^\.?\/?(servers\/)?/, '')
    .replace(/\.d\.ts$|\.ts$/, '')
    .split('/')
  const server = [...servers.keys()].find((s) => s.toLowerCase() === parts[0]?.toLowerCase())
  if (!server || parts.length > 2)
    return text(`No file ${fileName}. Available virtual files are:\n${availableFiles(servers)}`, true)
  let tools = servers.get(server) ?? []
  if (parts.length === 2) {
    const wanted = parts[1].toLowerCase()
    tools = tools.filter(
      (t) => codeIdentifier(t.toolName).toLowerCase() === wanted || t.toolName.toLowerCase() === wanted,
    )
    if (tools.length === 0)
      return text(`Server ${server} has no tool ${parts[1]}: read servers/${server}.d.ts`, true)
  }
  const lines = toolFileTypings(server, tools).split('\n')
  const start = args.startLine === undefined ? 1 : Number(args.startLine)
  const end = args.endLine === undefined ? lines.length : Number(args.endLine)
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 1 || end > lines.length || start > end)
    return text(`Invalid line range ${start}-${end}: the file has lines 1 to ${lines.length}`, true)
  const header = start === 1 && end === lines.length ? `// ${lines.length} lines (the whole file)\n` : ''
  return text(header + lines.slice(start - 1, end).join('\n'))
}

function getToolDocs(servers: Map<string, McpTool[]>, args: Record<string, unknown>): McpToolResult {
  const server = typeof args.server === 'string' ? args.server : ''
  const name = typeof args.tool === 'string' ? args.tool : ''
  const tool = servers.get(server)?.find((t) => codeIdentifier(t.toolName) === name || t.toolName === name)
  if (!tool)
    return text(`No tool ${server}.${name}. Available virtual files are:\n${availableFiles(servers)}`, true)
  return text(
    [
      `${server}.${codeIdentifier(tool.toolName)} (MCP tool ${tool.toolName} of server ${server})`,
      '',
      tool.description ?? '(no description)',
      '',
      'Input (JSON Schema):',
      JSON.stringify(tool.inputSchema, null, 2),
      '',
      'Usage in executeToolCode:',
      `  const out = await ${server}.${codeIdentifier(tool.toolName)}({ ... })`,
      '  console.log(out)  // inspect the structure before relying on it',
    ].join('\n'),
  )
}

/** What a script receives from a tool: its structured content, else its text as JSON when it is JSON, else the text. */
function scriptValue(result: McpToolResult): unknown {
  if (result.structuredContent !== undefined) return result.structuredContent
  const out = toolResultText(result)
  try {
    return JSON.parse(out) as unknown
  } catch {
    return out
  }
}

/** A script's tool call, through the gateway's own checks: the caller's access, per-user credentials, deadline. */
function hostCall(caller: CodeModeCaller): HostToolCall {
  const { source } = caller
  return async (server, name, input, signal) => {
    if (!isObject(input))
      throw new Error(`${server}.${name} takes one object: await ${server}.${name}({ ... })`)
    const target = scriptTool(source, server, name)
    if (!target)
      throw new Error(
        `${server}.${name} is not a tool of MCP server ${server}: readToolFile servers/${server}.d.ts`,
      )
    if (caller.autoExecuteOnly && !source.autoExecutes(target.name))
      throw new Error(`${server}.${name} refused: agent mode runs only tools in tools_to_auto_execute`)
    let tool: McpTool
    try {
      tool = accessOf(caller).tool(target.name)
    } catch (err) {
      throw new Error(`${server}.${name} refused: ${asGatewayError(err).message}`)
    }
    const startNs = process.hrtime.bigint()
    let result: McpToolResult | undefined
    let error: string | undefined
    try {
      result = await callToolWithDeadline(source, tool, input, {
        timeoutMs: caller.toolTimeoutMs,
        signal,
        identity: callIdentity(caller.vk, caller.headers),
      })
      if (result.isError) error = toolResultText(result)
    } catch (err) {
      error = asGatewayError(err).message
    } finally {
      caller.onToolCall?.({
        name: tool.toolName,
        client: tool.client,
        startNs,
        endNs: process.hrtime.bigint(),
        error,
        arguments: input,
        result: result && toolResultText(result),
      })
    }
    if (error !== undefined || !result) throw new Error(`${server}.${name} failed: ${error}`)
    return scriptValue(result)
  }
}

const HINTS: Record<string, string> = {
  syntax: 'Scripts are plain JavaScript: no TypeScript annotations, no import/export.',
  runtime:
    'console.log() intermediate values to see their structure; tool errors can be caught with try/catch.',
  timeout: 'Avoid endless loops; make fewer or smaller tool calls per script.',
  memory: 'Keep less data in memory: filter tool results as they arrive and return only what is needed.',
}

async function executeToolCode(
  servers: Map<string, McpTool[]>,
  args: Record<string, unknown>,
  caller: CodeModeCaller,
): Promise<McpToolResult> {
  const code = args.code
  if (typeof code !== 'string' || code.trim() === '')
    return text('code is required: a JavaScript script that calls the tools and returns a value', true)
  const keys = [...servers.keys()].sort()
  const limits = { ...DEFAULT_SANDBOX_LIMITS, ...caller.limits }
  const outcome = await runSandboxed(code, keys, hostCall(caller), limits, caller.signal)
  const logs = outcome.logs.length > 0 ? `Console output:\n${outcome.logs.join('\n')}\n\n` : ''
  const environment = `\n\nEnvironment:\n  Available server keys: ${keys.join(', ') || '(none)'}`
  if (!outcome.ok) {
    return text(
      `Execution ${outcome.kind} error:\n\n${outcome.message}\n\nHints:\n  ${HINTS[outcome.kind]}\n\n${logs}`.trimEnd() +
        environment,
      true,
    )
  }
  return text(
    `${logs}Execution completed successfully.\nReturn value: ${JSON.stringify(outcome.value, null, 2)}${environment}`,
  )
}

/**
 * Runs a meta-tool for a caller. Bad input and script failures are the tool's own error results
 * (`isError`), for the model to read and correct; nothing here throws for them.
 */
export async function callCodeModeTool(
  name: string,
  args: Record<string, unknown>,
  caller: CodeModeCaller,
): Promise<McpToolResult> {
  const servers = codeModeServers(caller)
  switch (name) {
    case LIST_TOOL_FILES:
      return listToolFiles(servers)
    case READ_TOOL_FILE:
      return readToolFile(servers, args)
    case GET_TOOL_DOCS:
      return getToolDocs(servers, args)
    case EXECUTE_TOOL_CODE:
      return executeToolCode(servers, args, caller)
    default:
      return text(`${name} is not a code-mode tool`, true)
  }
}
