import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import { GatewayError, toErrorBody, type ErrorCode } from '../core/errors.js'

/**
 * Answers on a bare socket, outside Fastify (an upgrade nobody serves, a request too slow, one
 * connection too many): Bifrost's error shape, then the socket closed.
 */
export function endWithError(socket: Socket, code: ErrorCode, message: string): void {
  if (socket.destroyed) return
  const err = new GatewayError(code, message)
  const body = JSON.stringify(toErrorBody(err))
  const head =
    `HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? 'Error'}\r\n` +
    `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
    'connection: close\r\n\r\n'
  socket.on('error', () => socket.destroy())
  if (socket.writable) socket.end(head + body, () => socket.destroy())
  else socket.destroy()
  // A peer that does not read must not hold the socket either.
  setTimeout(() => socket.destroy(), 1000).unref()
}
