import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { callJson, fakeProvider, type RunningHeimdall, startHeimdall } from './helpers/heimdall.js'
import { everythingClient, waitForTool } from './helpers/mcp.js'

/**
 * The whole gateway with a real MCP server (server-everything over stdio) configured in
 * config.json: a virtual key given two tools sees exactly those two, in a chat completion's tool
 * list, through /v1/mcp/tool/execute and from an MCP client at /mcp; another key sees none.
 */
describe('MCP through the gateway', () => {
  let fake: FakeServer
  let gw: RunningHeimdall
  let twoTools: string
  let noTools: string

  const api = (method: string, path: string, body?: unknown) => callJson(gw.url, method, path, body)

  beforeAll(async () => {
    fake = await startFakeOpenAI()
    gw = await startHeimdall({
      providers: { openai: fakeProvider(fake.url) },
      mcp: {
        client_configs: [everythingClient()],
      },
    })
    await waitForTool(gw, 'everything-echo')
    const provider_configs = [{ provider: 'openai', allowed_models: ['*'], key_ids: ['*'] }]
    twoTools = (
      await api('POST', '/api/governance/virtual-keys', {
        name: 'two-tools',
        provider_configs,
        mcp_configs: [{ mcp_client_name: 'everything', tools_to_execute: ['echo', 'get-sum'] }],
      })
    ).body.virtual_key.value
    noTools = (await api('POST', '/api/governance/virtual-keys', { name: 'no-tools', provider_configs })).body
      .virtual_key.value
  }, 30_000)

  afterAll(async () => {
    await gw?.close()
    await fake?.close()
  })

  it('lists the configured client connected, with its tools', async () => {
    const { body } = await api('GET', '/api/mcp/clients')
    const client = body.clients.find((c: any) => c.config.name === 'everything')
    expect(client.state).toBe('connected')
    expect(client.tools.map((t: any) => t.name)).toContain('everything-echo')
  })

  it("adds exactly the key's tools to a chat completion", async () => {
    fake.reset()
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: twoTools, maxRetries: 0 })
    await client.chat.completions.create({
      model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: 'tools?' }],
    })
    const sent = fake.requests[0].body.tools.map((t: any) => t.function.name).sort()
    expect(sent).toEqual(['everything-echo', 'everything-get-sum'])
    fake.reset()
    const none = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: noTools, maxRetries: 0 })
    await none.chat.completions.create({
      model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: 'tools?' }],
    })
    expect(fake.requests[0].body.tools).toBeUndefined()
  })

  it('executes an allowed tool call and refuses another', async () => {
    const call = (vk: string, name: string, args: unknown) =>
      fetch(`${gw.url}/v1/mcp/tool/execute?format=chat`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${vk}` },
        body: JSON.stringify({
          id: 'call_1',
          type: 'function',
          function: { name, arguments: JSON.stringify(args) },
        }),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }))
    const ok = await call(twoTools, 'everything-echo', { message: 'hi' })
    expect(ok.status).toBe(200)
    expect(ok.body).toMatchObject({ role: 'tool', tool_call_id: 'call_1' })
    expect(ok.body.content).toContain('Echo: hi')
    const blocked = await call(noTools, 'everything-echo', { message: 'hi' })
    expect(blocked.status).toBe(403)
    expect(blocked.body.type).toBe('mcp_tool_blocked')
  })

  it('serves exactly those tools to an MCP client at /mcp', async () => {
    const client = new Client({ name: 'test', version: '1.0.0' })
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${twoTools}` } },
      }),
    )
    try {
      const { tools } = await client.listTools()
      expect(tools.map((t) => t.name).sort()).toEqual(['everything-echo', 'everything-get-sum'])
      const result = await client.callTool({ name: 'everything-get-sum', arguments: { a: 2, b: 40 } })
      expect(JSON.stringify(result.content)).toContain('42')
    } finally {
      await client.close()
    }
  })
})
