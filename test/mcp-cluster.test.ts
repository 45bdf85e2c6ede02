import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, describe, expect, it } from 'vitest'
import type { ConfigFile } from '../src/core/schemas/index.js'
import { postgresBackend } from './helpers/databases.js'
import { type RunningHeimdall, startHeimdall } from './helpers/heimdall.js'
import { EVERYTHING } from './helpers/mcp.js'
import { deleteRedisKeys, REDIS_URL, redisPrefix } from './helpers/redis.js'

/** Polls `f` until it is true, for up to `ms`. */
async function until(f: () => boolean, ms = 10_000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) if (f()) return true
  return f()
}

/**
 * Two nodes sharing a PostgreSQL store and a Redis bus: an MCP client added, changed or removed
 * through one node's API is connected, reconnected or closed on the other as well.
 */
describe('MCP clients across nodes', () => {
  const db = postgresBackend('mcp-cluster')
  const prefix = redisPrefix('heimdall-mcp-cluster')
  const nodes: RunningHeimdall[] = []

  afterAll(async () => {
    for (const node of nodes.splice(0)) await node.close()
    await deleteRedisKeys(prefix)
    await db.teardown()
  })

  const api = async (node: RunningHeimdall, method: string, path: string, body?: unknown) => {
    const res = await fetch(`${node.url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    return { status: res.status, body: (await res.json()) as any }
  }

  it('adds, updates and removes a client on every node', async () => {
    const config: ConfigFile = {
      config_store: { enabled: true, type: 'postgres', config: { connection_string: await db.freshUrl() } },
      cluster: { redis_url: REDIS_URL, prefix },
    }
    nodes.push(await startHeimdall(config), await startHeimdall(config))
    const [one, two] = nodes as [RunningHeimdall, RunningHeimdall]

    const added = await api(one, 'POST', '/api/mcp/client', {
      client_id: 'everything-1',
      name: 'everything',
      connection_type: 'stdio',
      stdio_config: { command: process.execPath, args: [EVERYTHING] },
      tools_to_execute: ['*'],
    })
    expect(added.status).toBe(200)
    expect(one.heimdall.mcp.status('everything-1').state).toBe('connected')
    const onePid = one.heimdall.mcp.status('everything-1').pid

    // Node 2 connects it too, with its tools.
    const hasEcho = (node: RunningHeimdall) =>
      node.heimdall.mcp.listTools().some((t) => t.name === 'everything-echo')
    expect(await until(() => hasEcho(two))).toBe(true)
    expect(two.heimdall.mcp.get('everything-1').state).toBe('connected')
    // The publishing node's own sync left its connection alone.
    expect(one.heimdall.mcp.status('everything-1').pid).toBe(onePid)

    // A change on node 2 reaches node 1: only the echo tool, and every virtual key may use it.
    const twoPid = two.heimdall.mcp.status('everything-1').pid
    const updated = await api(two, 'PUT', '/api/mcp/client/everything-1', {
      tools_to_execute: ['echo'],
      allow_on_all_virtual_keys: true,
    })
    expect(updated.status).toBe(200)
    const onlyOpenEcho = (node: RunningHeimdall) => {
      const tools = node.heimdall.mcp.listTools()
      return (
        tools.length === 1 && tools[0]?.name === 'everything-echo' && tools[0].allowOnAllVirtualKeys === true
      )
    }
    expect(await until(() => onlyOpenEcho(one))).toBe(true)
    expect(onlyOpenEcho(two)).toBe(true)
    expect(two.heimdall.mcp.status('everything-1').pid).not.toBe(twoPid)

    // Removed on node 2: gone on node 1, its server process ended.
    expect((await api(two, 'DELETE', '/api/mcp/client/everything-1')).status).toBe(200)
    expect(await until(() => one.heimdall.mcp.list().length === 0)).toBe(true)
    expect(one.heimdall.mcp.listTools()).toEqual([])
    const gone = () => {
      try {
        process.kill(onePid ?? -1, 0)
        return false
      } catch {
        return true
      }
    }
    expect(onePid).toBeDefined()
    expect(await until(gone, 5_000)).toBe(true)
  }, 60_000)
})
