import { setTimeout as sleep } from 'node:timers/promises'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { afterAll, describe, expect, it } from 'vitest'
import type { ConfigFile } from '../src/core/schemas/index.js'
import { postgresBackend } from './helpers/databases.js'
import { callJson, type RunningHeimdall, startHeimdall } from './helpers/heimdall.js'
import { postToolsList, type RunningUpstream, startUpstream } from './helpers/mcp-upstream.js'
import { deleteRedisKeys, REDIS_URL, redisPrefix } from './helpers/redis.js'

/** Polls `f` until it is true, for up to `ms`. */
async function until(f: () => Promise<boolean>, ms = 10_000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) if (await f()) return true
  return f()
}

/**
 * Two nodes sharing a PostgreSQL store and a Redis bus: a Virtual MCP made through one node is
 * served by the other, and its deletion too reaches both; a /mcp session opened on one node does
 * not stop the other from serving that client's POSTs (statelessly).
 */
describe('Virtual MCPs and /mcp sessions across nodes', () => {
  const db = postgresBackend('mcp-virtual-cluster')
  const prefix = redisPrefix('heimdall-mcp-virtual-cluster')
  const nodes: RunningHeimdall[] = []
  let upstream: RunningUpstream | undefined
  const clients: Client[] = []

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)))
    for (const node of nodes.splice(0)) await node.close()
    await upstream?.close()
    await deleteRedisKeys(prefix)
    await db.teardown()
  })

  const toolsAt = async (node: RunningHeimdall, path: string, vk: string) => {
    const res = await postToolsList(`${node.url}${path}`, { authorization: `Bearer ${vk}` })
    const body =
      res.status === 200 ? ((await res.json()) as { result: { tools: { name: string }[] } }) : undefined
    return { status: res.status, names: body?.result.tools.map((t) => t.name) ?? [] }
  }

  it('serves a Virtual MCP made on one node from the other, until it is deleted there', async () => {
    upstream = await startUpstream()
    const config: ConfigFile = {
      config_store: { enabled: true, type: 'postgres', config: { connection_string: await db.freshUrl() } },
      cluster: { redis_url: REDIS_URL, prefix },
      mcp: {
        client_configs: [
          { name: 'up', connection_type: 'http', connection_string: upstream.url, tools_to_execute: ['*'] },
        ],
      },
    }
    nodes.push(await startHeimdall(config), await startHeimdall(config))
    const [one, two] = nodes as [RunningHeimdall, RunningHeimdall]
    const vk = (await callJson(one.url, 'POST', '/api/governance/virtual-keys', { name: 'desk' })).body
      .virtual_key
    const created = await callJson(one.url, 'POST', '/api/mcp/virtual-mcps', {
      name: 'desk',
      tools: [{ mcp_client_id: 'up', tool_names: ['report'] }],
      virtual_key_ids: [vk.id],
    })
    expect(created.status).toBe(201)

    expect(await until(async () => (await toolsAt(two, '/mcp/desk', vk.value)).status === 200)).toBe(true)
    expect((await toolsAt(two, '/mcp/desk', vk.value)).names).toEqual(['up-report'])

    expect(
      (await callJson(two.url, 'DELETE', `/api/mcp/virtual-mcps/${created.body.virtual_mcp.id}`)).status,
    ).toBe(200)
    expect(await until(async () => (await toolsAt(one, '/mcp/desk', vk.value)).status === 404)).toBe(true)
  })

  it("serves a POST naming another node's session statelessly", async () => {
    const [one, two] = nodes as [RunningHeimdall, RunningHeimdall]
    const vk = (
      await callJson(one.url, 'POST', '/api/governance/virtual-keys', {
        name: 'roamer',
        mcp_configs: [{ mcp_client_name: 'up', tools_to_execute: ['*'] }],
      })
    ).body.virtual_key.value as string
    const transport = new StreamableHTTPClientTransport(new URL(`${one.url}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${vk}` } },
    })
    const client = new Client({ name: 'roamer', version: '1.0.0' })
    await client.connect(transport)
    clients.push(client)
    expect(transport.sessionId).toEqual(expect.any(String))
    expect(await until(async () => (await toolsAt(two, '/mcp', vk)).status === 200)).toBe(true)
    const res = await postToolsList(`${two.url}/mcp`, {
      authorization: `Bearer ${vk}`,
      'mcp-session-id': transport.sessionId!,
    })
    expect(res.status).toBe(200)
    const body = (await res.json()) as { result: { tools: { name: string }[] } }
    expect(body.result.tools.map((t) => t.name)).toContain('up-report')
  })
})
