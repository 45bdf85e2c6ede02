import { setTimeout as sleep } from 'node:timers/promises'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import {
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema,
  type LoggingMessageNotification,
  type Progress,
} from '@modelcontextprotocol/sdk/types.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import OpenAI from 'openai'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { callJson, fakeProvider, type RunningHeimdall, startHeimdall } from './helpers/heimdall.js'
import { waitForTool } from './helpers/mcp.js'
import { postToolsList, REPORT_TOOL, type RunningUpstream, startUpstream } from './helpers/mcp-upstream.js'

/**
 * The MCP protocol on /mcp beyond tools/list and tools/call, with a real MCP SDK upstream and
 * the SDK's client: every declared tool field and structured results pass through; upstream
 * prompts and resources are served, governed per key; progress and log messages of a tool call
 * reach the caller; a session's GET stream announces tool list changes.
 */
describe('MCP protocol depth on /mcp', () => {
  let upstream: RunningUpstream
  let fake: FakeServer
  let gw: RunningHeimdall
  let full: string
  let reportOnly: string
  const open: Client[] = []

  async function connect(vk: string): Promise<Client> {
    const client = new Client({ name: 'depth-test', version: '1.0.0' })
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${vk}` } },
      }),
    )
    open.push(client)
    return client
  }

  beforeAll(async () => {
    upstream = await startUpstream()
    fake = await startFakeOpenAI()
    gw = await startHeimdall({
      providers: { openai: fakeProvider(fake.url) },
      mcp: {
        client_configs: [
          { name: 'up', connection_type: 'http', connection_string: upstream.url, tools_to_execute: ['*'] },
        ],
      },
    })
    await waitForTool(gw, 'up-report', 25)
    const key = async (name: string, tools: string[]) =>
      (
        await callJson(gw.url, 'POST', '/api/governance/virtual-keys', {
          name,
          provider_configs: [{ provider: 'openai', allowed_models: ['*'], key_ids: ['*'] }],
          mcp_configs: [{ mcp_client_name: 'up', tools_to_execute: tools }],
        })
      ).body.virtual_key.value as string
    full = await key('full', ['*'])
    reportOnly = await key('report-only', ['report'])
  }, 30_000)

  afterAll(async () => {
    await Promise.all(open.map((c) => c.close().catch(() => undefined)))
    await gw?.close()
    await upstream?.close()
    await fake?.close()
  })

  it('lists every field the upstream declared for a tool, renamed only', async () => {
    const client = await connect(full)
    const { tools } = await client.listTools()
    const report = tools.find((t) => t.name === 'up-report')
    expect(report).toEqual({ ...REPORT_TOOL, name: 'up-report' })
  })

  it('passes structured results, their _meta and text content through', async () => {
    const client = await connect(full)
    await client.listTools() // the SDK validates structuredContent against the listed outputSchema
    const result = await client.callTool({ name: 'up-report', arguments: { city: 'Oslo' } })
    expect(result).toEqual({
      content: [{ type: 'text', text: 'Oslo: 21 °C' }],
      structuredContent: { city: 'Oslo', celsius: 21 },
      _meta: { 'example.com/source': 'station-7' },
    })
  })

  it('serves upstream prompts and resources to a key open to the whole client', async () => {
    const client = await connect(full)
    expect(client.getServerCapabilities()).toMatchObject({ prompts: {}, resources: {}, logging: {} })
    const { prompts } = await client.listPrompts()
    expect(prompts).toEqual([
      {
        name: 'up-greet',
        title: 'Greeting',
        description: 'Greets someone',
        arguments: [{ name: 'who', required: true }],
      },
    ])
    const prompt = await client.getPrompt({ name: 'up-greet', arguments: { who: 'Ada' } })
    expect(prompt.messages).toEqual([{ role: 'user', content: { type: 'text', text: 'Say hello to Ada' } }])
    const { resources } = await client.listResources()
    expect(resources).toEqual([{ uri: 'memo://one', name: 'one', title: 'Memo one', mimeType: 'text/plain' }])
    const { resourceTemplates } = await client.listResourceTemplates()
    expect(resourceTemplates).toEqual([
      { uriTemplate: 'memo://item/{id}', name: 'item', mimeType: 'text/plain' },
    ])
    expect((await client.readResource({ uri: 'memo://one' })).contents).toEqual([
      { uri: 'memo://one', mimeType: 'text/plain', text: 'memo one' },
    ])
    expect((await client.readResource({ uri: 'memo://item/7' })).contents).toEqual([
      { uri: 'memo://item/7', mimeType: 'text/plain', text: 'item 7' },
    ])
    await expect(client.readResource({ uri: 'memo://nowhere' })).rejects.toThrow(/Resource not found/)
  })

  it("relays completion of a prompt's argument to the upstream, under the prompt's own name", async () => {
    const client = await connect(full)
    expect(client.getServerCapabilities()?.completions).toEqual({})
    const { completion } = await client.complete({
      ref: { type: 'ref/prompt', name: 'up-greet' },
      argument: { name: 'who', value: 'A' },
    })
    expect(completion).toEqual({ values: ['Ada', 'Alan'], total: 2, hasMore: false })
    const narrow = await connect(reportOnly)
    await expect(
      narrow.complete({
        ref: { type: 'ref/prompt', name: 'up-greet' },
        argument: { name: 'who', value: 'A' },
      }),
    ).rejects.toThrow(/-32602.*not found/)
  })

  it('hides prompts and resources from a key given only some tools', async () => {
    const client = await connect(reportOnly)
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['up-report'])
    expect((await client.listPrompts()).prompts).toEqual([])
    expect((await client.listResources()).resources).toEqual([])
    await expect(client.getPrompt({ name: 'up-greet', arguments: { who: 'x' } })).rejects.toThrow(/not found/)
    await expect(client.readResource({ uri: 'memo://one' })).rejects.toThrow(/Resource not found/)
  })

  it("relays the upstream's progress (with the caller's token) and log messages of a tool call", async () => {
    const client = await connect(full)
    const logs: LoggingMessageNotification['params'][] = []
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      logs.push(n.params)
    })
    const progress: Progress[] = []
    const result = await client.callTool({ name: 'up-slow', arguments: {} }, undefined, {
      onprogress: (p) => progress.push(p),
    })
    expect(result.content).toEqual([{ type: 'text', text: 'finished' }])
    expect(progress).toEqual([
      { progress: 1, total: 2 },
      { progress: 2, total: 2, message: 'done' },
    ])
    expect(logs).toEqual([{ level: 'info', data: 'halfway there' }])
    // Below the level the caller set, nothing is relayed.
    await client.setLoggingLevel('error')
    await client.callTool({ name: 'up-slow', arguments: {} })
    expect(logs).toHaveLength(1)
  })

  it('describes injected chat tools with what a function definition can carry', async () => {
    fake.reset()
    const openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: reportOnly, maxRetries: 0 })
    await openai.chat.completions.create({
      model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
    })
    expect(fake.requests[0].body.tools).toEqual([
      {
        type: 'function',
        function: {
          name: 'up-report',
          description: `The weather of a city, as data\n\nReturns JSON matching: ${JSON.stringify(REPORT_TOOL.outputSchema)}`,
          parameters: REPORT_TOOL.inputSchema,
        },
      },
    ])
  })

  it('announces a tool list change on the session stream when a client is added', async () => {
    const client = await connect(full)
    let changed = 0
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      changed++
    })
    await sleep(200) // the SDK opens the GET stream after initialize
    const added = await callJson(gw.url, 'POST', '/api/mcp/client', {
      name: 'more',
      connection_type: 'http',
      connection_string: upstream.url,
      tools_to_execute: ['*'],
      allow_on_all_virtual_keys: true,
    })
    expect(added.status).toBe(200)
    for (let i = 0; i < 100 && changed === 0; i++) await sleep(25)
    expect(changed).toBeGreaterThan(0)
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('more-report')
  })

  it('keeps plain stateless POSTs working, and refuses GET without a session', async () => {
    const res = await postToolsList(`${gw.url}/mcp`, { authorization: `Bearer ${full}` })
    expect(res.status).toBe(200)
    expect(res.headers.get('mcp-session-id')).toBeNull()
    const body = (await res.json()) as { result: { tools: { name: string }[] } }
    expect(body.result.tools.map((t) => t.name)).toContain('up-report')
    const get = await fetch(`${gw.url}/mcp`, { headers: { authorization: `Bearer ${full}` } })
    expect(get.status).toBe(405)
    const unknown = await fetch(`${gw.url}/mcp`, {
      headers: { authorization: `Bearer ${full}`, 'mcp-session-id': 'nope', accept: 'text/event-stream' },
    })
    expect(unknown.status).toBe(404)
  })
})

/**
 * With a stateful upstream (its own session and GET stream): its tools/list_changed reaches a
 * /mcp session's client, and a resource subscription made through /mcp is made upstream and
 * relays the upstream's updates.
 */
describe('notifications from a stateful upstream through /mcp', () => {
  let upstream: RunningUpstream
  let gw: RunningHeimdall
  let client: Client

  beforeAll(async () => {
    upstream = await startUpstream({ stateful: true })
    gw = await startHeimdall({
      mcp: {
        client_configs: [
          { name: 'live', connection_type: 'http', connection_string: upstream.url, tools_to_execute: ['*'] },
        ],
        anonymous_tools: ['live/*'],
      },
    })
    await waitForTool(gw, 'live-report', 25)
    client = new Client({ name: 'live-test', version: '1.0.0' })
    await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`)))
    await sleep(200) // the SDK opens the GET stream after initialize
  }, 30_000)

  afterAll(async () => {
    await client?.close().catch(() => undefined)
    await gw?.close()
    await upstream?.close()
  })

  it("passes the upstream's tools/list_changed on to the session", async () => {
    let changed = 0
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      changed++
    })
    await upstream.addTool({ name: 'fresh', inputSchema: { type: 'object' } })
    for (let i = 0; i < 100 && changed === 0; i++) await sleep(25)
    expect(changed).toBeGreaterThan(0)
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('live-fresh')
  })

  it('subscribes upstream, relays its resource updates, and unsubscribes', async () => {
    const updates: string[] = []
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
      updates.push(n.params.uri)
    })
    expect(client.getServerCapabilities()?.resources).toMatchObject({ subscribe: true })
    await client.subscribeResource({ uri: 'memo://one' })
    expect([...upstream.subscribed]).toEqual(['memo://one'])
    await upstream.updated('memo://one')
    for (let i = 0; i < 100 && updates.length === 0; i++) await sleep(25)
    expect(updates).toEqual(['memo://one'])
    await client.unsubscribeResource({ uri: 'memo://one' })
    for (let i = 0; i < 100 && upstream.subscribed.size > 0; i++) await sleep(25)
    expect(upstream.subscribed.size).toBe(0)
    await expect(client.subscribeResource({ uri: 'memo://unknown' })).rejects.toThrow(/Resource not found/)
  })
})
