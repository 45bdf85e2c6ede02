// Preloaded (--import) into third-party servers that offer no host flag, such as Portkey's gateway:
// a listen() given a port but no host binds 127.0.0.1 instead of every interface.
import { Server } from 'node:net'

type ListenArgs = Parameters<Server['listen']>
const listen = Server.prototype.listen as (this: Server, ...args: unknown[]) => Server

Server.prototype.listen = function listenOnLoopback(this: Server, ...args: ListenArgs): Server {
  const list: unknown[] = [...args]
  if (typeof list[0] === 'number' || (typeof list[0] === 'string' && /^\d+$/.test(list[0]))) {
    if (list[1] === undefined || typeof list[1] === 'function')
      list.splice(1, list[1] === undefined ? 1 : 0, '127.0.0.1')
  }
  return listen.apply(this, list)
} as Server['listen']
