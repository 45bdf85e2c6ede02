import type { IncomingMessage } from 'node:http'

/** process.hrtime.bigint() when a request arrived, stamped on the raw request, for the overhead header. */
export const ARRIVAL = Symbol('heimdall.arrival')

export function arrivalOf(raw: IncomingMessage): bigint {
  return (raw as IncomingMessage & { [ARRIVAL]?: bigint })[ARRIVAL] ?? process.hrtime.bigint()
}
