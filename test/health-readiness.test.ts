import { spawn, type ChildProcess } from 'node:child_process'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import type { ConfigFile } from '../src/core/schemas/index.js'
import { DATABASE_URL, postgresBackend } from './helpers/databases.js'
import { startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'
import { freePort } from './helpers/free-port.js'

/**
 * Readiness (/health, /health/ready) follows every store the node needs, within a second of a store
 * going down and coming back; liveness (/health/live) stays 200. Redis is a redis-server of the test's
 * own; PostgreSQL is reached through a TCP proxy that the test cuts.
 */

const pg = postgresBackend('health')
const PG_PORT = Number(new URL(DATABASE_URL).port || 5432)
afterAll(() => pg.teardown())

const running: RunningHeimdall[] = []
const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const h of running.splice(0)) await h.close()
  for (const c of cleanups.splice(0)) await c()
})

/** Resolves once something accepts connections on the port (at most 5 s). */
async function accepting(port: number): Promise<void> {
  const deadline = Date.now() + 5000
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1')
      s.once('connect', () => resolve(true))
      s.once('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error(`nothing accepts on port ${port}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  )
  cleanups.push(() => child.kill('SIGKILL'))
  await accepting(port)
  return child
}

async function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  await new Promise((resolve) => child.once('exit', resolve))
}

/** A TCP proxy in front of 127.0.0.1:<target>; `cut()` closes it and every connection through it. */
async function tcpProxy(target: number): Promise<{ port: number; cut(): Promise<void> }> {
  const sockets = new Set<Socket>()
  const server: Server = createServer((client) => {
    const upstream = connect(target, '127.0.0.1')
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('close', () => sockets.delete(s))
      s.on('error', () => undefined)
    }
    client.pipe(upstream).pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  const cut = async () => {
    const closed = new Promise((resolve) => server.close(resolve))
    for (const s of sockets) s.destroy()
    await closed
  }
  cleanups.push(() => server.listening && cut())
  return { port, cut }
}

async function pgUrlThrough(port: number): Promise<string> {
  const url = new URL(await pg.freshUrl())
  url.host = `127.0.0.1:${port}`
  return url.toString()
}

async function start(config: ConfigFile): Promise<RunningHeimdall> {
  const h = await startHeimdall(config)
  running.push(h)
  return h
}

async function get(url: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(3000) })
  return { status: res.status, body: await res.json() }
}

/** Asks every 25 ms until the answer's status is `status`; resolves with the ms since `since` and that answer. */
async function until(url: string, status: number, since: number, limitMs = 5000) {
  for (;;) {
    const res = await get(url)
    if (res.status === status) return { ms: performance.now() - since, res }
    if (performance.now() - since > limitMs) throw new Error(`${url} still answers ${res.status}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

describe('health routes', () => {
  it('answer Bifrost’s shape with every store named when all are up', async () => {
    const h = await start({})
    const ready = await get(`${h.url}/health`)
    expect(ready).toEqual({
      status: 200,
      body: {
        status: 'ok',
        components: { db_pings: 'ok', config_store: 'ok', redis: 'disabled', log_store: 'ok' },
      },
    })
    expect(await get(`${h.url}/health/ready`)).toEqual(ready)
    expect(await get(`${h.url}/health/live`)).toEqual({ status: 200, body: { status: 'ok' } })
  })

  it('readiness is 503 naming Redis within 1 s of it stopping or dying, liveness stays 200, and ready again within 1 s of its restart', async () => {
    const port = await freePort()
    let redis = await startRedis(port)
    const h = await start({ cluster: { redis_url: `redis://127.0.0.1:${port}` } } as ConfigFile)
    expect((await get(`${h.url}/health/ready`)).body.components.redis).toBe('ok')

    // Frozen: the connection stays open and PING never answers.
    let t0 = performance.now()
    redis.kill('SIGSTOP')
    const frozen = await until(`${h.url}/health/ready`, 503, t0)
    expect(frozen.res.body.error.message).toMatch(/^redis unavailable/)
    expect(frozen.res.body.components.redis).toBe('unavailable')
    expect((await get(`${h.url}/health`)).status).toBe(503)
    expect(await get(`${h.url}/health/live`)).toEqual({ status: 200, body: { status: 'ok' } })

    redis.kill('SIGKILL')
    await exited(redis)
    t0 = performance.now()
    const dead = await until(`${h.url}/health/ready`, 503, t0)
    expect(dead.res.body.error.message).toMatch(/^redis unavailable/)
    expect((await get(`${h.url}/health/live`)).status).toBe(200)
    // Down for a while, so that reconnection attempts have backed off as far as they go.
    await new Promise((r) => setTimeout(r, 2500))
    expect((await get(`${h.url}/health/ready`)).status).toBe(503)

    redis = await startRedis(port)
    t0 = performance.now()
    const back = await until(`${h.url}/health/ready`, 200, t0)
    expect(back.res.body.components.redis).toBe('ok')

    console.log(
      `readiness flips: SIGSTOP→503 ${frozen.ms.toFixed(0)} ms, kill→503 ${dead.ms.toFixed(0)} ms, restart→200 ${back.ms.toFixed(0)} ms`,
    )
    expect(frozen.ms).toBeLessThan(1000)
    expect(dead.ms).toBeLessThan(1000)
    expect(back.ms).toBeLessThan(1000)
  })

  it('readiness is 503 naming the config store when its PostgreSQL cannot be reached', async () => {
    const proxy = await tcpProxy(PG_PORT)
    const h = await start({
      config_store: {
        enabled: true,
        type: 'postgres',
        config: { connection_string: await pgUrlThrough(proxy.port) },
      },
    } as ConfigFile)
    expect((await get(`${h.url}/health`)).body.components.config_store).toBe('ok')
    const t0 = performance.now()
    await proxy.cut()
    const down = await until(`${h.url}/health`, 503, t0)
    expect(down.res.body).toMatchObject({
      is_bifrost_error: true,
      status_code: 503,
      error: { type: 'service_unavailable', code: 'store_unavailable' },
      components: { config_store: 'unavailable', log_store: 'ok' },
    })
    expect(down.res.body.error.message).toMatch(/^config_store unavailable/)
    expect(down.ms).toBeLessThan(1000)
    expect((await get(`${h.url}/health/live`)).status).toBe(200)
  })

  it('a log store that cannot be reached leaves the node ready, with a degraded field naming it', async () => {
    const proxy = await tcpProxy(PG_PORT)
    const h = await start({
      logs_store: {
        enabled: true,
        type: 'postgres',
        config: { connection_string: await pgUrlThrough(proxy.port) },
      },
    } as ConfigFile)
    expect((await get(`${h.url}/health`)).body.components.log_store).toBe('ok')
    await proxy.cut()
    const t0 = performance.now()
    let res = await get(`${h.url}/health`)
    while (res.body.components.log_store === 'ok' && performance.now() - t0 < 2000) {
      res = await get(`${h.url}/health`)
    }
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({
      status: 'ok',
      components: { db_pings: 'degraded', config_store: 'ok', log_store: 'unavailable' },
    })
    expect(typeof res.body.degraded.log_store).toBe('string')
  })

  it('with client.disable_db_pings_in_health, as in Bifrost, the databases are not pinged: ready while PostgreSQL is cut', async () => {
    const proxy = await tcpProxy(PG_PORT)
    const h = await start({
      config_store: {
        enabled: true,
        type: 'postgres',
        config: { connection_string: await pgUrlThrough(proxy.port) },
      },
      client: { disable_db_pings_in_health: true },
    } as ConfigFile)
    await proxy.cut()
    // Long enough for a ping of the cut store to have failed, were one sent.
    await new Promise((r) => setTimeout(r, 300))
    for (const path of ['/health', '/health/ready']) {
      expect(await get(`${h.url}${path}`)).toEqual({
        status: 200,
        body: { status: 'ok', components: { db_pings: 'disabled', redis: 'disabled' } },
      })
    }
  })
})
