import { setTimeout as sleep } from 'node:timers/promises'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { afterAll, describe, expect, it } from 'vitest'
import type { ConfigFile } from '../src/core/schemas/index.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { backends } from './helpers/databases.js'
import { callJson, fakeProvider, type RunningHeimdall, startHeimdall } from './helpers/heimdall.js'
import { everythingClient, waitForTool } from './helpers/mcp.js'

/**
 * MCP tool logs (Bifrost's /api/mcp-logs): every tool execution, whether agent mode ran it for an
 * inference request or a caller ran it with POST /v1/mcp/tool/execute, is stored beside the
 * request logs with its arguments and result, and found by Bifrost's filters.
 */

let fake: FakeServer | undefined
const running: RunningHeimdall[] = []
afterAll(async () => {
  for (const gw of running.splice(0)) await gw.close()
  await fake?.close()
})

describe.each(backends('mcp-logs'))('MCP tool logs on $kind', (backend) => {
  it('logs agent-mode and executed tool calls and answers Bifrost’s list, stats and filters', async () => {
    fake ??= await startFakeOpenAI()
    const gw = await startHeimdall({
      providers: { openai: fakeProvider(fake.url) },
      logs_store: {
        ...(await backend.fresh()),
        flush_interval_ms: 10,
      } as unknown as ConfigFile['logs_store'],
      mcp: {
        client_configs: [everythingClient({ tools_to_auto_execute: ['echo'] })],
      },
    })
    running.push(gw)
    await waitForTool(gw, 'everything-echo')

    const api = (method: string, path: string, body?: unknown) => callJson(gw.url, method, path, body)
    const key = async (name: string, tools: string[], extra: Record<string, unknown> = {}) => {
      const res = await api('POST', '/api/governance/virtual-keys', {
        name,
        provider_configs: [{ provider: 'openai', allowed_models: ['*'], key_ids: ['*'] }],
        mcp_configs: [{ mcp_client_name: 'everything', tools_to_execute: tools }],
        ...extra,
      })
      expect(res.status, JSON.stringify(res.body)).toBe(200)
      return res.body.virtual_key as { id: string; value: string }
    }
    const agent = await key('agent', ['echo'])
    const summer = await key('summer', ['get-sum'])
    const quiet = await key('quiet', ['echo'], { disable_content_logging: true })
    const execute = (vk: string, name: string, args: unknown, id: string) =>
      fetch(`${gw.url}/v1/mcp/tool/execute`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-bf-vk': vk },
        body: JSON.stringify({ id, type: 'function', function: { name, arguments: JSON.stringify(args) } }),
      })

    // Agent mode: the model calls echo, the gateway runs it and asks again.
    const chat = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-bf-vk': agent.value, 'x-request-id': 'agent-req' },
      body: JSON.stringify({
        model: 'openai/gpt-4o-mini',
        messages: [{ role: 'user', content: 'say hello' }],
      }),
    })
    expect(chat.status).toBe(200)
    expect(chat.headers.get('x-bifrost-mcp-agent-rounds')).toBe('1')
    // A caller runs tools itself: one that answers, one that fails, one under a key that keeps no content.
    expect(
      (await execute(agent.value, 'everything-echo', { message: 'direct call' }, 'call_direct')).status,
    ).toBe(200)
    const failed = await execute(summer.value, 'everything-get-sum', { a: 'not a number' }, 'call_bad')
    const failedText = await failed.text()
    expect((await execute(quiet.value, 'everything-echo', { message: 'hush' }, 'call_quiet')).status).toBe(
      200,
    )

    let list: any
    for (let i = 0; i < 200; i++) {
      list = (await api('GET', '/api/mcp-logs')).body
      // The page and the count are two queries: wait until both see every call.
      if (list.logs?.length >= 4 && list.pagination.total_count >= 4) break
      await sleep(25)
    }
    expect(list.pagination).toMatchObject({
      total_count: 4,
      limit: 50,
      offset: 0,
      sort_by: 'timestamp',
      order: 'desc',
    })
    expect(list.has_logs).toBe(true)
    const byCall = (id: string) => list.logs.find((l: any) => l.tool_call_id === id)

    // The tool call names the request log entry of its round: the gateway's id, not the caller's x-request-id.
    const fromAgent = list.logs.find((l: any) => l.llm_request_id !== undefined)
    expect(fromAgent).toMatchObject({
      tool_name: 'echo',
      server_label: 'everything',
      status: 'success',
      virtual_key_id: agent.id,
      virtual_key_name: 'agent',
      arguments: { message: 'hello' },
    })
    expect(String(fromAgent.result)).toContain('Echo: hello')
    expect(fromAgent.latency).toBeGreaterThan(0)
    expect(Date.parse(fromAgent.timestamp)).toBeGreaterThan(Date.now() - 60_000)

    const direct = byCall('call_direct')
    expect(direct).toMatchObject({
      tool_name: 'echo',
      status: 'success',
      arguments: { message: 'direct call' },
    })
    expect(direct.llm_request_id).toBeUndefined()
    const bad = byCall('call_bad')
    expect(bad, failedText + JSON.stringify(list.logs)).toMatchObject({
      tool_name: 'get-sum',
      status: 'error',
    })
    expect(bad.error_details.error.message).not.toBe('')
    const hushed = byCall('call_quiet')
    expect(hushed).toMatchObject({ tool_name: 'echo', status: 'success', virtual_key_id: quiet.id })
    expect(hushed.arguments).toBeUndefined()
    expect(hushed.result).toBeUndefined()

    // Both agent rounds keep a request log entry of their own.
    let requests: any[] = []
    for (let i = 0; i < 200 && requests.length < 2; i++) {
      requests = (await api('GET', '/api/logs?virtual_key_ids=' + agent.id)).body.logs
      if (requests.length < 2) await sleep(25)
    }
    expect(requests.map((l: any) => l.id).sort(), JSON.stringify(requests)).toEqual([
      fromAgent.llm_request_id,
      `${fromAgent.llm_request_id}-round-2`,
    ])
    expect(requests.map((l: any) => l.client_request_id)).toEqual(['agent-req', 'agent-req'])

    const ids = async (q: string) => {
      const res = await api('GET', `/api/mcp-logs?${q}`)
      expect(res.status, JSON.stringify(res.body)).toBe(200)
      return res.body.logs.map((l: any) => l.tool_call_id ?? l.llm_request_id).sort()
    }
    expect(await ids('tool_names=get-sum')).toEqual(['call_bad'])
    expect(await ids('status=error')).toEqual(['call_bad'])
    expect(await ids('server_labels=everything')).toHaveLength(4)
    expect(await ids(`virtual_key_ids=${quiet.id}`)).toEqual(['call_quiet'])
    expect(await ids(`llm_request_ids=${fromAgent.llm_request_id}`)).toHaveLength(1)
    expect(await ids('content_search=DIRECT%20CALL')).toEqual(['call_direct'])
    expect(await ids('content_search=hush')).toEqual([])
    expect(await ids(`start_time=${new Date(Date.now() + 60_000).toISOString()}`)).toEqual([])
    expect(await ids('min_latency=0&max_latency=600000')).toHaveLength(4)
    const slowest = (await api('GET', '/api/mcp-logs?sort_by=latency&order=desc&limit=1')).body
    expect(slowest.logs).toHaveLength(1)
    expect(slowest.logs[0].latency).toBe(Math.max(...list.logs.map((l: any) => l.latency)))

    const stats = (await api('GET', '/api/mcp-logs/stats?tool_names=echo')).body
    expect(stats).toMatchObject({ total_executions: 3, success_rate: 100, total_cost: 0 })
    expect(stats.average_latency).toBeGreaterThan(0)
    expect(list.stats).toMatchObject({ total_executions: 4, success_rate: 75 })
    expect((await api('GET', '/api/mcp-logs/filterdata')).body).toEqual({
      tool_names: ['echo', 'get-sum'],
      server_labels: ['everything'],
    })
    expect((await api('GET', `/api/mcp-logs/${direct.id}`)).body).toEqual(direct)
    const missing = await api('GET', '/api/mcp-logs/nope')
    expect(missing.status).toBe(404)
    expect(missing.body.error.message).toMatch(/not found/)
    for (const q of ['limit=0', 'sort_by=tokens', 'min_latency=fast', 'start_time=yesterday']) {
      const res = await api('GET', `/api/mcp-logs?${q}`)
      expect(res.status, q).toBe(400)
    }

    expect((await api('DELETE', '/api/mcp-logs', { ids: [bad.id] })).status).toBe(200)
    expect((await api('GET', '/api/mcp-logs')).body.pagination.total_count).toBe(3)
    expect((await api('DELETE', '/api/mcp-logs', { ids: 'all' })).status).toBe(400)

    // A tool an MCP client calls directly on /mcp is logged too, under the caller's key.
    const client = new Client({ name: 'test', version: '1.0.0' })
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${agent.value}` } },
      }),
    )
    try {
      const answer = await client.callTool({ name: 'everything-echo', arguments: { message: 'over mcp' } })
      expect(JSON.stringify(answer.content)).toContain('over mcp')
    } finally {
      await client.close()
    }
    let overMcp: any[] = []
    for (let i = 0; i < 200 && overMcp.length === 0; i++) {
      overMcp = (await api('GET', '/api/mcp-logs?content_search=over%20mcp')).body.logs
      if (overMcp.length === 0) await sleep(25)
    }
    expect(overMcp).toHaveLength(1)
    expect(overMcp[0]).toMatchObject({
      tool_name: 'echo',
      server_label: 'everything',
      status: 'success',
      virtual_key_id: agent.id,
      arguments: { message: 'over mcp' },
    })
    expect(overMcp[0].llm_request_id).toBeUndefined()
  }, 30_000)
})
