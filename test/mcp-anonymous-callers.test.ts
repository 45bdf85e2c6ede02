import { setTimeout as sleep } from 'node:timers/promises'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { fakeProvider, type RunningHeimdall, startHeimdall } from './helpers/heimdall.js'
import { everythingClient } from './helpers/mcp.js'

/**
 * A caller without a virtual key gets only the MCP tools an operator opened to it — none by
 * default, even with `client.enforce_auth_on_inference` off: not in chat requests, not through
 * /v1/mcp/tool/execute, not at /mcp. `mcp.anonymous_tools` in config.json or a client's
 * `allow_anonymous` (MCP client API) open them; a key refused a tool cannot get it by dropping the key.
 */

const EVERYTHING_CLIENT = everythingClient()

async function waitForTool(gw: RunningHeimdall, name: string, present = true): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (gw.heimdall.mcp.listTools().some((t) => t.name === name) === present) return
    await sleep(50)
  }
  throw new Error(`tool ${name} never ${present ? 'appeared' : 'went away'}`)
}

function gatewayCalls(gw: () => RunningHeimdall) {
  const execute = (name: string, args: unknown, headers: Record<string, string> = {}) =>
    fetch(`${gw().url}/v1/mcp/tool/execute?format=chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({
        id: 'call_1',
        type: 'function',
        function: { name, arguments: JSON.stringify(args) },
      }),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }))
  const chatTools = async (fake: FakeServer, headers: Record<string, string> = {}) => {
    fake.reset()
    const res = await fetch(`${gw().url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'tools?' }] }),
    })
    expect(res.status).toBe(200)
    return ((fake.requests[0].body.tools ?? []) as any[]).map((t) => t.function.name).sort()
  }
  const listAtMcp = async (headers: Record<string, string> = {}) => {
    const client = new Client({ name: 'test', version: '1.0.0' })
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${gw().url}/mcp`), { requestInit: { headers } }),
    )
    try {
      return { client, tools: (await client.listTools()).tools.map((t) => t.name).sort() }
    } catch (err) {
      await client.close()
      throw err
    }
  }
  return { execute, chatTools, listAtMcp }
}

describe('MCP tools for callers without a virtual key', () => {
  let fake: FakeServer
  let gw: RunningHeimdall
  let noTools: string
  const { execute, chatTools, listAtMcp } = gatewayCalls(() => gw)

  beforeAll(async () => {
    fake = await startFakeOpenAI()
    gw = await startHeimdall({
      providers: { openai: fakeProvider(fake.url) },
      mcp: { client_configs: [EVERYTHING_CLIENT] },
    })
    await waitForTool(gw, 'everything-echo')
    const res = await fetch(`${gw.url}/api/governance/virtual-keys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'no-tools',
        provider_configs: [{ provider: 'openai', allowed_models: ['*'], key_ids: ['*'] }],
      }),
    })
    noTools = ((await res.json()) as any).virtual_key.value
  }, 30_000)

  afterAll(async () => {
    await gw?.close()
    await fake?.close()
  })

  it('adds no MCP tool to a keyless chat request by default', async () => {
    expect(await chatTools(fake)).toEqual([])
  })

  it('refuses a keyless tool call with 401, saying how to get one', async () => {
    const r = await execute('everything-echo', { message: 'hi' })
    expect(r.status).toBe(401)
    expect(r.body).toMatchObject({ is_bifrost_error: false, error: { type: 'virtual_key_required' } })
    expect(r.body.error.message).toMatch(/virtual key/)
    expect(r.body.error.message).toMatch(/mcp\.anonymous_tools/)
    // Unknown tools answer the same, so a keyless caller cannot learn which exist.
    expect((await execute('everything-nope', {})).status).toBe(401)
  })

  it('does not give a tool refused to a key to the same caller without the key', async () => {
    const withKey = await execute(
      'everything-echo',
      { message: 'hi' },
      { authorization: `Bearer ${noTools}` },
    )
    expect(withKey.status).toBe(403)
    expect((await execute('everything-echo', { message: 'hi' })).status).toBe(401)
  })

  it('answers a keyless /mcp caller 401 with a Bearer challenge', async () => {
    const res = await fetch(`${gw.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    })
    expect(res.status).toBe(401)
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/)
    const body = (await res.json()) as any
    expect(body.error.message).toMatch(/mcp\.anonymous_tools/)
  })

  it('opens a client to keyless callers with allow_anonymous through the MCP client API', async () => {
    const id = gw.heimdall.mcp.list().find((c) => c.config.name === 'everything')!.config.client_id
    const put = (allow: boolean) =>
      fetch(`${gw.url}/api/mcp/client/${id}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ allow_anonymous: allow }),
      })
    expect((await put(true)).status).toBe(200)
    try {
      await waitForTool(gw, 'everything-echo')
      const ok = await execute('everything-echo', { message: 'hi' })
      expect(ok.status).toBe(200)
      expect(ok.body.content).toContain('Echo: hi')
      const { client, tools } = await listAtMcp()
      await client.close()
      expect(tools).toContain('everything-get-sum')
      expect(await chatTools(fake)).toContain('everything-echo')
    } finally {
      expect((await put(false)).status).toBe(200)
    }
    await waitForTool(gw, 'everything-echo')
    expect((await execute('everything-echo', { message: 'hi' })).status).toBe(401)
  })
})

describe('mcp.anonymous_tools in config.json', () => {
  let fake: FakeServer
  let gw: RunningHeimdall
  const { execute, chatTools, listAtMcp } = gatewayCalls(() => gw)

  beforeAll(async () => {
    fake = await startFakeOpenAI()
    gw = await startHeimdall({
      providers: { openai: fakeProvider(fake.url) },
      mcp: { client_configs: [EVERYTHING_CLIENT], anonymous_tools: ['everything/echo'] },
    })
    await waitForTool(gw, 'everything-echo')
  }, 30_000)

  afterAll(async () => {
    await gw?.close()
    await fake?.close()
  })

  it('gives keyless callers exactly the granted tools, everywhere', async () => {
    expect(await chatTools(fake)).toEqual(['everything-echo'])
    const { client, tools } = await listAtMcp()
    try {
      expect(tools).toEqual(['everything-echo'])
      const result = await client.callTool({ name: 'everything-echo', arguments: { message: 'yo' } })
      expect(JSON.stringify(result.content)).toContain('Echo: yo')
      await expect(
        client.callTool({ name: 'everything-get-sum', arguments: { a: 1, b: 2 } }),
      ).rejects.toThrow(/not open to callers without a virtual key/)
    } finally {
      await client.close()
    }
    expect((await execute('everything-echo', { message: 'hi' })).status).toBe(200)
    expect((await execute('everything-get-sum', { a: 1, b: 2 })).status).toBe(401)
  })

  it('refuses to start on a malformed grant', async () => {
    await expect(
      startHeimdall({ mcp: { client_configs: [], anonymous_tools: ['everything-echo'] } }),
    ).rejects.toThrow(/mcp\.anonymous_tools must be a list/)
  })
})
