import { describe, expect, it } from 'vitest'
import { GatewayError } from '../core/errors.js'
import { allowedTools, assertToolAllowed, callToolWithDeadline, headersAdmitTool } from './access.js'
import type { McpTool, McpToolSource } from './types.js'

const tool = (client: string, toolName: string): McpTool => ({
  name: `${client}-${toolName}`,
  client,
  toolName,
  inputSchema: { type: 'object' },
})

const TOOLS = [tool('git', 'log'), tool('git', 'diff'), tool('db', 'query')]

function source(call: McpToolSource['callTool'] = async () => ({ content: [] })): McpToolSource {
  return {
    listTools: () => TOOLS,
    callTool: call,
    autoExecutes: () => false,
    onChange: () => () => undefined,
  }
}

const key = (mcp_configs: { mcp_client_name: string; tools_to_execute: string[] }[]) => ({
  name: 'k',
  mcp_configs: mcp_configs.map((c, i) => ({ id: i, virtual_key_id: 'k', ...c })),
})

const names = (tools: McpTool[]) => tools.map((t) => t.name)

describe('allowedTools', () => {
  it('follows mcp_configs: "*" all, names by the tool’s own name, [] none, unlisted clients none', () => {
    const vk = key([
      { mcp_client_name: 'git', tools_to_execute: ['diff'] },
      { mcp_client_name: 'db', tools_to_execute: [] },
    ])
    expect(names(allowedTools(source(), vk, {}))).toEqual(['git-diff'])
    expect(
      names(allowedTools(source(), key([{ mcp_client_name: 'db', tools_to_execute: ['*'] }]), {})),
    ).toEqual(['db-query'])
    expect(allowedTools(source(), key([]), {})).toEqual([])
  })

  it('gives a caller without a virtual key only the tools granted to keyless callers', () => {
    expect(allowedTools(source(), undefined, {})).toEqual([])
    expect(names(allowedTools(source(), undefined, {}, ['*']))).toEqual(names(TOOLS))
    expect(names(allowedTools(source(), undefined, {}, ['git/*', 'db/nope']))).toEqual([
      'git-log',
      'git-diff',
    ])
    const open: McpTool = { ...tool('docs', 'search'), allowAnonymous: true }
    const withOpen: McpToolSource = { ...source(), listTools: () => [...TOOLS, open] }
    expect(names(allowedTools(withOpen, undefined, {}))).toEqual(['docs-search'])
  })

  it('refuses a keyless call of a tool not granted with 401, known or not', () => {
    expect(() => assertToolAllowed(source(), undefined, {}, 'git-log')).toThrow(
      expect.objectContaining({ code: 'virtual_key_required', status: 401 }),
    )
    expect(() => assertToolAllowed(source(), undefined, {}, 'nope-x', ['git/*'])).toThrow(
      /mcp\.anonymous_tools/,
    )
    expect(() => assertToolAllowed(source(), undefined, {}, 'nope-x', ['*'])).toThrow(/not found/)
    expect(assertToolAllowed(source(), undefined, {}, 'db-query', ['db/query']).toolName).toBe('query')
  })

  it('narrows by the include headers, never widens', () => {
    const vk = key([{ mcp_client_name: 'git', tools_to_execute: ['*'] }])
    expect(names(allowedTools(source(), vk, { 'x-bf-mcp-include-tools': 'git-log,db-query' }))).toEqual([
      'git-log',
    ])
  })
})

describe('headersAdmitTool', () => {
  const [log, , query] = TOOLS
  it('reads comma-separated lists with wildcards; blank means no filter', () => {
    expect(headersAdmitTool({ 'x-bf-mcp-include-clients': 'db' }, log)).toBe(false)
    expect(headersAdmitTool({ 'x-bf-mcp-include-clients': ' db , git ' }, log)).toBe(true)
    expect(headersAdmitTool({ 'x-bf-mcp-include-clients': '*' }, log)).toBe(true)
    expect(headersAdmitTool({ 'x-bf-mcp-include-tools': 'git-*' }, log)).toBe(true)
    expect(headersAdmitTool({ 'x-bf-mcp-include-tools': 'git-*' }, query)).toBe(false)
    expect(headersAdmitTool({ 'x-bf-mcp-include-tools': '' }, query)).toBe(true)
    expect(
      headersAdmitTool({ 'x-bf-mcp-include-clients': 'db', 'x-bf-mcp-include-tools': 'git-log' }, query),
    ).toBe(false)
  })
})

describe('assertToolAllowed', () => {
  it('404s unknown tools and 403s blocked ones as a governance decision', () => {
    const vk = key([{ mcp_client_name: 'git', tools_to_execute: ['log'] }])
    expect(assertToolAllowed(source(), vk, {}, 'git-log').toolName).toBe('log')
    expect(() => assertToolAllowed(source(), vk, {}, 'git-nope')).toThrow(
      expect.objectContaining({ code: 'not_found', status: 404 }),
    )
    expect(() => assertToolAllowed(source(), vk, {}, 'git-diff')).toThrow(
      expect.objectContaining({
        code: 'mcp_tool_blocked',
        status: 403,
        isBifrostError: false,
        topLevelType: 'mcp_tool_blocked',
      }),
    )
  })
})

describe('callToolWithDeadline', () => {
  const hang: McpToolSource['callTool'] = () => new Promise(() => undefined)

  it('passes the identity through and answers the result', async () => {
    let identity: string | undefined
    const s = source(async (_n, _a, opts) => {
      identity = opts?.identity
      return { content: [{ type: 'text', text: 'ok' }] }
    })
    await expect(callToolWithDeadline(s, TOOLS[0], {}, { identity: 'vk-1' })).resolves.toEqual({
      content: [{ type: 'text', text: 'ok' }],
    })
    expect(identity).toBe('vk-1')
  })

  it('times out with 504 and stops when the caller goes away with 499', async () => {
    await expect(callToolWithDeadline(source(hang), TOOLS[0], {}, { timeoutMs: 20 })).rejects.toMatchObject({
      code: 'upstream_timeout',
    })
    const controller = new AbortController()
    const pending = callToolWithDeadline(source(hang), TOOLS[0], {}, { signal: controller.signal })
    controller.abort()
    await expect(pending).rejects.toMatchObject({ code: 'request_cancelled' })
  })

  it('reports a failing tool as 502 with its message, and keeps gateway errors as they are', async () => {
    const failing = source(async () => {
      throw new Error('connection reset')
    })
    await expect(callToolWithDeadline(failing, TOOLS[0], {})).rejects.toMatchObject({
      code: 'upstream_error',
      message: 'MCP tool git-log failed: connection reset',
    })
    const gone = source(async () => {
      throw new GatewayError('not_found', 'gone')
    })
    await expect(callToolWithDeadline(gone, TOOLS[0], {})).rejects.toMatchObject({ code: 'not_found' })
  })
})

describe('allow_on_all_virtual_keys', () => {
  const open: McpTool = { ...tool('docs', 'search'), allowOnAllVirtualKeys: true }
  const withOpen: McpToolSource = { ...source(), listTools: () => [...TOOLS, open] }

  it('gives the client’s tools to every key, even one without mcp_configs', () => {
    expect(names(allowedTools(withOpen, key([]), {}))).toEqual(['docs-search'])
    const vk = key([{ mcp_client_name: 'git', tools_to_execute: ['log'] }])
    expect(names(allowedTools(withOpen, vk, {}))).toEqual(['git-log', 'docs-search'])
    expect(assertToolAllowed(withOpen, key([]), {}, 'docs-search')).toBe(open)
  })

  it('is still narrowed by the include headers', () => {
    expect(allowedTools(withOpen, key([]), { 'x-bf-mcp-include-clients': 'git' })).toEqual([])
    expect(() =>
      assertToolAllowed(withOpen, key([]), { 'x-bf-mcp-include-tools': 'git-*' }, 'docs-search'),
    ).toThrow(/x-bf-mcp-include/)
  })
})

describe('callIdentity', () => {
  it('names the virtual key, else the asserted MCP session, else nobody', async () => {
    const { callIdentity } = await import('./access.js')
    expect(callIdentity({ id: 'vk-1' }, { 'x-bf-mcp-session-id': 's-1' })).toBe('vk-1')
    expect(callIdentity(undefined, { 'x-bf-mcp-session-id': 's-1' })).toBe('session:s-1')
    expect(callIdentity(undefined, {})).toBeUndefined()
  })
})
