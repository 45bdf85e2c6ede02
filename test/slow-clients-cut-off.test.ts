import { createServer, type Server } from 'node:http'
import { connect, type AddressInfo, type Socket } from 'node:net'
import { afterAll, describe, expect, it } from 'vitest'
import type { ConfigFile } from '../src/core/schemas/index.js'
import { fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

const running: RunningHeimdall[] = []
const sockets: Socket[] = []
let upstream: Server | undefined
afterAll(async () => {
  for (const s of sockets.splice(0)) s.destroy()
  for (const gw of running.splice(0)) await gw.close()
  await new Promise((r) => (upstream ? upstream.close(r) : r(undefined)))
})

async function start(config: ConfigFile) {
  const gw = await startHeimdall(config)
  running.push(gw)
  return gw
}

function open(gw: RunningHeimdall): Socket {
  const socket = connect(Number(new URL(gw.url).port), '127.0.0.1')
  socket.on('error', () => undefined)
  sockets.push(socket)
  return socket
}

/** What the server wrote before it closed the socket, and when; undefined if still open after `withinMs`. */
function closedBy(socket: Socket, withinMs: number): Promise<{ text: string; at: number } | undefined> {
  let text = ''
  socket.on('data', (d) => (text += d.toString('latin1')))
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), withinMs)
    socket.once('close', () => {
      clearTimeout(timer)
      resolve({ text, at: Date.now() })
    })
  })
}

/** Headers, then one body byte a second, until the socket closes. */
function dribble(gw: RunningHeimdall, path: string): Socket {
  const socket = open(gw)
  socket.write(
    `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{`,
  )
  const timer = setInterval(() => (socket.writable ? socket.write(' ') : clearInterval(timer)), 1000)
  socket.once('close', () => clearInterval(timer))
  return socket
}

const TIMEOUTS = { request_headers_timeout_seconds: 1, request_timeout_seconds: 1.5 }

describe('slow clients', () => {
  it('a body dribbled a byte a second is cut off after request_timeout_seconds, with a 408 in Bifrost shape', async () => {
    const gw = await start({
      client: TIMEOUTS,
      auth_config: { is_enabled: true, admin_username: 'admin', admin_password: 'hunter2-long' },
    })
    for (const path of ['/v1/chat/completions', '/api/session/login']) {
      const started = Date.now()
      const closed = await closedBy(dribble(gw, path), 5000)
      expect(closed, `${path} was never cut off`).toBeDefined()
      expect(closed!.at - started).toBeGreaterThanOrEqual(1400)
      expect(closed!.at - started).toBeLessThan(3500)
      expect(closed!.text).toMatch(/^HTTP\/1\.1 408 /)
      const body = JSON.parse(closed!.text.slice(closed!.text.indexOf('\r\n\r\n') + 4))
      expect(body).toMatchObject({ is_bifrost_error: true, error: { type: 'invalid_request_error' } })
    }
  })

  it('headers sent a byte at a time are cut off after request_headers_timeout_seconds', async () => {
    const gw = await start({ client: TIMEOUTS })
    const socket = open(gw)
    const started = Date.now()
    const closing = closedBy(socket, 5000)
    socket.write('GET /health HTTP/1.1\r\nx-slow: ')
    const timer = setInterval(() => (socket.writable ? socket.write('a') : clearInterval(timer)), 300)
    const closed = await closing
    clearInterval(timer)
    expect(closed).toBeDefined()
    expect(closed!.at - started).toBeLessThan(3000)
  })

  it('an idle keep-alive connection is closed after keep_alive_timeout_seconds', async () => {
    const gw = await start({ client: { keep_alive_timeout_seconds: 1 } })
    const socket = open(gw)
    const closing = closedBy(socket, 5000)
    socket.write('GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n')
    const closed = await closing
    expect(closed?.text).toMatch(/^HTTP\/1\.1 200 /)
  })

  it('a client opening more connections than max_connections_per_client gets a 429 on the extra one', async () => {
    const gw = await start({ client: { max_connections_per_client: 3 } })
    const held = [open(gw), open(gw), open(gw)]
    await Promise.all(held.map((s) => new Promise((r) => s.once('connect', r))))
    for (let i = 0; i < 100; i++) {
      const n = await new Promise<number>((r) => gw.heimdall.app.server.getConnections((_, c) => r(c)))
      if (n >= 3) break
      await new Promise((r) => setTimeout(r, 10))
    }
    const extra = open(gw)
    const refused = await closedBy(extra, 3000)
    expect(refused?.text).toMatch(/^HTTP\/1\.1 429 /)
    expect(JSON.parse(refused!.text.slice(refused!.text.indexOf('\r\n\r\n') + 4))).toMatchObject({
      is_bifrost_error: true,
      error: { type: 'rate_limited' },
    })
    // One closed, one more is served.
    const gone = new Promise((r) => held[0].once('close', r))
    held[0].destroy()
    await gone
    await new Promise((r) => setTimeout(r, 50))
    expect((await fetch(`${gw.url}/health`)).status).toBe(200)
  })

  it('a streamed answer longer than every timeout still completes', async () => {
    // An upstream that streams eight chunks over four seconds.
    upstream = createServer((req, res) => {
      req.resume()
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      let n = 0
      const chunk = (content: string, finish: string | null) =>
        `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini', choices: [{ index: 0, delta: { content }, finish_reason: finish }] })}\n\n`
      const timer = setInterval(() => {
        n++
        if (n < 8) return void res.write(chunk(`part${n} `, null))
        clearInterval(timer)
        res.end(chunk('end', 'stop') + 'data: [DONE]\n\n')
      }, 500)
      res.on('close', () => clearInterval(timer))
    })
    await new Promise<void>((r) => upstream!.listen(0, '127.0.0.1', r))
    const base = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`
    const gw = await start({
      client: { ...TIMEOUTS, keep_alive_timeout_seconds: 1 },
      providers: { openai: fakeProvider(base) },
    })
    const started = Date.now()
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'openai/gpt-4o-mini',
        stream: true,
        messages: [{ role: 'user', content: 'hi' }],
      }),
    })
    const text = await res.text()
    expect(res.status).toBe(200)
    expect(Date.now() - started).toBeGreaterThan(3500)
    for (let i = 1; i < 8; i++) expect(text).toContain(`part${i} `)
    expect(text).toContain('[DONE]')
  })
})
