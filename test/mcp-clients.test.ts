import { EVERYTHING } from './helpers/mcp.js'
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer, type Server, type Socket } from 'node:net'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { installErrorHandlers } from '../src/http/errors.js'
import { registerMcpRoutes } from '../src/http/routes/mcp.js'
import {
  McpClientManager,
  SqlMcpClientRepo,
  exposedToolNames,
  type McpClientView,
  type ConnectionTimings,
} from '../src/mcp/index.js'
import { openConfigStore, type ConfigStore } from '../src/store/index.js'
import { sqliteBackend, tempDir } from './helpers/databases.js'
import { freePort } from './helpers/free-port.js'

/**
 * MCP clients against the real server-everything, over stdio and streamable HTTP, driven through
 * the management API: connection states, exposed tool names, tool calls, supervision of stdio
 * servers (restart after a crash, no process left behind) and persistence with sealed secrets.
 */

const TIMINGS: Partial<ConnectionTimings> = {
  connectTimeoutMs: 8000,
  initialBackoffMs: 200,
  maxBackoffMs: 1000,
  healthIntervalMs: 0,
}

const sqlite = sqliteBackend('mcp-clients')
const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f()
})

interface Harness {
  app: FastifyInstance
  manager: McpClientManager
  store: ConfigStore
}

async function harness(
  opts: {
    timings?: Partial<ConnectionTimings>
    allowStdio?: boolean
    encryptionKey?: string
    store?: ConfigStore
  } = {},
): Promise<Harness> {
  const store =
    opts.store ??
    (await openConfigStore(await sqlite.fresh(), {
      appDir: tempDir('mcp-app'),
      encryptionKey: opts.encryptionKey,
    }))
  const manager = new McpClientManager({
    repo: new SqlMcpClientRepo(store),
    timings: { ...TIMINGS, ...opts.timings },
  })
  const app = Fastify()
  installErrorHandlers(app)
  registerMcpRoutes(app, { manager, allowStdio: opts.allowStdio })
  await app.ready()
  cleanups.push(async () => {
    await app.close()
    await manager.close()
    if (!opts.store) await store.close()
  })
  return { app, manager, store }
}

const stdioClient = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  connection_type: 'stdio',
  stdio_config: { command: process.execPath, args: [EVERYTHING] },
  tools_to_execute: ['*'],
  ...extra,
})

/** server-everything over streamable HTTP, on the given port or a free one. */
async function startEverythingHttp(port?: number): Promise<{ url: string; child: ChildProcess }> {
  port ??= await freePort()
  const child = spawn(process.execPath, [EVERYTHING, 'streamableHttp'], {
    env: { ...process.env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server-everything did not start')), 15_000)
    const onData = (chunk: Buffer) => {
      if (chunk.toString().includes('listening')) {
        clearTimeout(timer)
        resolve()
      }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    child.once('exit', (code) => reject(new Error(`server-everything exited with ${code}`)))
  })
  return { url: `http://127.0.0.1:${port}/mcp`, child }
}

/** One server-everything over HTTP shared by the file's tests; killed after them. */
let httpServer: Promise<{ url: string; child: ChildProcess }> | undefined
function everythingOverHttp(): Promise<{ url: string; child: ChildProcess }> {
  httpServer ??= startEverythingHttp()
  return httpServer
}
afterAll(async () => {
  const server = await httpServer?.catch(() => undefined)
  server?.child.kill('SIGKILL')
})

async function listClients(app: FastifyInstance): Promise<McpClientView[]> {
  const res = await app.inject({ method: 'GET', url: '/api/mcp/clients' })
  expect(res.statusCode).toBe(200)
  const body = res.json() as { clients: McpClientView[]; count: number; total_count: number }
  expect(body.count).toBe(body.clients.length)
  return body.clients
}

async function addClient(app: FastifyInstance, body: Record<string, unknown>) {
  return app.inject({ method: 'POST', url: '/api/mcp/client', payload: body })
}

function clientNamed(clients: McpClientView[], name: string): McpClientView {
  const found = clients.find((c) => c.config.name === name)
  if (!found) throw new Error(`no client ${name}`)
  return found
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function waitFor(check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

const text = (result: { content: { type: string; [k: string]: unknown }[] }) =>
  result.content.map((c) => (c.type === 'text' ? String(c.text) : '')).join('')

describe('MCP clients over stdio and streamable HTTP', () => {
  it('connects both, lists their tools as <client>-<tool>, and calls them', async () => {
    const { app, manager } = await harness()
    const { url } = await everythingOverHttp()
    const stdio = await addClient(app, stdioClient('everything'))
    expect(stdio.statusCode).toBe(200)
    expect(stdio.json()).toEqual({ status: 'success', message: 'MCP client added successfully' })
    const http = await addClient(app, {
      name: 'everything_http',
      connection_type: 'http',
      connection_string: url,
      tools_to_execute: ['*'],
    })
    expect(http.statusCode).toBe(200)

    const clients = await listClients(app)
    for (const name of ['everything', 'everything_http']) {
      const c = clientNamed(clients, name)
      expect(c.state).toBe('connected')
      expect(c.tools.map((t) => t.name)).toContain(`${name}-echo`)
      expect(c.tools.map((t) => t.name)).toContain(`${name}-get-sum`)
      for (const t of c.tools) expect(t.name).toMatch(/^[A-Za-z0-9_-]{1,64}$/)
      expect(c.config.client_id).toEqual(expect.any(String))
    }

    const names = manager.listTools().map((t) => t.name)
    expect(names).toContain('everything-echo')
    expect(names).toContain('everything_http-echo')
    for (const name of ['everything-echo', 'everything_http-echo']) {
      expect(text(await manager.callTool(name, { message: 'hi' }))).toBe('Echo: hi')
    }
    expect(text(await manager.callTool('everything_http-get-sum', { a: 2, b: 40 }))).toContain('42')
    expect(text(await manager.callTool('everything-get-sum', { a: 1, b: 2 }))).toContain('3')
    await expect(manager.callTool('everything-nope', {})).rejects.toMatchObject({ code: 'not_found' })
  })

  it('exposes only the tools of tools_to_execute, and follows an update', async () => {
    const { app, manager } = await harness()
    expect(
      (
        await addClient(
          app,
          stdioClient('picky', { tools_to_execute: ['echo'], tools_to_auto_execute: ['echo'] }),
        )
      ).statusCode,
    ).toBe(200)
    expect(manager.listTools().map((t) => t.name)).toEqual(['picky-echo'])
    expect(manager.autoExecutes('picky-echo')).toBe(true)
    await expect(manager.callTool('picky-get-sum', { a: 1, b: 1 })).rejects.toMatchObject({
      code: 'not_found',
    })

    const id = clientNamed(await listClients(app), 'picky').config.client_id
    const put = await app.inject({
      method: 'PUT',
      url: `/api/mcp/client/${id}`,
      payload: { tools_to_execute: ['*'], tools_to_auto_execute: [] },
    })
    expect(put.statusCode).toBe(200)
    expect(put.json()).toEqual({ status: 'success', message: 'MCP client updated successfully' })
    const names = manager.listTools().map((t) => t.name)
    expect(names).toContain('picky-get-sum')
    expect(manager.autoExecutes('picky-echo')).toBe(false)

    const none = await app.inject({
      method: 'PUT',
      url: `/api/mcp/client/${id}`,
      payload: { tools_to_execute: [] },
    })
    expect(none.statusCode).toBe(200)
    expect(manager.listTools()).toEqual([])
    // The list still shows what the server offers.
    expect(clientNamed(await listClients(app), 'picky').tools.length).toBeGreaterThan(1)
  })

  it('answers 400, 404 and 409 for bad requests', async () => {
    const { app } = await harness()
    const bad = async (body: Record<string, unknown>, status: number, fragment: string) => {
      const res = await addClient(app, body)
      expect(res.statusCode).toBe(status)
      expect(JSON.stringify(res.json())).toContain(fragment)
    }
    await bad(stdioClient('bad-name'), 400, 'no hyphen')
    await bad(stdioClient(''), 400, 'name')
    await bad(
      { name: 'x', connection_type: 'websocket', connection_string: 'http://x' },
      400,
      'connection_type',
    )
    await bad({ name: 'x' }, 400, 'connection_type is required')
    await bad({ name: 'x', connection_type: 'stdio' }, 400, 'stdio_config.command')
    await bad({ name: 'x', connection_type: 'http' }, 400, 'connection_string is required')
    await bad({ name: 'x', connection_type: 'sse', connection_string: 'not a url' }, 400, 'valid URL')

    for (const [method, url] of [
      ['PUT', '/api/mcp/client/nope'],
      ['DELETE', '/api/mcp/client/nope'],
      ['POST', '/api/mcp/client/nope/reconnect'],
    ] as const) {
      const res = await app.inject({ method, url, payload: method === 'PUT' ? {} : undefined })
      expect(res.statusCode).toBe(404)
    }

    expect((await addClient(app, stdioClient('twice'))).statusCode).toBe(200)
    await bad(stdioClient('twice'), 409, 'already exists')
    const id = clientNamed(await listClients(app), 'twice').config.client_id
    const immutable = await app.inject({
      method: 'PUT',
      url: `/api/mcp/client/${id}`,
      payload: { connection_type: 'http' },
    })
    expect(immutable.statusCode).toBe(400)
  })

  it('lists a stdio client whose command does not exist in the error state, quickly', async () => {
    const { app, manager } = await harness()
    const started = Date.now()
    const res = await addClient(app, {
      name: 'missing',
      connection_type: 'stdio',
      stdio_config: { command: '/nonexistent/heimdall-mcp-server', args: [] },
      tools_to_execute: ['*'],
    })
    expect(res.statusCode).toBe(200)
    expect(Date.now() - started).toBeLessThan(3000)
    const c = clientNamed(await listClients(app), 'missing')
    expect(c.state).toBe('error')
    expect(c.error).toMatch(/ENOENT/)
    expect(c.tools).toEqual([])
    await expect(manager.callTool('missing-echo', {})).rejects.toMatchObject({
      code: 'upstream_connection_error',
    })
  })

  it('puts an HTTP client whose server never answers in the error state within the connect timeout', async () => {
    const sockets = new Set<Socket>()
    const silent: Server = createServer((socket) => {
      sockets.add(socket)
    })
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    cleanups.push(async () => {
      for (const s of sockets) s.destroy()
      await new Promise((resolve) => silent.close(resolve))
    })
    const port = (silent.address() as { port: number }).port
    const { app } = await harness({ timings: { connectTimeoutMs: 1000 } })
    const started = Date.now()
    const res = await addClient(app, {
      name: 'silent',
      connection_type: 'http',
      connection_string: `http://127.0.0.1:${port}/mcp`,
      tools_to_execute: ['*'],
    })
    expect(res.statusCode).toBe(200)
    expect(Date.now() - started).toBeLessThan(4000)
    const c = clientNamed(await listClients(app), 'silent')
    expect(c.state).toBe('error')
    expect(c.error).toContain('1000 ms')
  })

  it('restarts a stdio server that died, hiding its tools meanwhile', async () => {
    const { app, manager } = await harness({ timings: { initialBackoffMs: 1500 } })
    expect((await addClient(app, stdioClient('phoenix'))).statusCode).toBe(200)
    const id = clientNamed(await listClients(app), 'phoenix').config.client_id
    const first = manager.status(id).pid
    expect(first).toEqual(expect.any(Number))
    let changes = 0
    manager.onChange(() => changes++)

    process.kill(first!, 'SIGKILL')
    await waitFor(() => manager.status(id).state === 'disconnected')
    expect(manager.listTools().filter((t) => t.client === 'phoenix')).toEqual([])
    expect(clientNamed(await listClients(app), 'phoenix').state).toBe('disconnected')
    await expect(manager.callTool('phoenix-echo', { message: 'x' })).rejects.toMatchObject({
      code: 'upstream_connection_error',
    })

    await waitFor(() => manager.status(id).state === 'connected', 15_000)
    const second = manager.status(id).pid
    expect(second).not.toBe(first)
    expect(isAlive(first!)).toBe(false)
    expect(text(await manager.callTool('phoenix-echo', { message: 'again' }))).toBe('Echo: again')
    expect(changes).toBeGreaterThanOrEqual(2)
  })

  it('kills the stdio server on delete, on reconnect and on close', async () => {
    const { app, manager } = await harness()
    expect((await addClient(app, stdioClient('doomed'))).statusCode).toBe(200)
    expect((await addClient(app, stdioClient('kept'))).statusCode).toBe(200)
    const clients = await listClients(app)
    const doomed = clientNamed(clients, 'doomed').config.client_id
    const kept = clientNamed(clients, 'kept').config.client_id

    const before = manager.status(kept).pid!
    const reconnect = await app.inject({ method: 'POST', url: `/api/mcp/client/${kept}/reconnect` })
    expect(reconnect.statusCode).toBe(200)
    expect(reconnect.json()).toEqual({ status: 'success', message: 'MCP client reconnected successfully' })
    expect(isAlive(before)).toBe(false)
    expect(manager.status(kept).state).toBe('connected')

    const pid = manager.status(doomed).pid!
    expect(isAlive(pid)).toBe(true)
    const del = await app.inject({ method: 'DELETE', url: `/api/mcp/client/${doomed}` })
    expect(del.statusCode).toBe(200)
    expect(del.json()).toEqual({ status: 'success', message: 'MCP client removed successfully' })
    expect(isAlive(pid)).toBe(false)
    expect((await listClients(app)).map((c) => c.config.name)).toEqual(['kept'])

    const keptPid = manager.status(kept).pid!
    await manager.close()
    expect(isAlive(keptPid)).toBe(false)
  })

  it('initializes a new HTTP session when the server forgot the old one, and retries the call', async () => {
    const port = await freePort()
    let server = await startEverythingHttp(port)
    cleanups.push(() => {
      server.child.kill('SIGKILL')
    })
    const { app, manager } = await harness()
    const res = await addClient(app, {
      name: 'forgetful',
      connection_type: 'http',
      connection_string: server.url,
      tools_to_execute: ['*'],
    })
    expect(res.statusCode).toBe(200)
    expect(text(await manager.callTool('forgetful-echo', { message: 'one' }))).toBe('Echo: one')

    // A restarted server has no memory of the session the client holds.
    const exited = new Promise((resolve) => server.child.once('exit', resolve))
    server.child.kill('SIGKILL')
    await exited
    server = await startEverythingHttp(port)
    expect(text(await manager.callTool('forgetful-echo', { message: 'two' }))).toBe('Echo: two')
    expect(manager.get(clientNamed(manager.list(), 'forgetful').config.client_id).state).toBe('connected')
  })

  it('refuses stdio clients when allow_stdio is off', async () => {
    const { app } = await harness({ allowStdio: false })
    const res = await addClient(app, stdioClient('nope'))
    expect(res.statusCode).toBe(403)
    expect(await listClients(app)).toEqual([])
  })

  it('persists clients with sealed secrets, redacts them, and adds config.json clients once', async () => {
    const store = await openConfigStore(await sqlite.fresh(), {
      appDir: tempDir('mcp-persist'),
      encryptionKey: 'mcp-test-encryption-key',
    })
    cleanups.push(() => store.close())
    const secret = 'sk-mcp-header-secret-0123456789'
    const envSecret = 'env-secret-value-9876543210'
    const { app } = await harness({ store })
    const { url } = await everythingOverHttp()
    const res = await addClient(app, {
      name: 'remote',
      connection_type: 'http',
      connection_string: url,
      headers: { Authorization: `Bearer ${secret}` },
      tools_to_execute: ['echo'],
    })
    expect(res.statusCode).toBe(200)
    expect(
      (
        await addClient(
          app,
          stdioClient('local', {
            stdio_config: {
              command: process.execPath,
              args: [EVERYTHING],
              envs: [`TOKEN=${envSecret}`, 'HOME'],
            },
          }),
        )
      ).statusCode,
    ).toBe(200)

    const listed = JSON.stringify(await listClients(app))
    expect(listed).not.toContain(secret)
    expect(listed).not.toContain(envSecret)
    const remote = clientNamed(await listClients(app), 'remote')
    expect(remote.config.headers?.Authorization).toMatch(/^Bear\*{24}.{4}$/)
    expect(remote.state).toBe('connected')

    const raw = JSON.stringify(
      await store.db
        .withTables<{ mcp_clients: { config: string } }>()
        .selectFrom('mcp_clients')
        .select('config')
        .execute(),
    )
    expect(raw).not.toContain(secret)
    expect(raw).not.toContain(envSecret)

    // Sending the redacted value back keeps the secret.
    const put = await app.inject({
      method: 'PUT',
      url: `/api/mcp/client/${remote.config.client_id}`,
      payload: { headers: remote.config.headers, tools_to_execute: ['*'] },
    })
    expect(put.statusCode).toBe(200)

    // A second manager on the same store: the stored clients come back, and config.json's
    // clients are added only when their name is not stored yet.
    const again = new McpClientManager({ repo: new SqlMcpClientRepo(store), timings: TIMINGS })
    cleanups.push(() => again.close())
    await again.load([
      { name: 'remote', connection_type: 'http', connection_string: 'http://127.0.0.1:1/ignored' },
      stdioClient('from_file'),
    ])
    const views = again.list()
    expect(views.map((v) => v.config.name).sort()).toEqual(['from_file', 'local', 'remote'])
    const reloaded = views.find((v) => v.config.name === 'remote')!
    expect(reloaded.config.connection_string).toBe(url)
    await waitFor(() => again.listTools().some((t) => t.name === 'remote-get-sum'))
    expect(text(await again.callTool('remote-echo', { message: 'stored' }))).toBe('Echo: stored')
    await expect(again.load([{ name: 'bad-name', connection_type: 'stdio' }])).rejects.toThrow(
      /mcp\.client_configs\[0\]/,
    )
  })
})

describe('exposed tool names', () => {
  it('are deterministic, sanitized, at most 64 characters and unique', () => {
    const long = 'x'.repeat(80)
    const names = exposedToolNames('srv', ['echo', 'a.b', 'a_b', long, 'with space'])
    expect(names.get('echo')).toBe('srv-echo')
    expect(names.get('a_b')).toBe('srv-a_b')
    expect(names.get('a.b')).toMatch(/^srv-a_b_[0-9a-f]{8}$/)
    expect(names.get('with space')).toBe('srv-with_space')
    expect(names.get(long)!.length).toBe(64)
    expect(new Set(names.values()).size).toBe(5)
    for (const n of names.values()) expect(n).toMatch(/^[A-Za-z0-9_-]{1,64}$/)
    expect(exposedToolNames('srv', [long, 'a.b', 'a_b', 'with space', 'echo'])).toEqual(names)
  })
})
