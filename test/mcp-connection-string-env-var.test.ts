import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { callJson, type RunningHeimdall, startHeimdall } from './helpers/heimdall.js'

/**
 * An MCP client's connection_string in Bifrost's EnvVar object form, `{value, env_var, from_env}`,
 * in config.json and through the MCP client API: read from the environment with from_env (the
 * reference, not the URL, is what the API shows), the literal value otherwise.
 */

const ENV_NAME = 'HEIMDALL_TEST_MCP_CONNECTION_URL'
let mcpServer: Server
let mcpUrl: string
let gw: RunningHeimdall | undefined

beforeAll(async () => {
  mcpServer = createServer((req, res) => {
    const server = new McpServer({ name: 'plain', version: '1.0.0' })
    server.registerTool('ping', { description: 'Answers pong' }, () => ({
      content: [{ type: 'text', text: 'pong' }],
    }))
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined })
    res.on('close', () => {
      void transport.close()
      void server.close()
    })
    void server.connect(transport).then(() => transport.handleRequest(req, res))
  })
  await new Promise<void>((resolve) => mcpServer.listen(0, '127.0.0.1', resolve))
  mcpUrl = `http://127.0.0.1:${(mcpServer.address() as AddressInfo).port}/mcp`
  process.env[ENV_NAME] = mcpUrl
})
afterAll(async () => {
  await gw?.close()
  delete process.env[ENV_NAME]
  mcpServer.closeAllConnections()
  await new Promise<void>((resolve) => mcpServer.close(() => resolve()))
})

async function clientNamed(name: string): Promise<any> {
  for (let i = 0; i < 200; i++) {
    const { body } = await callJson(gw!.url, 'GET', '/api/mcp/clients')
    const found = body.clients.find((c: any) => c.config.name === name)
    if (found?.state === 'connected') return found
    await sleep(25)
  }
  return (await callJson(gw!.url, 'GET', '/api/mcp/clients')).body.clients.find(
    (c: any) => c.config.name === name,
  )
}

describe('connection_string as {value, env_var, from_env}', () => {
  it('reads the URL from the environment in config.json, and shows the reference', async () => {
    gw = await startHeimdall({
      mcp: {
        client_configs: [
          {
            name: 'from_env',
            connection_type: 'http',
            connection_string: { value: '', env_var: `env.${ENV_NAME}`, from_env: true },
            tools_to_execute: ['*'],
          },
        ],
      },
    } as never)
    const client = await clientNamed('from_env')
    expect(client.state).toBe('connected')
    expect(client.tools.map((t: any) => t.name)).toContain('from_env-ping')
    expect(client.config.connection_string).toBe(`env.${ENV_NAME}`)
    expect(JSON.stringify(client)).not.toContain(mcpUrl)
  })

  it('takes the literal value through the API, and refuses a missing variable with a 400', async () => {
    const added = await callJson(gw!.url, 'POST', '/api/mcp/client', {
      name: 'literal',
      connection_type: 'http',
      connection_string: { value: mcpUrl, env_var: '', from_env: false },
      tools_to_execute: ['*'],
    })
    expect(added.status, JSON.stringify(added.body)).toBe(200)
    const client = await clientNamed('literal')
    expect(client.state).toBe('connected')
    expect(client.config.connection_string).toBe(mcpUrl)

    const missing = await callJson(gw!.url, 'POST', '/api/mcp/client', {
      name: 'missing',
      connection_type: 'http',
      connection_string: { value: '', env_var: 'HEIMDALL_TEST_NOT_SET', from_env: true },
    })
    expect(missing.status).toBe(400)
    expect(missing.body.error.message).toMatch(/HEIMDALL_TEST_NOT_SET is not set/)
    const wrong = await callJson(gw!.url, 'POST', '/api/mcp/client', {
      name: 'wrong',
      connection_type: 'http',
      connection_string: 42,
    })
    expect(wrong.status).toBe(400)
  })
})
