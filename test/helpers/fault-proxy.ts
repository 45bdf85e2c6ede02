import { createServer, Socket, type Server } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'

/**
 * A TCP proxy in front of PostgreSQL (or any TCP service) for fault tests: `cut()` destroys every
 * connection and refuses new ones (a database that went away), `pause()` stops forwarding bytes
 * without closing anything (a partition: packets dropped, nothing reset), `restore()` opens it again.
 */
export class FaultProxy {
  private state: 'open' | 'cut' | 'paused' = 'open'
  private readonly pairs = new Set<{ client: Socket; upstream: Socket; held: [Socket, Buffer][] }>()
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(target: { host: string; port: number }): Promise<FaultProxy> {
    const server = createServer()
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
    const proxy = new FaultProxy(server, (server.address() as { port: number }).port)
    server.on('connection', (client) => proxy.accept(client, target))
    return proxy
  }

  private accept(client: Socket, target: { host: string; port: number }): void {
    if (this.state === 'cut') {
      client.destroy()
      return
    }
    const upstream = new Socket()
    const pair = { client, upstream, held: [] as [Socket, Buffer][] }
    this.pairs.add(pair)
    const forward = (to: Socket) => (chunk: Buffer) => {
      if (this.state === 'paused') pair.held.push([to, chunk])
      else to.write(chunk)
    }
    client.on('data', forward(upstream))
    upstream.on('data', forward(client))
    const end = () => {
      this.pairs.delete(pair)
      client.destroy()
      upstream.destroy()
    }
    for (const s of [client, upstream]) s.on('close', end).on('error', end)
    upstream.connect(target.port, target.host)
  }

  /** Destroys every connection and refuses new ones. */
  cut(): void {
    this.state = 'cut'
    for (const { client, upstream } of this.pairs) {
      client.destroy()
      upstream.destroy()
    }
    this.pairs.clear()
  }

  /** Stops forwarding bytes, in both directions, without closing anything. */
  pause(): void {
    this.state = 'paused'
  }

  restore(): void {
    this.state = 'open'
    for (const pair of this.pairs) {
      for (const [to, chunk] of pair.held) to.write(chunk)
      pair.held.length = 0
    }
  }

  async close(): Promise<void> {
    this.cut()
    await new Promise<void>((done) => this.server.close(() => done()))
  }
}

/** Milliseconds until `ready()` holds, polled every 25 ms; throws after `limitMs`. */
export async function timeUntil(ready: () => Promise<boolean> | boolean, limitMs: number): Promise<number> {
  const started = performance.now()
  while (!(await ready())) {
    if (performance.now() - started > limitMs) throw new Error(`not converged within ${limitMs} ms`)
    await sleep(25)
  }
  return Math.round(performance.now() - started)
}
