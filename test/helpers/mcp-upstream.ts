import { randomUUID } from 'node:crypto'
import { createServer, type Server as HttpServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Server } from '@modelcontextprotocol/sdk/server/index.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import {
  CallToolRequestSchema,
  CompleteRequestSchema,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js'

/** A tool declaring every optional field MCP has: what a gateway must pass through unchanged. */
export const REPORT_TOOL: Tool = {
  name: 'report',
  title: 'Weather report',
  description: 'The weather of a city, as data',
  inputSchema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  outputSchema: {
    type: 'object',
    properties: { city: { type: 'string' }, celsius: { type: 'number' } },
    required: ['city', 'celsius'],
  },
  annotations: { title: 'Report', readOnlyHint: true, openWorldHint: false },
  icons: [{ src: 'https://example.com/sun.png', mimeType: 'image/png', sizes: ['48x48'] }],
  _meta: { 'example.com/category': 'weather' },
}

const SLOW_TOOL: Tool = {
  name: 'slow',
  description: 'Reports progress twice and logs once before answering',
  inputSchema: { type: 'object', properties: {} },
}

/**
 * A real MCP server (the SDK's, over Streamable HTTP, one stateless server per request) with a
 * fully declared tool returning structured content, a tool that reports progress and logs, a
 * prompt with arguments, a resource and a resource template.
 */
function upstreamServer(extraTools: Tool[], subscribed: Set<string>): Server {
  const server = new Server(
    { name: 'upstream', version: '1.0.0' },
    {
      capabilities: {
        tools: { listChanged: true },
        prompts: {},
        completions: {},
        resources: { subscribe: true },
        logging: {},
      },
    },
  )
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: [REPORT_TOOL, SLOW_TOOL, ...extraTools] }))
  server.setRequestHandler(CompleteRequestSchema, (req) => {
    const known =
      req.params.ref.type === 'ref/prompt' && req.params.ref.name === 'greet' ? ['Ada', 'Alan', 'Grace'] : []
    const values = known.filter((v) => v.startsWith(req.params.argument.value))
    return { completion: { values, total: values.length, hasMore: false } }
  })
  server.setRequestHandler(SubscribeRequestSchema, (req) => {
    subscribed.add(req.params.uri)
    return {}
  })
  server.setRequestHandler(UnsubscribeRequestSchema, (req) => {
    subscribed.delete(req.params.uri)
    return {}
  })
  server.setRequestHandler(CallToolRequestSchema, async (req, extra) => {
    if (req.params.name === 'report') {
      const city = String(req.params.arguments?.city)
      return {
        content: [{ type: 'text', text: `${city}: 21 °C` }],
        structuredContent: { city, celsius: 21 },
        _meta: { 'example.com/source': 'station-7' },
      }
    }
    const token = req.params._meta?.progressToken
    if (token !== undefined) {
      await extra.sendNotification({
        method: 'notifications/progress',
        params: { progressToken: token, progress: 1, total: 2 },
      })
    }
    await extra.sendNotification({
      method: 'notifications/message',
      params: { level: 'info', data: 'halfway there' },
    })
    if (token !== undefined) {
      await extra.sendNotification({
        method: 'notifications/progress',
        params: { progressToken: token, progress: 2, total: 2, message: 'done' },
      })
    }
    return { content: [{ type: 'text', text: 'finished' }] }
  })
  server.setRequestHandler(ListPromptsRequestSchema, () => ({
    prompts: [
      {
        name: 'greet',
        title: 'Greeting',
        description: 'Greets someone',
        arguments: [{ name: 'who', required: true }],
      },
    ],
  }))
  server.setRequestHandler(GetPromptRequestSchema, (req) => ({
    description: 'A greeting',
    messages: [
      { role: 'user', content: { type: 'text', text: `Say hello to ${req.params.arguments?.who}` } },
    ],
  }))
  server.setRequestHandler(ListResourcesRequestSchema, () => ({
    resources: [{ uri: 'memo://one', name: 'one', title: 'Memo one', mimeType: 'text/plain' }],
  }))
  server.setRequestHandler(ListResourceTemplatesRequestSchema, () => ({
    resourceTemplates: [{ uriTemplate: 'memo://item/{id}', name: 'item', mimeType: 'text/plain' }],
  }))
  server.setRequestHandler(ReadResourceRequestSchema, (req) => {
    const uri = req.params.uri
    const item = /^memo:\/\/item\/(.+)$/.exec(uri)?.[1]
    if (uri !== 'memo://one' && item === undefined) throw new McpError(-32002, `Resource not found: ${uri}`)
    return {
      contents: [{ uri, mimeType: 'text/plain', text: item === undefined ? 'memo one' : `item ${item}` }],
    }
  })
  return server
}

export interface RunningUpstream {
  url: string
  /** Stateful only: the URIs its clients subscribe to now. */
  subscribed: Set<string>
  /** Stateful only: adds a tool and tells every session its tool list changed. */
  addTool(tool: Tool): Promise<void>
  /** Stateful only: tells every session a resource changed. */
  updated(uri: string): Promise<void>
  close(): Promise<void>
}

/**
 * Starts the upstream on a free loopback port: stateless (a server per request), or stateful (a
 * session per client, with the GET stream its notifications go out on).
 */
export async function startUpstream(opts: { stateful?: boolean } = {}): Promise<RunningUpstream> {
  const extraTools: Tool[] = []
  const subscribed = new Set<string>()
  const sessions = new Map<string, { server: Server; transport: StreamableHTTPServerTransport }>()
  const http: HttpServer = createServer((req, res) => {
    const known = sessions.get(String(req.headers['mcp-session-id']))
    if (known) {
      void known.transport.handleRequest(req, res)
      return
    }
    const server = upstreamServer(extraTools, subscribed)
    if (opts.stateful) {
      const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => {
          sessions.set(id, { server, transport })
        },
      })
      void server.connect(transport).then(() => transport.handleRequest(req, res))
      return
    }
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined })
    res.on('close', () => {
      void transport.close()
      void server.close()
    })
    void server.connect(transport).then(() => transport.handleRequest(req, res))
  })
  const everySession = (f: (server: Server) => Promise<void>) =>
    Promise.all([...sessions.values()].map((s) => f(s.server))).then(() => undefined)
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`,
    subscribed,
    async addTool(tool) {
      extraTools.push(tool)
      await everySession((server) => server.sendToolListChanged())
    },
    updated: (uri) => everySession((server) => server.sendResourceUpdated({ uri })),
    async close() {
      await Promise.all([...sessions.values()].map((s) => s.transport.close()))
      http.closeAllConnections()
      await new Promise<void>((resolve) => http.close(() => resolve()))
    },
  }
}

/** A plain JSON-RPC `tools/list` POST to an MCP endpoint, as a client without the SDK sends it. */
export function postToolsList(url: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
  })
}
