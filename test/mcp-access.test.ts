import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Cancellation } from '../src/core/cancel.js'
import { createContext } from '../src/core/context.js'
import type { RequestType } from '../src/core/errors.js'
import type { VirtualKeyMcpConfig, VirtualKeyRecord } from '../src/governance/model.js'
import { GovernanceState, hashVirtualKey } from '../src/governance/state.js'
import { installErrorHandlers } from '../src/http/errors.js'
import { registerMcpInferenceRoutes } from '../src/http/routes/mcp-inference.js'
import { McpToolInjection } from '../src/mcp/inject.js'
import { registerMcpServerRoute } from '../src/mcp/server.js'
import type { McpCallOptions, McpTool, McpToolResult, McpToolSource } from '../src/mcp/types.js'

/**
 * Who may list and call which MCP tools: per virtual key `mcp_configs` (all, named, none, absent),
 * narrowed by the x-bf-mcp-include-* headers, on every surface that exposes tools — injection into
 * inference requests, `/v1/mcp/tool/execute` and Heimdall's own `/mcp` server.
 */

function tool(client: string, toolName: string, description?: string): McpTool {
  return {
    name: `${client}-${toolName}`,
    client,
    toolName,
    description,
    inputSchema: { type: 'object', properties: { q: { type: 'string' } } },
  }
}

const TOOLS = [
  tool('weather', 'forecast', 'Forecast for a city'),
  tool('weather', 'alerts', 'Weather alerts'),
  tool('weather', 'slow'),
  tool('files', 'read', 'Read a file'),
  tool('files', 'stat'),
]

/** Two clients; calls echo their arguments, `files-stat` answers structured content, `weather-slow` never ends. */
function fakeSource(): McpToolSource & { calls: { name: string; opts?: McpCallOptions }[] } {
  const calls: { name: string; opts?: McpCallOptions }[] = []
  return {
    calls,
    listTools: () => TOOLS,
    async callTool(name, args, opts): Promise<McpToolResult> {
      calls.push({ name, opts })
      if (name === 'weather-slow') {
        return new Promise((_, reject) =>
          opts?.signal?.addEventListener('abort', () => reject(new Error('aborted'))),
        )
      }
      if (name === 'files-stat') return { content: [], structuredContent: { size: 42, args } }
      return {
        content: [
          { type: 'text', text: `${name} called` },
          { type: 'text', text: JSON.stringify(args) },
        ],
      }
    },
    autoExecutes: () => false,
    onChange: () => () => undefined,
  }
}

const NOW = new Date().toISOString()

function virtualKey(name: string, mcp_configs: Partial<VirtualKeyMcpConfig>[] | undefined, extra = {}) {
  const value = `sk-bf-${name}-0000-4000-8000-000000000000`
  const record = {
    id: `vk-${name}`,
    name,
    value,
    value_hash: hashVirtualKey(value),
    is_active: true,
    provider_configs: [],
    mcp_configs: mcp_configs?.map((c, i) => ({
      id: i + 1,
      virtual_key_id: `vk-${name}`,
      mcp_client_name: '',
      tools_to_execute: [],
      ...c,
    })),
    budgets: [],
    calendar_aligned: false,
    created_at: NOW,
    updated_at: NOW,
    ...extra,
  } as VirtualKeyRecord
  return { value, record }
}

const KEYS = {
  all: virtualKey('all', [
    { mcp_client_name: 'weather', tools_to_execute: ['*'] },
    { mcp_client_name: 'files', tools_to_execute: ['*'] },
  ]),
  named: virtualKey('named', [
    { mcp_client_name: 'weather', tools_to_execute: ['forecast', 'slow'] },
    { mcp_client_name: 'files', tools_to_execute: [] },
  ]),
  none: virtualKey('none', []),
  absent: virtualKey('absent', undefined),
  inactive: virtualKey('inactive', [{ mcp_client_name: 'weather', tools_to_execute: ['*'] }], {
    is_active: false,
  }),
}

function governanceState(): GovernanceState {
  const state = new GovernanceState(async () => ({ virtualKeys: [], teams: [], customers: [] }))
  state.apply({ virtualKeys: Object.values(KEYS).map((k) => k.record), teams: [], customers: [] })
  return state
}

const names = (tools: { name: string }[]) => tools.map((t) => t.name).sort()

describe('MCP tool access over HTTP', () => {
  const source = fakeSource()
  let enforce = true
  let anonymous: string[] = []
  let app: FastifyInstance
  let url: string

  beforeAll(async () => {
    app = Fastify()
    installErrorHandlers(app)
    const deps = {
      source,
      state: governanceState(),
      enforceAuth: () => enforce,
      anonymousTools: () => anonymous,
      toolTimeoutMs: () => 300,
    }
    registerMcpInferenceRoutes(app, deps)
    registerMcpServerRoute(app, deps)
    url = await app.listen({ port: 0, host: '127.0.0.1' })
  })
  afterAll(() => app.close())

  async function execute(body: unknown, headers: Record<string, string> = {}, format?: string) {
    const res = await fetch(`${url}/v1/mcp/tool/execute${format ? `?format=${format}` : ''}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    })
    return { status: res.status, body: (await res.json()) as Record<string, unknown> }
  }

  const chatCall = (name: string, args = '{"q":"Oslo"}') => ({
    id: 'call_1',
    type: 'function',
    function: { name, arguments: args },
  })

  describe('POST /v1/mcp/tool/execute', () => {
    it('runs a chat tool call and answers the tool message, text parts joined', async () => {
      const r = await execute(chatCall('weather-forecast'), { 'x-bf-vk': KEYS.all.value })
      expect(r.status).toBe(200)
      expect(r.body).toEqual({
        role: 'tool',
        tool_call_id: 'call_1',
        content: 'weather-forecast called\n{"q":"Oslo"}',
      })
      expect(source.calls.at(-1)?.opts?.identity).toBe('vk-all')
    })

    it('runs a Responses function call and answers its function_call_output', async () => {
      const r = await execute(
        { type: 'function_call', call_id: 'fc_9', name: 'files-stat', arguments: '{"q":"/etc"}' },
        { authorization: `Bearer ${KEYS.all.value}` },
        'responses',
      )
      expect(r.status).toBe(200)
      expect(r.body).toEqual({
        type: 'function_call_output',
        call_id: 'fc_9',
        output: JSON.stringify({ size: 42, args: { q: '/etc' } }),
      })
    })

    it('admits only the tools a key names, and none when its list is empty', async () => {
      const h = { 'x-bf-vk': KEYS.named.value }
      expect((await execute(chatCall('weather-forecast'), h)).status).toBe(200)
      const alerts = await execute(chatCall('weather-alerts'), h)
      expect(alerts.status).toBe(403)
      expect(alerts.body).toMatchObject({
        type: 'mcp_tool_blocked',
        is_bifrost_error: false,
        error: { type: 'mcp_tool_blocked' },
      })
      expect((await execute(chatCall('files-read'), h)).status).toBe(403)
    })

    it('denies every tool to keys with empty or absent mcp_configs', async () => {
      expect((await execute(chatCall('weather-forecast'), { 'x-bf-vk': KEYS.none.value })).status).toBe(403)
      expect((await execute(chatCall('weather-forecast'), { 'x-bf-vk': KEYS.absent.value })).status).toBe(403)
    })

    it('refuses tools the include headers leave out', async () => {
      const r = await execute(chatCall('files-read'), {
        'x-bf-vk': KEYS.all.value,
        'x-bf-mcp-include-clients': 'weather',
      })
      expect(r.status).toBe(403)
      const ok = await execute(chatCall('files-read'), {
        'x-bf-vk': KEYS.all.value,
        'x-bf-mcp-include-tools': 'weather-forecast, files-*',
      })
      expect(ok.status).toBe(200)
    })

    it('resolves the virtual key as inference does', async () => {
      const missing = await execute(chatCall('weather-forecast'))
      expect(missing.status).toBe(401)
      expect(missing.body).toMatchObject({ type: 'virtual_key_required', is_bifrost_error: false })
      const unknown = await execute(chatCall('weather-forecast'), { 'x-bf-vk': 'sk-bf-nope' })
      expect(unknown.status).toBe(401)
      expect(unknown.body.type).toBe('virtual_key_not_found')
      const blocked = await execute(chatCall('weather-forecast'), { 'x-bf-vk': KEYS.inactive.value })
      expect(blocked.status).toBe(403)
      expect(blocked.body.type).toBe('virtual_key_blocked')
    })

    it('lets a keyless caller run only the tools granted to it when inference auth is not enforced', async () => {
      enforce = false
      try {
        const closed = await execute(chatCall('files-read'))
        expect(closed.status).toBe(401)
        expect(closed.body).toMatchObject({ type: 'virtual_key_required', is_bifrost_error: false })
        anonymous = ['files/*', 'weather/alerts']
        expect((await execute(chatCall('files-read'))).status).toBe(200)
        expect((await execute(chatCall('weather-alerts'))).status).toBe(200)
        expect((await execute(chatCall('weather-forecast'))).status).toBe(401)
      } finally {
        enforce = true
        anonymous = []
      }
    })

    it('answers 400 for a bad body or malformed arguments, 404 for an unknown tool', async () => {
      const h = { 'x-bf-vk': KEYS.all.value }
      expect((await execute({ id: 'x' }, h)).status).toBe(400)
      expect((await execute([chatCall('weather-forecast')], h)).status).toBe(400)
      expect((await execute({ call_id: 'x' }, h, 'responses')).status).toBe(400)
      expect((await execute(chatCall('weather-forecast'), h, 'xml')).status).toBe(400)
      const badArgs = await execute(chatCall('weather-forecast', '{"q":'), h)
      expect(badArgs.status).toBe(400)
      expect(badArgs.body).toMatchObject({ error: { param: 'function.arguments' } })
      expect((await execute(chatCall('weather-forecast', '[1]'), h)).status).toBe(400)
      expect((await execute(chatCall('nowhere-tool'), h)).status).toBe(404)
    })

    it('gives up on a tool call after the configured timeout', async () => {
      const r = await execute(chatCall('weather-slow'), { 'x-bf-vk': KEYS.named.value })
      expect(r.status).toBe(504)
      expect(source.calls.at(-1)?.opts?.signal?.aborted).toBe(true)
    })
  })

  describe('/mcp (Heimdall as an MCP server)', () => {
    async function connect(headers: Record<string, string>): Promise<Client> {
      const client = new Client({ name: 'test', version: '1.0.0' })
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers } }),
      )
      return client
    }

    it('lists exactly the tools each key may use', async () => {
      const all = await connect({ authorization: `Bearer ${KEYS.all.value}` })
      const named = await connect({ 'x-bf-vk': KEYS.named.value })
      try {
        expect(names((await all.listTools()).tools)).toEqual(names(TOOLS))
        const listed = (await named.listTools()).tools
        expect(names(listed)).toEqual(['weather-forecast', 'weather-slow'])
        expect(listed.find((t) => t.name === 'weather-forecast')).toMatchObject({
          description: 'Forecast for a city',
          inputSchema: { type: 'object', properties: { q: { type: 'string' } } },
        })
      } finally {
        await all.close()
        await named.close()
      }
    })

    it('narrows the listing by the include headers', async () => {
      const client = await connect({
        'x-bf-vk': KEYS.all.value,
        'x-bf-mcp-include-clients': 'files',
      })
      try {
        expect(names((await client.listTools()).tools)).toEqual(['files-read', 'files-stat'])
      } finally {
        await client.close()
      }
    })

    it('calls allowed tools and refuses the others', async () => {
      const client = await connect({ 'x-bf-vk': KEYS.named.value })
      try {
        const result = await client.callTool({ name: 'weather-forecast', arguments: { q: 'Bergen' } })
        expect(result.content).toEqual([
          { type: 'text', text: 'weather-forecast called' },
          { type: 'text', text: '{"q":"Bergen"}' },
        ])
        expect(source.calls.at(-1)?.opts?.identity).toBe('vk-named')
        await expect(client.callTool({ name: 'files-read', arguments: {} })).rejects.toThrow(/may not use/)
        const slow = await client.callTool({ name: 'weather-slow', arguments: {} })
        expect(slow.isError).toBe(true)
      } finally {
        await client.close()
      }
    })

    it('lists nothing for a key without mcp_configs', async () => {
      const client = await connect({ 'x-bf-vk': KEYS.absent.value })
      try {
        expect((await client.listTools()).tools).toEqual([])
      } finally {
        await client.close()
      }
    })

    it('answers 401 with a Bearer challenge without a virtual key', async () => {
      const res = await fetch(`${url}/mcp`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      })
      expect(res.status).toBe(401)
      expect(res.headers.get('www-authenticate')).toBe('Bearer')
      expect(await res.json()).toMatchObject({ jsonrpc: '2.0', error: { code: -32001 }, id: null })
      const unknown = await fetch(`${url}/mcp`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-bf-vk': 'sk-bf-nope' },
        body: '{}',
      })
      expect(unknown.status).toBe(401)
      await expect(connect({ 'x-bf-vk': KEYS.inactive.value })).rejects.toThrow()
    })

    it('serves a keyless caller only the granted tools when inference auth is not enforced', async () => {
      enforce = false
      try {
        await expect(connect({})).rejects.toThrow()
        anonymous = ['*']
        const client = await connect({})
        expect(names((await client.listTools()).tools)).toEqual(names(TOOLS))
        await client.close()
        anonymous = ['weather/forecast']
        const narrow = await connect({})
        expect(names((await narrow.listTools()).tools)).toEqual(['weather-forecast'])
        await expect(narrow.callTool({ name: 'files-read', arguments: {} })).rejects.toThrow(
          /not open to callers without a virtual key/,
        )
        await narrow.close()
      } finally {
        enforce = true
        anonymous = []
      }
    })

    it('refuses GET: the server is stateless', async () => {
      const res = await fetch(`${url}/mcp`, { headers: { 'x-bf-vk': KEYS.all.value } })
      expect(res.status).toBe(405)
      expect(res.headers.get('allow')).toBe('POST')
    })
  })
})

describe('McpToolInjection', () => {
  const hook = new McpToolInjection({ source: fakeSource() })

  function context(requestType: RequestType, vk?: VirtualKeyRecord, headers: Record<string, string> = {}) {
    const ctx = createContext({
      requestId: 'r1',
      requestType,
      signal: new Cancellation(),
      headers,
      modelRequested: 'openai/gpt-4o',
    })
    if (vk) ctx.facts.virtualKey = vk
    return ctx
  }

  it('adds the allowed tools to a chat request after the caller’s, skipping names it defines', () => {
    const own = { type: 'function', function: { name: 'weather-slow', parameters: {} } }
    const req: Record<string, unknown> = { model: 'gpt-4o', tools: [own] }
    hook.beforeRequest(context('chat_completion', KEYS.named.record), req)
    expect(req.tools).toEqual([
      own,
      {
        type: 'function',
        function: {
          name: 'weather-forecast',
          description: 'Forecast for a city',
          parameters: TOOLS[0].inputSchema,
        },
      },
    ])
  })

  it('adds Responses-shaped tools to a Responses request', () => {
    const req: Record<string, unknown> = { model: 'gpt-4o' }
    hook.beforeRequest(
      context('responses_stream', KEYS.all.record, { 'x-bf-mcp-include-tools': 'files-read' }),
      req,
    )
    expect(req.tools).toEqual([
      { type: 'function', name: 'files-read', description: 'Read a file', parameters: TOOLS[3].inputSchema },
    ])
  })

  it('adds nothing when no tool is allowed, nor to other requests', () => {
    const denied: Record<string, unknown> = { model: 'gpt-4o' }
    hook.beforeRequest(context('chat_completion_stream', KEYS.none.record), denied)
    expect(denied.tools).toBeUndefined()
    const embedding: Record<string, unknown> = { model: 'x', input: 'hi' }
    hook.beforeRequest(context('embedding', KEYS.all.record), embedding)
    expect(embedding.tools).toBeUndefined()
  })

  it('adds no tool when no virtual key was presented, unless tools are granted to keyless callers', () => {
    const req: Record<string, unknown> = { model: 'gpt-4o', tools: [] }
    hook.beforeRequest(context('chat_completion'), req)
    expect(req.tools).toEqual([])
    const open = new McpToolInjection({ source: fakeSource(), anonymousTools: () => ['weather/*'] })
    open.beforeRequest(context('chat_completion'), req)
    expect((req.tools as { function: { name: string } }[]).map((t) => t.function.name)).toEqual([
      'weather-forecast',
      'weather-alerts',
      'weather-slow',
    ])
  })

  it('can be switched off', () => {
    const off = new McpToolInjection({ source: fakeSource(), enabled: () => false })
    const req: Record<string, unknown> = { model: 'gpt-4o' }
    off.beforeRequest(context('chat_completion'), req)
    expect(req.tools).toBeUndefined()
  })
})
