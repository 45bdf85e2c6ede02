import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { callJson, fakeProvider, type RunningHeimdall, startHeimdall } from './helpers/heimdall.js'

/**
 * MCP code mode end to end: two real MCP SDK servers marked `is_code_mode_client` and one direct
 * client behind Heimdall. An MCP SDK client on /mcp (and a model, through tool injection) sees
 * Bifrost's four meta-tools instead of the code-mode tools; scripts run in QuickJS and reach the
 * upstream tools only through the gateway's governed calls, within time and memory limits.
 */

const META = ['executeToolCode', 'getToolDocs', 'listToolFiles', 'readToolFile']

/** Upstream calls per tool, as the upstream servers saw them. */
const upstreamCalls: Record<string, number> = {}

function upstream(name: string): McpServer {
  const server = new McpServer({ name, version: '1.0.0' })
  const counted =
    <A>(tool: string, f: (args: A) => { content: { type: 'text'; text: string }[] }) =>
    (args: A) => {
      upstreamCalls[`${name}.${tool}`] = (upstreamCalls[`${name}.${tool}`] ?? 0) + 1
      return f(args)
    }
  if (name === 'weather') {
    server.registerTool(
      'get-forecast',
      {
        description: 'Forecast for a city',
        inputSchema: { city: z.string().describe('City name'), days: z.number().int().optional() },
      },
      counted('get-forecast', ({ city }: { city: string }) => ({
        content: [{ type: 'text', text: JSON.stringify({ city, temperature: 21, sky: 'clear' }) }],
      })),
    )
    server.registerTool(
      'get-secret',
      { description: 'Not for every key' },
      counted('get-secret', () => ({ content: [{ type: 'text', text: 'the secret' }] })),
    )
  } else if (name === 'stock') {
    server.registerTool(
      'get-price',
      { description: 'Price of a stock', inputSchema: { symbol: z.enum(['ACME', 'INITECH']) } },
      counted('get-price', ({ symbol }: { symbol: string }) => ({
        content: [{ type: 'text', text: symbol === 'ACME' ? '42.5' : '7' }],
      })),
    )
  } else {
    server.registerTool('ping', { description: 'Answers pong' }, () => ({
      content: [{ type: 'text', text: 'pong' }],
    }))
  }
  return server
}

describe('MCP code mode', () => {
  let mcpServers: Server
  let fake: FakeServer
  let gw: RunningHeimdall
  let fullKey: string
  let openKey: string
  let codeOnlyKey: string
  const clients: Client[] = []

  async function connect(key: string): Promise<Client> {
    const client = new Client({ name: 'code-mode-test', version: '1.0.0' })
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${key}` } },
      }),
    )
    clients.push(client)
    return client
  }

  async function run(client: Client, name: string, args: Record<string, unknown> = {}) {
    const result = await client.callTool({ name, arguments: args })
    const content = result.content as { type: string; text: string }[]
    return { text: content.map((c) => c.text).join('\n'), isError: result.isError === true }
  }

  const execute = (client: Client, code: string) => run(client, 'executeToolCode', { code })

  beforeAll(async () => {
    mcpServers = createServer((req, res) => {
      const name = (req.url ?? '/').slice(1)
      const server = upstream(name)
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined })
      res.on('close', () => {
        void transport.close()
        void server.close()
      })
      void server.connect(transport).then(() => transport.handleRequest(req, res))
    })
    await new Promise<void>((resolve) => mcpServers.listen(0, '127.0.0.1', resolve))
    const base = `http://127.0.0.1:${(mcpServers.address() as AddressInfo).port}`
    const client = (name: string, codeMode: boolean) => ({
      name,
      connection_type: 'http',
      connection_string: `${base}/${name}`,
      tools_to_execute: ['*'],
      is_code_mode_client: codeMode,
    })
    fake = await startFakeOpenAI()
    gw = await startHeimdall({
      providers: { openai: fakeProvider(fake.url) },
      mcp: {
        client_configs: [client('weather', true), client('stock', true), client('plain', false)],
        // The script's time limit (Bifrost's field, seconds) and Heimdall's heap limit.
        tool_manager_config: { tool_execution_timeout: 5, code_mode_memory_limit_mb: 16 },
      },
    } as never)
    for (let i = 0; i < 200 && gw.heimdall.mcp.listTools().length < 4; i++)
      await new Promise((r) => setTimeout(r, 50))
    const key = async (name: string, weather: string[], plain = ['*']) =>
      (
        await callJson(gw.url, 'POST', '/api/governance/virtual-keys', {
          name,
          provider_configs: [{ provider: 'openai', allowed_models: ['*'], key_ids: ['*'] }],
          mcp_configs: [
            { mcp_client_name: 'weather', tools_to_execute: weather },
            { mcp_client_name: 'stock', tools_to_execute: ['*'] },
            { mcp_client_name: 'plain', tools_to_execute: plain },
          ],
        })
      ).body.virtual_key.value as string
    fullKey = await key('forecast-only', ['get-forecast'])
    openKey = await key('all-weather', ['*'])
    codeOnlyKey = await key('code-only', ['*'], [])
  }, 30_000)

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)))
    await gw?.close()
    await fake?.close()
    await new Promise((resolve) => mcpServers?.close(resolve))
  })

  it('shows the model the four meta-tools instead of the code-mode tools; direct tools stay', async () => {
    const client = await connect(fullKey)
    const names = (await client.listTools()).tools.map((t) => t.name).sort()
    expect(names).toEqual([...META, 'plain-ping'].sort())
    expect((await run(client, 'plain-ping')).text).toBe('pong')
  })

  it('lists and reads the typed declarations of the tools the key may use', async () => {
    const client = await connect(fullKey)
    expect((await run(client, 'listToolFiles')).text).toBe('servers/\n  stock.d.ts\n  weather.d.ts')
    const weather = await run(client, 'readToolFile', { fileName: 'servers/weather.d.ts' })
    expect(weather.isError).toBe(false)
    expect(weather.text).toContain('declare const weather: {')
    expect(weather.text).toContain('get_forecast(input: {')
    expect(weather.text).toMatch(/\/\*\* City name \*\/\n\s+city: string/)
    expect(weather.text).toContain('days?: number')
    // A tool the key may not use is not shown.
    expect(weather.text).not.toContain('get_secret')
    const stock = await run(client, 'readToolFile', { fileName: 'stock/get_price.d.ts' })
    expect(stock.text).toContain('symbol: "ACME" | "INITECH"')
    const docs = await run(client, 'getToolDocs', { server: 'stock', tool: 'get_price' })
    expect(docs.text).toContain('"enum"')
    const missing = await run(client, 'readToolFile', { fileName: 'servers/nowhere.d.ts' })
    expect(missing).toMatchObject({ isError: true })
    expect(missing.text).toContain('servers/weather.d.ts')
  })

  it('runs a script that calls two upstream tools and combines their results', async () => {
    const client = await connect(fullKey)
    const before = { ...upstreamCalls }
    const out = await execute(
      client,
      [
        "const forecast = await weather.get_forecast({ city: 'Oslo' })",
        "const [acme, initech] = await Promise.all(['ACME', 'INITECH'].map((symbol) => stock.get_price({ symbol })))",
        "console.log('sky is', forecast.sky)",
        'return { summary: `${forecast.city}: ${forecast.temperature} C`, total: acme + initech }',
      ].join('\n'),
    )
    expect(out.isError).toBe(false)
    expect(out.text).toContain('Console output:\nsky is clear')
    const value = JSON.parse(/Return value: ([\s\S]*?)\n\nEnvironment/.exec(out.text)![1])
    expect(value).toEqual({ summary: 'Oslo: 21 C', total: 49.5 })
    expect(upstreamCalls['weather.get-forecast']).toBe((before['weather.get-forecast'] ?? 0) + 1)
    expect(upstreamCalls['stock.get-price']).toBe((before['stock.get-price'] ?? 0) + 2)
  })

  it('refuses, inside the script, a tool the key may not use; another key may', async () => {
    const client = await connect(fullKey)
    const caught = await execute(
      client,
      'try { await weather.get_secret({}) } catch (e) { return String(e.message) }',
    )
    expect(caught.text).toContain('virtual key \\"forecast-only\\" may not use MCP tool weather-get-secret')
    const uncaught = await execute(client, 'return await weather.get_secret({})')
    expect(uncaught.isError).toBe(true)
    expect(uncaught.text).toContain('Execution runtime error')
    expect(uncaught.text).toContain('may not use MCP tool weather-get-secret')
    expect(upstreamCalls['weather.get-secret']).toBeUndefined()

    const allowed = await execute(await connect(openKey), 'return await weather.get_secret({})')
    expect(allowed.text).toContain('Return value: "the secret"')
    expect(upstreamCalls['weather.get-secret']).toBe(1)
  })

  it('stops an endless loop and keeps serving other requests', async () => {
    const client = await connect(fullKey)
    const other = await connect(fullKey)
    // Scripts run in worker threads: the gateway answers other requests while one spins.
    const order: string[] = []
    const [loop, ping] = await Promise.all([
      execute(client, 'let n = 0\nwhile (true) { n++ }').finally(() => order.push('loop')),
      run(other, 'plain-ping').finally(() => order.push('ping')),
    ])
    expect(order).toEqual(['ping', 'loop'])
    expect(loop.isError).toBe(true)
    expect(loop.text).toContain('Execution timeout error')
    expect(loop.text).toContain('without awaiting a tool call')
    expect(ping.text).toBe('pong')
  })

  it('stops a script at its memory limit, and reports script errors as tool errors', async () => {
    const client = await connect(fullKey)
    const blowUp = await execute(
      client,
      'let n = 1 << 16\nconst kept = []\nwhile (true) { kept.push(new Float64Array(n)); n *= 2 }',
    )
    expect(blowUp.isError).toBe(true)
    expect(blowUp.text).toContain('Execution memory error')
    const syntax = await execute(client, 'const x: number = 1')
    expect(syntax).toMatchObject({ isError: true })
    expect(syntax.text).toContain('Execution syntax error')
    const escape = await execute(
      client,
      'return typeof fetch + typeof require + typeof process + typeof setTimeout',
    )
    expect(escape.text).toContain('Return value: "undefinedundefinedundefinedundefined"')
    // The gateway still serves scripts after all of the above.
    const after = await execute(client, "return (await stock.get_price({ symbol: 'ACME' })) * 2")
    expect(after.text).toContain('Return value: 85')
  })

  it('runs a meta-tool call a model made through POST /v1/mcp/tool/execute, logging the script’s tool calls', async () => {
    const res = await fetch(`${gw.url}/v1/mcp/tool/execute`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-bf-vk': fullKey },
      body: JSON.stringify({
        id: 'call_script',
        type: 'function',
        function: {
          name: 'executeToolCode',
          arguments: JSON.stringify({ code: "return (await weather.get_forecast({ city: 'Bergen' })).city" }),
        },
      }),
    })
    expect(res.status).toBe(200)
    const message = (await res.json()) as { role: string; tool_call_id: string; content: string }
    expect(message).toMatchObject({ role: 'tool', tool_call_id: 'call_script' })
    expect(message.content).toContain('Return value: "Bergen"')
    let logged: { tool_name: string; server_label: string; arguments: unknown; status: string } | undefined
    for (let i = 0; i < 200 && !logged; i++) {
      const list = (await callJson(gw.url, 'GET', '/api/mcp-logs')).body
      logged = list.logs?.find((l: { arguments?: { city?: string } }) => l.arguments?.city === 'Bergen')
      if (!logged) await new Promise((r) => setTimeout(r, 25))
    }
    expect(logged).toMatchObject({
      tool_name: 'get-forecast',
      server_label: 'weather',
      status: 'success',
      arguments: { city: 'Bergen' },
    })
  })

  it('injects the meta-tools, not the code-mode tools, into chat requests', async () => {
    fake.reset()
    const openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: fullKey, maxRetries: 0 })
    await openai.chat.completions.create({
      model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: 'what is the weather' }],
    })
    const sent = fake.requests[0].body.tools.map((t: { function: { name: string } }) => t.function.name)
    expect(sent.sort()).toEqual([...META, 'plain-ping'].sort())
  })

  it('runs the read-only meta-tools the model calls in agent mode, and answers with its next reply', async () => {
    fake.reset()
    const openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: codeOnlyKey, maxRetries: 0 })
    const { data, response } = await openai.chat.completions
      .create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'which servers?' }] })
      .withResponse()
    // The fake model calls the first two tools it is offered: listToolFiles and readToolFile.
    expect(fake.requests).toHaveLength(2)
    const results = fake.requests[1].body.messages.filter((m: { role: string }) => m.role === 'tool')
    expect(results).toHaveLength(2)
    expect(results[0].content).toBe('servers/\n  stock.d.ts\n  weather.d.ts')
    expect(results[1].content).toContain('fileName is required')
    expect(response.headers.get('x-bifrost-mcp-agent-rounds')).toBe('1')
    expect(data.choices[0].message.content).toContain('servers/')
  })
})
