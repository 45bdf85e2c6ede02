import { connect, type Socket } from 'node:net'
import { afterAll, describe, expect, it } from 'vitest'
import { startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'
import { everythingClient } from './helpers/mcp.js'

const running: RunningHeimdall[] = []
afterAll(async () => {
  for (const gw of running.splice(0)) await gw.close()
})

async function start(extra = {}) {
  const gw = await startHeimdall({ logs_store: { type: 'sqlite' }, ...extra })
  running.push(gw)
  return gw
}

function portOf(gw: RunningHeimdall): number {
  return Number(new URL(gw.url).port)
}

function connections(gw: RunningHeimdall): Promise<number> {
  return new Promise((resolve, reject) =>
    gw.heimdall.app.server.getConnections((err, n) => (err ? reject(err) : resolve(n))),
  )
}

/** Sends an upgrade request on a raw socket; resolves with what the server wrote once it closed the socket, or undefined if it kept it open for `withinMs`. */
function upgrade(port: number, method: string, path: string, withinMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket: Socket = connect(port, '127.0.0.1')
    let received = ''
    const timer = setTimeout(() => {
      socket.destroy()
      resolve(undefined)
    }, withinMs)
    socket.on('data', (d) => (received += d.toString('latin1')))
    socket.on('error', () => undefined)
    socket.on('close', () => {
      clearTimeout(timer)
      resolve(received)
    })
    socket.write(
      `${method} ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: Upgrade\r\nupgrade: websocket\r\n` +
        `sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n` +
        (method === 'POST' ? 'content-type: application/json\r\ncontent-length: 2\r\n\r\n{}' : '\r\n'),
    )
  })
}

/** gw.close(), failing if it takes longer than `ms`. */
async function closeWithin(gw: RunningHeimdall, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    gw.close(),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`close() did not complete within ${ms} ms`)), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}

async function settle(gw: RunningHeimdall, baseline: number): Promise<number> {
  let n = await connections(gw)
  for (let i = 0; i < 100 && n > baseline; i++) {
    await new Promise((r) => setTimeout(r, 20))
    n = await connections(gw)
  }
  return n
}

describe('upgrade requests to paths without a websocket route', () => {
  it('are answered in Bifrost error shape and their sockets closed, with or without admin auth', async () => {
    for (const auth of [
      undefined,
      { is_enabled: true, admin_username: 'admin', admin_password: 'hunter2-long' },
    ]) {
      const gw = await start(auth ? { auth_config: auth } : {})
      const baseline = await connections(gw)
      const targets: [string, string][] = [
        ['POST', '/v1/chat/completions'],
        ['GET', '/api/providers'],
        ['GET', '/nonexistent'],
      ]
      const answers = await Promise.all(
        Array.from({ length: 30 }, (_, i) => upgrade(portOf(gw), ...targets[i % 3], 2000)),
      )
      for (const answer of answers) {
        expect(answer, 'the server kept the socket open').toBeDefined()
        expect(answer).toMatch(/^HTTP\/1\.1 404 /)
        const body = JSON.parse(answer!.slice(answer!.indexOf('\r\n\r\n') + 4))
        expect(body).toMatchObject({ is_bifrost_error: true, error: { type: 'not_found_error' } })
      }
      expect(await settle(gw, baseline)).toBe(baseline)
      // The gateway still serves.
      expect((await fetch(`${gw.url}/health`)).status).toBeLessThan(500)
    }
  })

  it('a refused /ws/logs upgrade (wrong method, no credentials) closes its socket too', async () => {
    const gw = await start({
      auth_config: { is_enabled: true, admin_username: 'admin', admin_password: 'hunter2-long' },
    })
    const baseline = await connections(gw)
    const unauthenticated = await upgrade(portOf(gw), 'GET', '/ws/logs', 2000)
    expect(unauthenticated).toMatch(/^HTTP\/1\.1 401 /)
    const wrongMethod = await upgrade(portOf(gw), 'POST', '/ws/logs', 2000)
    expect(wrongMethod).toMatch(/^HTTP\/1\.1 400 /)
    expect(await settle(gw, baseline)).toBe(baseline)
  })
})

describe('shutdown with upgraded sockets open', () => {
  it('close() completes while a /ws/logs peer ignores the close frame, and ends its socket', async () => {
    const gw = await startHeimdall({ logs_store: { type: 'sqlite' } })
    // A websocket handshake on a raw socket that never answers anything afterwards.
    const peer = connect(portOf(gw), '127.0.0.1')
    peer.on('error', () => undefined)
    const handshake = new Promise<string>((resolve) =>
      peer.once('data', (d) => resolve(d.toString('latin1'))),
    )
    const peerClosed = new Promise((resolve) => peer.once('close', resolve))
    peer.write(
      'GET /ws/logs HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: Upgrade\r\nupgrade: websocket\r\n' +
        'sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    )
    expect(await handshake).toMatch(/^HTTP\/1\.1 101 /)
    const started = Date.now()
    await closeWithin(gw, 5000)
    expect(Date.now() - started).toBeLessThan(5000)
    await peerClosed
    peer.destroy()
  })

  it('with a stdio MCP client and a refused upgrade socket, close() completes and the stdio child is gone', async () => {
    const gw = await startHeimdall({
      logs_store: { type: 'sqlite' },
      mcp: {
        client_configs: [everythingClient()],
      },
    })
    const id = gw.heimdall.mcp.list()[0].config.client_id
    let pid: number | undefined
    for (let i = 0; i < 200 && pid === undefined; i++) {
      pid = gw.heimdall.mcp.status(id).pid
      if (pid === undefined) await new Promise((r) => setTimeout(r, 25))
    }
    expect(pid).toEqual(expect.any(Number))
    // The socket the audit saw leak: an upgrade to a path with no websocket route, never closed by the client.
    const stray = connect(portOf(gw), '127.0.0.1')
    stray.on('error', () => undefined)
    stray.write(
      'GET /nonexistent HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: Upgrade\r\nupgrade: websocket\r\n\r\n',
    )
    await new Promise((r) => setTimeout(r, 100))
    await closeWithin(gw, 5000)
    stray.destroy()
    const alive = () => {
      try {
        process.kill(pid!, 0)
        return true
      } catch {
        return false
      }
    }
    for (let i = 0; i < 100 && alive(); i++) await new Promise((r) => setTimeout(r, 30))
    expect(alive()).toBe(false)
  })
})
