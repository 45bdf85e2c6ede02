import { createServer, request as httpRequest, type Server } from 'node:http'
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net'
import { afterAll, describe, expect, it } from 'vitest'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { bifrostResponse, schemaErrors } from './helpers/bifrost-openapi.js'
import { fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

/**
 * Bifrost's global proxy (GET/PUT /api/proxy-config): stored, answered with the password
 * redacted, and used for provider calls — a chat request goes through the proxy while it is
 * configured, and straight to the provider once it is disabled.
 */

const AUTH = {
  is_enabled: true,
  admin_username: 'admin',
  admin_password: 'pw-for-tests',
  disable_auth_on_inference: true,
}
const BASIC = `Basic ${Buffer.from('admin:pw-for-tests').toString('base64')}`

interface CountingProxy {
  url: string
  /** Requests forwarded and tunnels opened, with the Proxy-Authorization each carried. */
  tunnels: { target: string; auth?: string }[]
  close(): Promise<void>
}

/** An HTTP proxy that forwards requests and tunnels CONNECT requests, and counts both. */
async function startCountingProxy(): Promise<CountingProxy> {
  const tunnels: CountingProxy['tunnels'] = []
  const sockets = new Set<Socket>()
  // http:// upstreams are forwarded (absolute-form requests), others tunnelled with CONNECT.
  const server: Server = createServer((req, res) => {
    const target = new URL(req.url ?? '')
    tunnels.push({ target: target.host, auth: req.headers['proxy-authorization'] })
    const headers = { ...req.headers }
    delete headers['proxy-authorization']
    const forwarded = httpRequest(target, { method: req.method, headers }, (upstream) => {
      res.writeHead(upstream.statusCode ?? 502, upstream.headers)
      upstream.pipe(res)
    })
    forwarded.on('error', () => res.destroy())
    req.pipe(forwarded)
  })
  server.on('connect', (req, client: Socket, head: Buffer) => {
    tunnels.push({ target: req.url ?? '', auth: req.headers['proxy-authorization'] })
    const [host, port] = (req.url ?? '').split(':')
    const upstream = connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      upstream.write(head)
      upstream.pipe(client)
      client.pipe(upstream)
    })
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('close', () => sockets.delete(s))
      s.on('error', () => s.destroy())
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    tunnels,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}

interface CountingSocks {
  url: string
  /** CONNECT requests, with the user name each authenticated as. */
  connects: { target: string; user: string }[]
  close(): Promise<void>
}

/** A SOCKS5 proxy (username/password auth, CONNECT only) that counts the tunnels it opens. */
async function startCountingSocks(): Promise<CountingSocks> {
  const connects: CountingSocks['connects'] = []
  const sockets = new Set<Socket>()
  const server = createNetServer((client) => {
    sockets.add(client)
    client.on('close', () => sockets.delete(client))
    client.on('error', () => client.destroy())
    let buffer = Buffer.alloc(0)
    let stage: 'greeting' | 'auth' | 'request' = 'greeting'
    let user = ''
    const onData = (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk])
      if (stage === 'greeting' && buffer.length >= 2 && buffer.length >= 2 + buffer[1]) {
        buffer = buffer.subarray(2 + buffer[1])
        client.write(Buffer.from([5, 2]))
        stage = 'auth'
      }
      if (stage === 'auth' && buffer.length >= 2) {
        const ulen = buffer[1]
        if (buffer.length < 3 + ulen) return
        const plen = buffer[2 + ulen]
        if (buffer.length < 3 + ulen + plen) return
        user = buffer.subarray(2, 2 + ulen).toString()
        buffer = buffer.subarray(3 + ulen + plen)
        client.write(Buffer.from([1, 0]))
        stage = 'request'
      }
      if (stage === 'request' && buffer.length >= 10 && buffer[3] === 1) {
        const host = [...buffer.subarray(4, 8)].join('.')
        const port = buffer.readUInt16BE(8)
        const rest = buffer.subarray(10)
        client.off('data', onData)
        connects.push({ target: `${host}:${port}`, user })
        const upstream = connect(port, host, () => {
          client.write(Buffer.from([5, 0, 0, 1, 0, 0, 0, 0, 0, 0]))
          if (rest.length > 0) upstream.write(rest)
          upstream.pipe(client)
          client.pipe(upstream)
        })
        sockets.add(upstream)
        upstream.on('close', () => sockets.delete(upstream))
        upstream.on('error', () => client.destroy())
      }
    }
    client.on('data', onData)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `socks5://127.0.0.1:${port}`,
    connects,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}

let socks: CountingSocks | undefined
let fake: FakeServer | undefined
let proxy: CountingProxy | undefined
const gateways: RunningHeimdall[] = []
afterAll(async () => {
  for (const g of gateways) await g.close()
  await proxy?.close()
  await socks?.close()
  await fake?.close()
})

async function call(gw: RunningHeimdall, method: string, path: string, body?: unknown, auth = BASIC) {
  const res = await fetch(gw.url + path, {
    method,
    headers: { authorization: auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  return { status: res.status, body: text ? JSON.parse(text) : undefined }
}

function expectBifrostShape(method: string, body: unknown): void {
  const validate = bifrostResponse('paths/management/config.yaml', 'proxy-config', method)
  const ok = validate(body)
  expect(schemaErrors(validate.errors), JSON.stringify(body)).toEqual([])
  expect(ok).toBe(true)
}

async function chat(gw: RunningHeimdall): Promise<number> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
  })
  await res.text()
  return res.status
}

describe('global proxy config', () => {
  it('is stored with its password redacted, and routes provider calls through the proxy until disabled', async () => {
    fake = await startFakeOpenAI()
    proxy = await startCountingProxy()
    const gw = await startHeimdall({
      auth_config: AUTH,
      providers: { openai: fakeProvider(fake.url) },
    } as never)
    gateways.push(gw)

    const initial = await call(gw, 'GET', '/api/proxy-config')
    expect(initial.status).toBe(200)
    expect(initial.body).toMatchObject({ enabled: false, type: 'http' })
    expectBifrostShape('get', initial.body)
    expect(await chat(gw)).toBe(200)
    expect(proxy.tunnels).toHaveLength(0)

    const saved = await call(gw, 'PUT', '/api/proxy-config', {
      enabled: true,
      type: 'http',
      url: proxy.url,
      username: 'svc',
      password: 'proxy-secret',
      no_proxy: 'internal.example',
      timeout: 5,
      enable_for_inference: true,
    })
    expect(saved.status, JSON.stringify(saved.body)).toBe(200)
    expect(saved.body).toEqual({ status: 'success', message: 'proxy configuration updated successfully' })

    const read = await call(gw, 'GET', '/api/proxy-config')
    expect(read.body).toMatchObject({
      enabled: true,
      type: 'http',
      url: proxy.url,
      username: 'svc',
      password: '<redacted>',
    })
    expectBifrostShape('get', read.body)
    expect(JSON.stringify(read.body)).not.toContain('proxy-secret')
    // GET /api/config carries it too, as Bifrost's does.
    const config = await call(gw, 'GET', '/api/config')
    expect(config.body.proxy_config).toEqual(read.body)

    expect(await chat(gw)).toBe(200)
    const port = new URL(fake.url).port
    expect(proxy.tunnels.length).toBeGreaterThanOrEqual(1)
    expect(proxy.tunnels[0].target).toBe(`127.0.0.1:${port}`)
    expect(proxy.tunnels[0].auth).toBe(`Basic ${Buffer.from('svc:proxy-secret').toString('base64')}`)

    // Sent back as shown (password redacted): the stored password stays in use.
    const resent = await call(gw, 'PUT', '/api/proxy-config', { ...read.body, timeout: 10 })
    expect(resent.status).toBe(200)
    proxy.tunnels.length = 0
    // A new connection through the proxy (the old pool was closed when the config changed).
    expect(await chat(gw)).toBe(200)
    expect(proxy.tunnels.at(-1)?.auth).toBe(`Basic ${Buffer.from('svc:proxy-secret').toString('base64')}`)

    // A SOCKS5 proxy, with its credentials.
    socks = await startCountingSocks()
    const viaSocks = await call(gw, 'PUT', '/api/proxy-config', {
      enabled: true,
      type: 'socks5',
      url: socks.url,
      username: 'socks-user',
      password: 'socks-secret',
      enable_for_inference: true,
    })
    expect(viaSocks.status, JSON.stringify(viaSocks.body)).toBe(200)
    expect(await chat(gw)).toBe(200)
    expect(socks.connects).toEqual([{ target: `127.0.0.1:${port}`, user: 'socks-user' }])

    // Disabled: requests go straight to the provider again.
    expect((await call(gw, 'PUT', '/api/proxy-config', { ...read.body, enabled: false })).status).toBe(200)
    const before = proxy.tunnels.length
    expect(await chat(gw)).toBe(200)
    expect(await chat(gw)).toBe(200)
    expect(proxy.tunnels.length).toBe(before)
    expect(socks.connects).toHaveLength(1)
    expect((await call(gw, 'GET', '/api/proxy-config')).body.enabled).toBe(false)
  })

  it('refuses bad configs with a 400 and a new url without an admin login with a 403; a provider’s own proxy is used', async () => {
    const gw = gateways[0]
    const put = (body: unknown) => call(gw, 'PUT', '/api/proxy-config', body)
    const tcp = await put({ enabled: true, type: 'tcp', url: 'http://127.0.0.1:3128' })
    expect(tcp.status).toBe(400)
    expect(tcp.body.error.message).toMatch(/tcp is not supported/)
    expect((await put({ enabled: true, type: 'gopher', url: 'http://127.0.0.1:3128' })).status).toBe(400)
    expect((await put({ enabled: true, type: 'http' })).body.error.param).toBe('url')
    expect((await put({ enabled: true, type: 'http', url: 'http://169.254.169.254' })).status).toBe(400)
    expect((await put({ enabled: true, type: 'http', url: 'http://127.0.0.1:1', timeout: -1 })).status).toBe(
      400,
    )
    expect((await put({ enabled: 'yes' })).status).toBe(400)

    // This gateway's provider has a proxy of its own: its calls go through it with no global proxy.
    const open = await startHeimdall({
      providers: { openai: fakeProvider(fake!.url, { proxy_config: { type: 'http', url: proxy!.url } }) },
    })
    gateways.push(open)
    const tunnels = proxy!.tunnels.length
    expect(await chat(open)).toBe(200)
    expect(proxy!.tunnels.length).toBe(tunnels + 1)
    const refused = await call(
      open,
      'PUT',
      '/api/proxy-config',
      { enabled: true, type: 'http', url: proxy!.url },
      '',
    )
    expect(refused.status).toBe(403)
    expect(refused.body.error.type).toBe('permission_error')
  })
})
