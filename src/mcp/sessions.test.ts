import { createServer, type Server as HttpServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { Server } from '@modelcontextprotocol/sdk/server/index.js'
import { afterEach, describe, expect, it } from 'vitest'
import { McpSessions } from './sessions.js'

/** An MCP endpoint whose `initialize` opens a session in `sessions`, and whose session requests go to it. */
async function endpoint(sessions: McpSessions): Promise<{ url: string; http: HttpServer }> {
  const http = createServer((req, res) => {
    void (async () => {
      const id = req.headers['mcp-session-id']
      const session = sessions.find(typeof id === 'string' ? id : undefined, 'owner')
      if (session) {
        if (req.method === 'GET') sessions.streaming(session, res)
        await session.transport.handleRequest(req, res)
        return
      }
      const server = new Server({ name: 't', version: '1' }, { capabilities: { tools: {} } })
      const transport = await sessions.open('owner', server, () => () => undefined)
      await transport.handleRequest(req, res)
    })()
  })
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`, http }
}

const initialize = (url: string) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    }),
  })

describe('McpSessions', () => {
  let stop: (() => Promise<void>) | undefined
  afterEach(async () => {
    await stop?.()
    stop = undefined
  })

  it('closes an idle session, but never one whose GET stream is open', async () => {
    const sessions = new McpSessions({ idleMs: 300 })
    const { url, http } = await endpoint(sessions)
    const client = new Client({ name: 'held', version: '1' })
    stop = async () => {
      await client.close().catch(() => undefined)
      sessions.close()
      http.closeAllConnections()
      await new Promise<void>((resolve) => http.close(() => resolve()))
    }
    // The SDK client opens its GET stream after initialize; the raw one never does.
    await client.connect(new StreamableHTTPClientTransport(new URL(url)))
    const raw = await initialize(url)
    expect(raw.headers.get('mcp-session-id')).toEqual(expect.any(String))
    await raw.body?.cancel()
    expect(sessions.size).toBe(2)
    await sleep(1000)
    expect(sessions.size).toBe(1)
    await client.ping()
  })

  it('keeps at most `max` sessions, closing the least recently used', async () => {
    const sessions = new McpSessions({ max: 2 })
    const { url, http } = await endpoint(sessions)
    stop = async () => {
      sessions.close()
      http.closeAllConnections()
      await new Promise<void>((resolve) => http.close(() => resolve()))
    }
    const ids: string[] = []
    for (let i = 0; i < 3; i++) {
      const res = await initialize(url)
      ids.push(res.headers.get('mcp-session-id')!)
      await res.body?.cancel()
    }
    expect(sessions.size).toBe(2)
    expect(sessions.find(ids[0], 'owner')).toBeUndefined()
    expect(sessions.find(ids[2], 'owner')).toBeDefined()
    expect(sessions.find(ids[2], 'someone else')).toBeUndefined()
  })
})
