import type { Server } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyHttpOptions } from 'fastify'
import { endWithError } from './raw-response.js'

/** How long a client may take to send a request, how long an idle connection stays, how many one client may hold. */
export interface ConnectionLimits {
  /** Milliseconds to receive a request's headers. */
  requestHeadersTimeoutMs: number
  /** Milliseconds to receive a whole request, headers and body; the answer (a long stream) is not counted. */
  requestTimeoutMs: number
  /** Milliseconds an idle keep-alive connection stays open. */
  keepAliveTimeoutMs: number
  /** Most connections open at once from one client address; 0: no cap. Read for each new connection. */
  maxConnectionsPerClient: () => number
}

/**
 * Fastify's server options for the timeouts. Node checks them on a timer: it runs often enough
 * to cut a slow client within about a tenth of the timeout (at most a second late).
 */
export function timeoutOptions(
  limits: ConnectionLimits,
): Pick<FastifyHttpOptions<Server>, 'requestTimeout' | 'keepAliveTimeout' | 'http' | 'clientErrorHandler'> {
  const requestTimeout = limits.requestTimeoutMs
  // Node refuses a headers timeout longer than the whole request's.
  const headersTimeout =
    requestTimeout > 0
      ? Math.min(limits.requestHeadersTimeoutMs, requestTimeout)
      : limits.requestHeadersTimeoutMs
  const shortest = Math.min(...[requestTimeout, headersTimeout].filter((t) => t > 0), 10_000)
  return {
    requestTimeout,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    http: {
      requestTimeout,
      headersTimeout,
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(shortest / 10))),
    },
    clientErrorHandler: answerClientError,
  }
}

/** Node's refusals of a request it could not read (too slow, malformed, headers too large), in Bifrost's error shape. */
function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT')
    return endWithError(socket, 'request_timeout', 'the request was not received in time')
  if (err.code === 'HPE_HEADER_OVERFLOW')
    return endWithError(socket, 'invalid_request', 'the request headers are too large')
  endWithError(socket, 'invalid_request', 'the request is not valid HTTP')
}

/** Refuses a client's connection beyond its cap with a 429, before it sends anything. */
export function capConnectionsPerClient(server: Server, max: () => number): void {
  const open = new Map<string, number>()
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress
    if (address === undefined) return
    const cap = max()
    const count = (open.get(address) ?? 0) + 1
    if (cap > 0 && count > cap) {
      endWithError(socket, 'too_many_connections', `more than ${cap} connections from one client`)
      return
    }
    open.set(address, count)
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1
      if (left > 0) open.set(address, left)
      else open.delete(address)
    })
  })
}
