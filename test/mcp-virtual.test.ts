import { setTimeout as sleep } from 'node:timers/promises'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { callJson, type RunningHeimdall, startHeimdall } from './helpers/heimdall.js'
import { postToolsList, type RunningUpstream, startUpstream } from './helpers/mcp-upstream.js'

/**
 * Virtual MCPs (Bifrost's `mcp.virtual_mcps`): named bundles of tools from several MCP clients,
 * managed at /api/mcp/virtual-mcps and declared in config.json, each served at /mcp/<slug> to the
 * virtual keys attached to it, as an MCP SDK client sees it.
 */
describe('Virtual MCPs', () => {
  let upstream: RunningUpstream
  let gw: RunningHeimdall
  let alphaId: string
  let attached: { id: string; value: string }
  let other: { id: string; value: string }
  const open: Client[] = []

  const api = (method: string, path: string, body?: unknown) => callJson(gw.url, method, path, body)

  async function connect(path: string, vk?: string): Promise<Client> {
    const client = new Client({ name: 'virtual-test', version: '1.0.0' })
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${gw.url}${path}`), {
        requestInit: { headers: vk ? { authorization: `Bearer ${vk}` } : {} },
      }),
    )
    open.push(client)
    return client
  }

  const names = async (client: Client) => (await client.listTools()).tools.map((t) => t.name).sort()

  beforeAll(async () => {
    upstream = await startUpstream()
    const client = (name: string) => ({
      name,
      connection_type: 'http',
      connection_string: upstream.url,
      tools_to_execute: ['*'],
    })
    gw = await startHeimdall({
      mcp: {
        client_configs: [client('alpha'), client('beta')],
        virtual_mcps: [{ name: 'From File', tools: [{ mcp_client_id: 'beta', tool_names: ['slow'] }] }],
      },
    })
    for (let i = 0; i < 200 && gw.heimdall.mcp.listTools().length < 4; i++) await sleep(25)
    alphaId = (await api('GET', '/api/mcp/clients')).body.clients.find((c: any) => c.config.name === 'alpha')
      .config.client_id
    const key = async (name: string) => {
      const vk = (await api('POST', '/api/governance/virtual-keys', { name })).body.virtual_key
      return { id: vk.id as string, value: vk.value as string }
    }
    attached = await key('attached')
    other = await key('other')
  }, 30_000)

  afterAll(async () => {
    await Promise.all(open.map((c) => c.close().catch(() => undefined)))
    await gw?.close()
    await upstream?.close()
  })

  it('creates one through the API and serves its tools from two clients at /mcp/<slug>', async () => {
    const created = await api('POST', '/api/mcp/virtual-mcps', {
      name: 'Weather Desk',
      description: 'reports and slow jobs',
      tools: [
        { mcp_client_id: alphaId, tool_names: ['report'] },
        { mcp_client_id: 'beta', tool_names: ['*'] },
      ],
      virtual_key_ids: [attached.id],
    })
    expect(created.status).toBe(201)
    expect(created.body.virtual_mcp).toMatchObject({
      id: expect.any(Number),
      name: 'Weather Desk',
      endpoint_slug: 'weather-desk',
      enabled: true,
      virtual_key_ids: [attached.id],
    })
    const client = await connect('/mcp/weather-desk', attached.value)
    expect(await names(client)).toEqual(['alpha-report', 'beta-report', 'beta-slow'])
    const result = await client.callTool({ name: 'alpha-report', arguments: { city: 'Rome' } })
    expect(result.structuredContent).toEqual({ city: 'Rome', celsius: 21 })
    await expect(client.callTool({ name: 'alpha-slow', arguments: {} })).rejects.toThrow(
      /not part of virtual MCP Weather Desk/,
    )
    // beta is bundled whole: its prompts and resources come along; alpha's do not.
    expect((await client.listPrompts()).prompts.map((p) => p.name)).toEqual(['beta-greet'])
    const listed = await api('GET', '/api/mcp/virtual-mcps')
    expect(listed.body).toMatchObject({ count: 2, total_count: 2 })
  })

  it('serves it only to the virtual keys attached to it', async () => {
    await expect(connect('/mcp/weather-desk', other.value)).rejects.toThrow(/not attached/)
    await expect(connect('/mcp/weather-desk')).rejects.toThrow(/needs a virtual key/)
    const res = await postToolsList(`${gw.url}/mcp/weather-desk`)
    expect(res.status).toBe(401)
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/)
    const id = (await api('GET', '/api/mcp/virtual-mcps')).body.virtual_mcps.find(
      (v: any) => v.endpoint_slug === 'weather-desk',
    ).id
    expect((await api('POST', `/api/mcp/virtual-mcps/${id}/virtual-keys/${other.id}`)).status).toBe(200)
    expect(await names(await connect('/mcp/weather-desk', other.value))).toHaveLength(3)
    expect((await api('DELETE', `/api/mcp/virtual-mcps/${id}/virtual-keys/${other.id}`)).status).toBe(200)
    await expect(connect('/mcp/weather-desk', other.value)).rejects.toThrow(/not attached/)
  })

  it('follows updates (tools, enabled) without changing the slug, and stops serving it when deleted', async () => {
    const id = (await api('GET', '/api/mcp/virtual-mcps?search=weather')).body.virtual_mcps[0].id
    const updated = await api('PUT', `/api/mcp/virtual-mcps/${id}`, {
      endpoint_slug: 'ignored',
      tools: [{ mcp_client_id: 'alpha', tool_names: ['slow'] }],
    })
    expect(updated.status).toBe(200)
    expect(updated.body.virtual_mcp).toMatchObject({ endpoint_slug: 'weather-desk', name: 'Weather Desk' })
    const client = await connect('/mcp/weather-desk', attached.value)
    expect(await names(client)).toEqual(['alpha-slow'])
    expect((await api('PUT', `/api/mcp/virtual-mcps/${id}`, { enabled: false })).status).toBe(200)
    await expect(connect('/mcp/weather-desk', attached.value)).rejects.toThrow(/404|no virtual MCP/)
    expect((await api('DELETE', `/api/mcp/virtual-mcps/${id}`)).body).toEqual({ success: true })
    expect((await api('GET', `/api/mcp/virtual-mcps/${id}`)).status).toBe(404)
  })

  it('loads the ones config.json declares', async () => {
    const { body } = await api('GET', '/api/mcp/virtual-mcps')
    const fromFile = body.virtual_mcps.find((v: any) => v.name === 'From File')
    expect(fromFile).toMatchObject({ endpoint_slug: 'from-file', enabled: true, virtual_key_ids: [] })
    await api('POST', `/api/mcp/virtual-mcps/${fromFile.id}/virtual-keys/${attached.id}`)
    expect(await names(await connect('/mcp/from-file', attached.value))).toEqual(['beta-slow'])
  })

  it('answers bad requests with 4xx in Bifrost’s error shape', async () => {
    const bad = await api('POST', '/api/mcp/virtual-mcps', { name: 'x', tools: 'all' })
    expect(bad.status).toBe(400)
    expect(bad.body).toMatchObject({
      is_bifrost_error: false,
      error: { message: expect.stringMatching(/tools/) },
    })
    const unknownClient = await api('POST', '/api/mcp/virtual-mcps', {
      name: 'nope',
      tools: [{ mcp_client_id: 'missing', tool_names: ['*'] }],
    })
    expect(unknownClient.status).toBe(400)
    expect(unknownClient.body.error.message).toMatch(/invalid MCP client IDs: missing/)
    const duplicate = await api('POST', '/api/mcp/virtual-mcps', { name: 'From File' })
    expect(duplicate.status).toBe(409)
    expect(
      (await api('POST', '/api/mcp/virtual-mcps', { name: 'k', virtual_key_ids: ['vk-none'] })).status,
    ).toBe(404)
    expect((await api('GET', '/api/mcp/virtual-mcps/abc')).status).toBe(400)
    expect((await api('PUT', '/api/mcp/virtual-mcps/999', { enabled: true })).status).toBe(404)
    const res = await postToolsList(`${gw.url}/mcp/no-such-slug`, {
      authorization: `Bearer ${attached.value}`,
    })
    expect(res.status).toBe(404)
  })
})
