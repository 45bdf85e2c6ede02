import { AsyncLocalStorage } from 'node:async_hooks'
import type { FastifyInstance } from 'fastify'

const origins = new AsyncLocalStorage<string>()

/**
 * Makes the origin of the request being served (`<protocol>://<Host>`, a Host the origin guard let
 * through) known to code deep in its call, e.g. the login links inside MCP tool errors, which must
 * be absolute for a user to open them from an MCP client.
 */
export function installRequestOrigin(app: FastifyInstance): void {
  // A callback hook, as @fastify/request-context does: the rest of the request runs inside `run`.
  app.addHook('onRequest', (request, _reply, done) => {
    origins.run(`${request.protocol}://${request.host}`, done)
  })
}

/** The origin of the request being served, when there is one. */
export function currentRequestOrigin(): string | undefined {
  return origins.getStore()
}
