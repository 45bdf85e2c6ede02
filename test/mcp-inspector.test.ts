import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RunningHeimdall, startHeimdall } from './helpers/heimdall.js'
import { everythingClient, waitForTool } from './helpers/mcp.js'
import { killRunningChildren, type NodeRun, runNode } from './helpers/node-child.js'

/** Pinned to 1.0.3: the last line with `--header` that runs on Node 20 (see EXTERNAL-TESTS.md §2). */
const INSPECTOR = 'node_modules/@modelcontextprotocol/inspector/cli/build/cli.js'

/**
 * The official MCP Inspector CLI as a client of Heimdall's /mcp, with auth enforced: a virtual key
 * allowed `echo` and `get-sum` of server-everything sees and calls exactly those, and no key is
 * refused.
 */
describe('MCP Inspector CLI against /mcp', () => {
  let gw: RunningHeimdall
  let vk: string

  const inspect = (args: string[], key?: string): Promise<NodeRun> =>
    runNode(
      INSPECTOR,
      [
        '--cli',
        `${gw.url}/mcp`,
        '--transport',
        'http',
        ...args,
        ...(key ? ['--header', `Authorization: Bearer ${key}`] : []),
      ],
      15_000,
    )
  const json = (run: NodeRun) => {
    expect(run.timedOut, run.stderr).toBe(false)
    expect(run.code, run.stderr).toBe(0)
    return JSON.parse(run.stdout) as any
  }

  beforeAll(async () => {
    gw = await startHeimdall({
      client: { enforce_auth_on_inference: true },
      mcp: {
        client_configs: [everythingClient()],
      },
    })
    await waitForTool(gw, 'everything-echo')
    const res = await fetch(`${gw.url}/api/governance/virtual-keys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'inspector',
        mcp_configs: [{ mcp_client_name: 'everything', tools_to_execute: ['echo', 'get-sum'] }],
      }),
    })
    expect(res.status).toBe(200)
    vk = ((await res.json()) as any).virtual_key.value
    expect(vk).toMatch(/^sk-bf-/)
  }, 30_000)

  afterAll(async () => {
    killRunningChildren()
    await gw?.close()
  })

  it('tools/list shows exactly the two allowed tools', async () => {
    const { tools } = json(await inspect(['--method', 'tools/list'], vk))
    expect(tools.map((t: any) => t.name).sort()).toEqual(['everything-echo', 'everything-get-sum'])
    const sum = tools.find((t: any) => t.name === 'everything-get-sum')
    expect(sum.inputSchema).toMatchObject({ type: 'object', properties: { a: {}, b: {} } })
  })

  it('tools/call everything-get-sum adds 2 and 40', async () => {
    const result = json(
      await inspect(
        ['--method', 'tools/call', '--tool-name', 'everything-get-sum', '--tool-arg', 'a=2', 'b=40'],
        vk,
      ),
    )
    expect(result.isError).toBeFalsy()
    expect(result.content).toEqual([{ type: 'text', text: expect.stringContaining('42') }])
  })

  it('tools/call of a tool outside the key is refused', async () => {
    const run = await inspect(
      ['--method', 'tools/call', '--tool-name', 'everything-get-env', '--tool-arg', 'x=1'],
      vk,
    )
    // A JSON-RPC error (not an isError result): the Inspector prints it on stderr and exits 1.
    expect(run.timedOut).toBe(false)
    expect(run.code).toBe(1)
    expect(run.stdout.trim()).toBe('')
    expect(run.stderr).toMatch(/-32602.*may not use MCP tool everything-get-env/)
  })

  it('without the header, with auth enforced, fails to connect', async () => {
    const run = await inspect(['--method', 'tools/list'])
    expect(run.timedOut).toBe(false)
    expect(run.code).not.toBe(0)
    expect(run.stdout).not.toContain('everything-')
    expect(run.stderr).toContain('virtual_key_required')
  })
})
