import type { Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'
import type { Logger } from '../../observability/logger.js'
import { destroyUpgradedSockets } from '../upgrade.js'

/** Shutdown steps, run newest first; one that fails does not keep the others from running. */
export class Closers {
  private readonly steps: (() => Promise<void>)[] = []

  add(step: () => Promise<void> | void): void {
    this.steps.unshift(async () => step())
  }

  async run(): Promise<void> {
    for (const close of this.steps) await close().catch(() => undefined)
  }
}

export interface Lifecycle {
  /** Starts listening; resolves with the base URL. */
  listen(): Promise<string>
  /** Stops accepting, lets in-flight requests and streams finish (bounded), closes the stores. */
  close(): Promise<void>
}

/** Listening and graceful shutdown: jobs first, then the server (bounded by the grace period), then the closers. */
export function lifecycle(deps: {
  app: FastifyInstance
  logger: Logger
  closers: Closers
  port?: number
  host?: string
  graceMs: () => number
  jobs: { start(): Promise<void>; close(graceMs: number): Promise<void> }
}): Lifecycle {
  const { app, logger, closers, jobs } = deps
  const sockets = trackSockets(app)
  let closing: Promise<void> | undefined
  return {
    async listen() {
      await app.listen({ port: deps.port ?? 8080, host: deps.host ?? '127.0.0.1' })
      await jobs.start()
      const address = app.server.address()
      const port = typeof address === 'object' && address ? address.port : deps.port
      return `http://${deps.host && deps.host !== '0.0.0.0' ? deps.host : '127.0.0.1'}:${port}`
    },
    close() {
      closing ??= (async () => {
        const grace = deps.graceMs()
        const timer = setTimeout(() => {
          logger.warn('shutdown grace period over: closing remaining connections')
          app.server.closeAllConnections()
        }, grace)
        timer.unref()
        // Connections with no response under way (idle keep-alive ones, and ones a client opened
        // without sending a request yet) are closed as they are found; the others finish first.
        const sweep = setInterval(() => {
          app.server.closeIdleConnections()
          // Websockets were sent their close frame by the plugin; Node's closing never ends upgraded sockets.
          destroyUpgradedSockets(app.server)
          for (const socket of sockets)
            if (!(socket as { _httpMessage?: unknown })._httpMessage) socket.destroy()
        }, 100)
        sweep.unref()
        try {
          // Jobs first: they run through this app. Running ones get the grace period; the rest stay queued.
          await jobs.close(grace)
          await app.close()
        } finally {
          clearTimeout(timer)
          clearInterval(sweep)
          await closers.run()
        }
      })()
      return closing
    },
  }
}

/** The server's open sockets, so that shutdown can end the ones no response is using. */
function trackSockets(app: FastifyInstance): Set<Socket> {
  const sockets = new Set<Socket>()
  app.server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  return sockets
}
