// The connection to providers: undici's pool, how a call is dispatched, and how a network failure
// becomes a GatewayError whose message names no host.
import { Agent, errors as undiciErrors, type Dispatcher } from 'undici'
import type { CancelSignal } from '../core/cancel.js'
import { GatewayError } from '../core/errors.js'
import type { Attempt } from '../core/provider-adapter.js'
import { proxyDispatcher } from './proxy.js'

/** One keep-alive pool per upstream origin, shared by every provider. */
export const agent = new Agent({
  keepAliveTimeout: 30_000,
  keepAliveMaxTimeout: 600_000,
  connections: 1024,
  pipelining: 1,
})

export interface UpstreamCall {
  url: string
  method?: 'GET' | 'POST' | 'DELETE'
  headers: Record<string, string>
  body?: string | Buffer
}

export type UpstreamResponse = Dispatcher.ResponseData

/** Hands one upstream request to undici with a handler of ours (the attempt's timeouts, its proxy if any). */
export function dispatchUpstream(a: Attempt, call: UpstreamCall, handler: Dispatcher.DispatchHandler): void {
  ;(proxyDispatcher(a.provider.proxy_config, call.url) ?? agent).dispatch(
    {
      origin: originOf(call.url),
      path: pathOf(call.url),
      method: call.method ?? 'POST',
      headers: call.headers,
      body: call.body,
      headersTimeout: a.timeoutMs,
      bodyTimeout: a.idleTimeoutMs,
    },
    handler,
  )
}

/** UTF-8 text, a leading byte order mark dropped (as undici's body.text()). */
export function utf8Text(bytes: Buffer): string {
  const bom = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf
  return bytes.toString('utf8', bom ? 3 : 0)
}

/** Response headers as undici's `request()` gives them: lower-case names, repeated ones in an array. */
export function parseRawHeaders(raw: Buffer[]): UpstreamResponse['headers'] {
  const out: UpstreamResponse['headers'] = {}
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toString('latin1').toLowerCase()
    const value = raw[i + 1].toString('latin1')
    const seen = Object.hasOwn(out, name) ? out[name] : undefined
    if (seen === undefined) {
      if (name === '__proto__')
        Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true })
      else out[name] = value
    } else if (Array.isArray(seen)) seen.push(value)
    else out[name] = [seen, value]
  }
  return out
}

export function networkError(err: unknown, providerName: string, signal?: CancelSignal): GatewayError {
  if (err instanceof GatewayError) return err
  if (signal?.aborted) {
    const reason: unknown = signal.reason
    if (reason instanceof GatewayError) return reason
    return new GatewayError('request_cancelled', 'the request was cancelled', {
      retryable: false,
      cause: err,
    })
  }
  if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError) {
    return new GatewayError('upstream_timeout', `${providerName} did not answer in time`, { cause: err })
  }
  return new GatewayError(
    'upstream_connection_error',
    `could not connect to provider ${providerName} (${networkFailureReason(err)})`,
    { cause: err },
  )
}

/** Why a connection failed, in words that name no host, address or port (those stay in the cause). */
const REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection reset',
  ETIMEDOUT: 'connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  UND_ERR_SOCKET: 'connection closed',
  UND_ERR_CLOSED: 'connection closed',
}

function networkFailureReason(err: unknown): string {
  const seen = new Set<unknown>()
  for (let e = err; e && typeof e === 'object' && !seen.has(e); e = (e as { cause?: unknown }).cause) {
    seen.add(e)
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && Object.hasOwn(REASONS, code)) return REASONS[code]
    if (typeof code === 'string' && /CERT|TLS|SSL/.test(code)) return 'TLS error'
    const inner = (e as { errors?: unknown }).errors
    if (Array.isArray(inner) && inner.length > 0) return networkFailureReason(inner[0])
  }
  return 'network error'
}

const originCache = new Map<string, string>()
export function originOf(url: string): string {
  const schemeEnd = url.indexOf('//') + 2
  const slash = url.indexOf('/', schemeEnd)
  const origin = slash === -1 ? url : url.slice(0, slash)
  let cached = originCache.get(origin)
  if (cached === undefined) {
    cached = new URL(origin).origin
    if (originCache.size < 1000) originCache.set(origin, cached)
  }
  return cached
}

export function pathOf(url: string): string {
  const schemeEnd = url.indexOf('//') + 2
  const slash = url.indexOf('/', schemeEnd)
  return slash === -1 ? '/' : url.slice(slash)
}
