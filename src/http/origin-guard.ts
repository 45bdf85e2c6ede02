import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { GatewayError, toErrorBody } from '../core/errors.js'

/** Whose requests the gateway serves: a browser page's `Origin` and the `Host` it was sent to. */
export interface OriginPolicy {
  /** `client.allowed_origins`: browser origins besides the gateway's own (`*` for any). */
  allowedOrigins(): readonly string[]
  /** Whether Heimdall listens on loopback only: then the `Host` must be a loopback name or an allowed origin's. */
  loopbackOnly(): boolean
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]'])

/**
 * Routes whose `Origin` is not checked (their `Host` is): those made for browser clients of other
 * origins (MCP clients' OAuth discovery, registration and token exchange), and the consent pages'
 * form posts, which send `Origin: null` (the pages set no-referrer) and are bound to the browser by
 * their SameSite flow cookie instead.
 */
const CROSS_ORIGIN_PATHS = [
  '/.well-known/',
  '/api/oauth/per-user/register',
  '/api/oauth/per-user/token',
  '/api/oauth/per-user/consent/',
]

/** The hostname of a `Host` value, IPv6 literals with their brackets, lower case. */
function hostnameOf(host: string): string {
  const lower = host.toLowerCase()
  return lower.startsWith('[') ? lower.slice(0, lower.indexOf(']') + 1) : lower.split(':')[0]
}

function originHostname(origin: string): string | undefined {
  try {
    return hostnameOf(new URL(origin).host)
  } catch {
    return undefined
  }
}

/**
 * DNS-rebinding and cross-site protection: why the request must be refused, or undefined. On
 * loopback, the `Host` must be a loopback name (or the host of an allowed origin, for a proxy that
 * passes its own). An `Origin` must be the gateway's own (same host as `Host`) or an allowed one.
 */
export function refusedOrigin(
  request: FastifyRequest,
  policy: OriginPolicy,
  checkOrigin = true,
): string | undefined {
  const host = request.headers.host ?? ''
  const allowed = policy.allowedOrigins()
  if (policy.loopbackOnly()) {
    const hostname = hostnameOf(host)
    if (!LOOPBACK_NAMES.has(hostname) && !allowed.some((o) => o !== '*' && originHostname(o) === hostname))
      return `host ${host || '(none)'} is not allowed: Heimdall listens on loopback and answers only to localhost, 127.0.0.1 and [::1]; to serve it under another name, add that origin (e.g. https://${hostname || 'gateway.example.com'}) to client.allowed_origins`
  }
  const origin = request.headers.origin
  if (!checkOrigin || origin === undefined) return undefined
  if (origin !== 'null') {
    if (allowed.includes('*') || allowed.includes(origin)) return undefined
    try {
      if (new URL(origin).host.toLowerCase() === host.toLowerCase()) return undefined
    } catch {
      // A malformed origin is foreign.
    }
  }
  return `origin ${origin} is not allowed: only the gateway's own origin and those in client.allowed_origins may call it from a browser`
}

/**
 * Refuses, before any route runs (websocket upgrades included), a request whose `Host` or `Origin`
 * the policy rejects, in Bifrost's error shape. `/mcp` checks the same way itself, to answer in
 * JSON-RPC.
 */
export function installOriginGuard(app: FastifyInstance, policy: OriginPolicy): void {
  // A callback hook: it runs before every request, and an async one costs a promise each time.
  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const url = request.url
    const query = url.indexOf('?')
    const path = query < 0 ? url : url.slice(0, query)
    if (path === '/mcp') return done()
    const reason = refusedOrigin(
      request,
      policy,
      request.headers.origin !== undefined &&
        !CROSS_ORIGIN_PATHS.some((p) => path === p || (p.endsWith('/') && path.startsWith(p))),
    )
    if (reason === undefined) return done()
    const body = toErrorBody(new GatewayError('forbidden', `Forbidden: ${reason}`))
    body.is_bifrost_error = false
    // Answered here: the hook chain stops without done().
    void reply.code(403).type('application/json; charset=utf-8').send(JSON.stringify(body))
  })
}
