import { lookup } from 'node:dns/promises'
import { BlockList, isIP } from 'node:net'
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js'

/**
 * Per-user OAuth discovery follows URLs an upstream MCP server chooses (its protected-resource
 * metadata, the authorization server's metadata, token and registration endpoints). Before Heimdall
 * fetches one, its host is resolved and every address checked:
 * - link-local (169.254.0.0/16, fe80::/10), cloud metadata and unspecified addresses: never;
 * - loopback and private ranges: only when the MCP server's own URL is on such an address;
 * - anything else: yes.
 * Every redirect hop is checked the same way.
 */

/** A hostname's addresses; `dns.lookup` by default, injectable for tests. */
export type HostResolver = (hostname: string) => Promise<string[]>

export const resolveWithDns: HostResolver = async (hostname) =>
  (await lookup(hostname, { all: true, verbatim: true })).map((a) => a.address)

type AddressClass = 'forbidden' | 'loopback' | 'private' | 'public'

const FORBIDDEN = new BlockList()
FORBIDDEN.addSubnet('0.0.0.0', 8, 'ipv4')
FORBIDDEN.addSubnet('169.254.0.0', 16, 'ipv4')
FORBIDDEN.addAddress('100.100.100.200', 'ipv4') // Alibaba Cloud metadata
FORBIDDEN.addSubnet('224.0.0.0', 3, 'ipv4') // multicast and reserved, broadcast
FORBIDDEN.addAddress('::', 'ipv6')
FORBIDDEN.addSubnet('fe80::', 10, 'ipv6')
FORBIDDEN.addAddress('fd00:ec2::254', 'ipv6') // AWS metadata over IPv6
FORBIDDEN.addSubnet('ff00::', 8, 'ipv6')

const LOOPBACK = new BlockList()
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4')
LOOPBACK.addAddress('::1', 'ipv6')

const PRIVATE = new BlockList()
PRIVATE.addSubnet('10.0.0.0', 8, 'ipv4')
PRIVATE.addSubnet('172.16.0.0', 12, 'ipv4')
PRIVATE.addSubnet('192.168.0.0', 16, 'ipv4')
PRIVATE.addSubnet('100.64.0.0', 10, 'ipv4')
PRIVATE.addSubnet('fc00::', 7, 'ipv6')

/** Names of metadata services that must not be reached whatever they resolve to. */
const METADATA_NAMES = new Set(['metadata.google.internal', 'metadata.goog', 'metadata'])

function classify(address: string): AddressClass {
  // An IPv4-mapped IPv6 address is the IPv4 address.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  const ip = mapped ? mapped[1] : address
  const family = isIP(ip) === 6 ? 'ipv6' : 'ipv4'
  if (FORBIDDEN.check(ip, family)) return 'forbidden'
  if (LOOPBACK.check(ip, family)) return 'loopback'
  if (PRIVATE.check(ip, family)) return 'private'
  return 'public'
}

const DESCRIBED: Record<Exclude<AddressClass, 'public'>, string> = {
  forbidden: 'a link-local, cloud metadata or reserved address, which is never fetched',
  loopback:
    'a loopback address, which is fetched only when the MCP server’s own URL is on a loopback or private address',
  private:
    'a private address, which is fetched only when the MCP server’s own URL is on a loopback or private address',
}

/** A URL that per-user OAuth discovery refused to fetch. */
export class DiscoveryAddressRefused extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'DiscoveryAddressRefused'
  }
}

async function addressesOf(url: URL, resolve: HostResolver): Promise<string[]> {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
  if (isIP(host)) return [host]
  try {
    const addresses = await resolve(host)
    if (addresses.length > 0) return addresses
  } catch {
    // Reported below, as an address that cannot be checked.
  }
  throw new DiscoveryAddressRefused(`${url.origin}: the host ${host} does not resolve`)
}

/** Whether the MCP server's own URL is on loopback or private addresses (then so may its OAuth URLs be). */
export async function serverIsInternal(serverUrl: string, resolve: HostResolver): Promise<boolean> {
  try {
    const classes = (await addressesOf(new URL(serverUrl), resolve)).map(classify)
    return classes.every((c) => c === 'loopback' || c === 'private')
  } catch {
    return false
  }
}

/** Throws DiscoveryAddressRefused unless the URL may be fetched for an MCP server (internal or not). */
export async function assertFetchable(
  url: URL,
  internalServer: boolean,
  resolve: HostResolver,
): Promise<void> {
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new DiscoveryAddressRefused(`${url.href}: only http and https URLs are fetched`)
  if (METADATA_NAMES.has(url.hostname.toLowerCase()))
    throw new DiscoveryAddressRefused(`${url.origin} is a cloud metadata service, which is never fetched`)
  for (const address of await addressesOf(url, resolve)) {
    const kind = classify(address)
    if (kind === 'public' || (internalServer && (kind === 'loopback' || kind === 'private'))) continue
    const on = address === url.hostname ? '' : ` (${url.hostname} resolves to ${address})`
    throw new DiscoveryAddressRefused(`${url.origin}${on} is on ${DESCRIBED[kind]}`)
  }
}

const REDIRECTS = new Set([301, 302, 303, 307, 308])
const MAX_REDIRECTS = 5

/**
 * `inner`, for the OAuth URLs of one MCP server: each URL, and each redirect hop (followed here,
 * never by `inner`), is checked by `assertFetchable` first.
 */
export function guardedFetch(
  inner: FetchLike,
  serverUrl: string,
  resolve: HostResolver = resolveWithDns,
): FetchLike {
  let internal: Promise<boolean> | undefined
  return async (input, init) => {
    internal ??= serverIsInternal(serverUrl, resolve)
    let url = new URL(input)
    let request: RequestInit = { ...init, redirect: 'manual' }
    for (let hop = 0; ; hop++) {
      await assertFetchable(url, await internal, resolve)
      const response = await inner(url, request)
      const location = REDIRECTS.has(response.status) ? response.headers.get('location') : null
      if (location === null) return response
      await response.body?.cancel().catch(() => undefined)
      if (hop >= MAX_REDIRECTS)
        throw new DiscoveryAddressRefused(`${url.origin}: more than ${MAX_REDIRECTS} redirects`)
      url = new URL(location, url)
      // As fetch does: 303, and 301/302 after a POST, continue as a GET without a body.
      const toGet =
        response.status === 303 ||
        ((response.status === 301 || response.status === 302) && request.method === 'POST')
      if (toGet) request = { ...request, method: 'GET', body: undefined }
    }
  }
}
