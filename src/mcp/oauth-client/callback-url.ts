import { isIP } from 'node:net'
import { GatewayError } from '../../core/errors.js'

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]', '::1'])

/** Host names that always name this machine. */
function isLoopbackName(hostname: string): boolean {
  const h = hostname.toLowerCase()
  return LOOPBACK_NAMES.has(h) || h.endsWith('.localhost') || (isIP(h) === 4 && h.startsWith('127.'))
}

function bare(hostname: string): string {
  return hostname.replace(/^\[|\]$/g, '').toLowerCase()
}

/**
 * The base URL of the OAuth callback Heimdall gives upstream authorization servers: the configured
 * `client.mcp_external_client_url`, else the origin of the request, but only when its Host is a
 * loopback name or the address Heimdall listens on. Any other Host could be a caller's choice (the
 * header is theirs), so the login is refused and the operator told to set the external URL.
 */
export function callbackBase(
  requestOrigin: string,
  externalUrl: string | undefined,
  listenHost: string | undefined,
): string {
  if (externalUrl) return externalUrl.replace(/\/+$/, '')
  let hostname = ''
  try {
    hostname = new URL(requestOrigin).hostname
  } catch {
    // An unparsable Host is refused below.
  }
  const listening = listenHost !== undefined && hostname !== '' && bare(hostname) === bare(listenHost)
  if (hostname !== '' && (isLoopbackName(hostname) || listening)) return requestOrigin.replace(/\/+$/, '')
  throw new GatewayError(
    'invalid_request',
    `the OAuth callback URL cannot be derived from the Host "${hostname || requestOrigin}": it is neither a loopback name nor the address Heimdall listens on. An operator must set client.mcp_external_client_url to Heimdall's public URL`,
    { retryable: false },
  )
}
