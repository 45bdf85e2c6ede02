import type { McpTool } from '../types.js'

/**
 * Bifrost's code-mode meta-tools, under its names and argument names: the model lists the virtual
 * declaration files of the code-mode servers, reads one, optionally asks for one tool's full
 * documentation, then runs a script that calls the tools. Heimdall's scripts are JavaScript
 * (QuickJS) with `.d.ts` declarations, as in Bifrost's TypeScript code mode; Bifrost ≥ 1.5 runs
 * Starlark with `.pyi` stubs instead.
 */

export const LIST_TOOL_FILES = 'listToolFiles'
export const READ_TOOL_FILE = 'readToolFile'
export const GET_TOOL_DOCS = 'getToolDocs'
export const EXECUTE_TOOL_CODE = 'executeToolCode'

const META_NAMES: ReadonlySet<string> = new Set([
  LIST_TOOL_FILES,
  READ_TOOL_FILE,
  GET_TOOL_DOCS,
  EXECUTE_TOOL_CODE,
])

/** The client name meta-tools are logged under (MCP client names cannot hold a hyphen, so none clashes). */
export const CODE_MODE_CLIENT = 'code-mode'

/** Whether a tool name is one of the meta-tools (exposed MCP tools are `<client>-<tool>`, so none clashes). */
export function isCodeModeTool(name: string): boolean {
  return META_NAMES.has(name)
}

function metaTool(name: string, description: string, inputSchema: Record<string, unknown>): McpTool {
  return { name, client: CODE_MODE_CLIENT, toolName: name, description, inputSchema }
}

export const META_TOOLS: readonly McpTool[] = [
  metaTool(
    LIST_TOOL_FILES,
    'Lists the virtual .d.ts declaration files of the MCP servers whose tools are used through code ' +
      '(one file per server: servers/<server>.d.ts). Workflow: listToolFiles -> readToolFile -> ' +
      '(optional) getToolDocs -> executeToolCode.',
    { type: 'object', properties: {} },
  ),
  metaTool(
    READ_TOOL_FILE,
    "Reads a virtual .d.ts file listed by listToolFiles: the server's tools as TypeScript method " +
      'signatures generated from their input schemas. servers/<server>/<tool>.d.ts reads one tool. ' +
      'Use the exact server and tool identifiers it shows in executeToolCode.',
    {
      type: 'object',
      properties: {
        fileName: { type: 'string', description: 'A path from listToolFiles, e.g. servers/github.d.ts' },
        startLine: { type: 'number', description: 'Optional first line to return (1-based, inclusive)' },
        endLine: { type: 'number', description: 'Optional last line to return (1-based, inclusive)' },
      },
      required: ['fileName'],
    },
  ),
  metaTool(
    GET_TOOL_DOCS,
    "Full documentation of one tool: its description and complete JSON input schema, for when readToolFile's signature is not enough.",
    {
      type: 'object',
      properties: {
        server: { type: 'string', description: 'The server name, as listToolFiles shows it' },
        tool: { type: 'string', description: 'The tool identifier, as readToolFile shows it' },
      },
      required: ['server', 'tool'],
    },
  ),
  metaTool(
    EXECUTE_TOOL_CODE,
    'Runs JavaScript (ES2023, no TypeScript annotations) in a sandbox where each code-mode server is a ' +
      'global object with one async method per tool: `const r = await server.tool({ ...input })`. ' +
      'Write a top-level `return <value>` to return a JSON-serializable result; console.log output is ' +
      'returned too. No fetch, require, import, timers, file system or network: only the tool calls. ' +
      'The script has a time and memory limit; each run starts from a fresh scope. A failed tool call ' +
      'throws (catch it with try/catch). Read the server\u2019s file with readToolFile first.',
    {
      type: 'object',
      properties: {
        code: { type: 'string', description: 'The script: statements, with top-level await and return' },
      },
      required: ['code'],
    },
  ),
]
