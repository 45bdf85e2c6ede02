import { EventEmitter } from 'node:events'
import type { IncomingMessage, Server } from 'node:http'
import type { Socket } from 'node:net'
import { endWithError } from './raw-response.js'

/**
 * Upgrade requests, kept apart from the websocket plugin: a path with a websocket route is
 * handed to that route's plugin (through its own emitter); any other upgrade gets an HTTP
 * answer and its socket is closed. Node hands an upgraded socket over for good, so a socket
 * nobody answers would stay open for ever.
 */
interface UpgradeRouting {
  targets: Map<string, EventEmitter>
  /** Sockets handed to a websocket route: shutdown ends them, as Node's own closing does not. */
  upgraded: Set<Socket>
}

const routings = new WeakMap<Server, UpgradeRouting>()

function routingOf(server: Server): UpgradeRouting {
  let routing = routings.get(server)
  if (routing) return routing
  const r: UpgradeRouting = { targets: new Map(), upgraded: new Set() }
  routing = r
  routings.set(server, r)
  server.on('upgrade', (request: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on('error', () => socket.destroy())
    const path = (request.url ?? '/').split('?')[0]
    const target = r.targets.get(path)
    if (!server.listening) return endWithError(socket, 'shutting_down', 'the gateway is shutting down')
    if (request.headers.upgrade?.toLowerCase() !== 'websocket')
      return endWithError(socket, 'invalid_request', 'only websocket upgrades are served')
    if (!target || target.listenerCount('upgrade') === 0)
      return endWithError(socket, 'route_not_found', `no websocket route at ${path}`)
    if (request.method !== 'GET')
      return endWithError(socket, 'invalid_request', `${path} takes a websocket upgrade with GET`)
    r.upgraded.add(socket)
    socket.once('close', () => r.upgraded.delete(socket))
    target.emit('upgrade', request, socket, head)
  })
  return routing
}

/** Installs the routing of upgrades on a server (once); only the registered paths are upgraded. */
export function routeUpgrades(server: Server): void {
  routingOf(server)
}

/** The emitter a websocket plugin listens on for the upgrades of `path` (its `options.server`). */
export function upgradesOf(server: Server, path: string): EventEmitter {
  const routing = routingOf(server)
  let target = routing.targets.get(path)
  if (!target) routing.targets.set(path, (target = new EventEmitter()))
  return target
}

/** Ends every upgraded socket of a server: at shutdown, after the websocket routes said goodbye. */
export function destroyUpgradedSockets(server: Server): void {
  for (const socket of routings.get(server)?.upgraded ?? []) socket.destroy()
}
