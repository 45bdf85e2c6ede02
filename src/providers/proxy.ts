import { EnvHttpProxyAgent, ProxyAgent, Socks5ProxyAgent, type Dispatcher } from 'undici'
import { resolveSecret } from '../core/config.js'

/** Bifrost's global proxy (`GET/PUT /api/proxy-config`). */
export interface GlobalProxyConfig {
  enabled: boolean
  type: 'http' | 'socks5' | 'tcp'
  url: string
  username?: string
  password?: string
  /** Hosts reached directly: comma-separated names, `.suffix` or `*`. */
  no_proxy?: string
  /** Seconds allowed to connect through the proxy (0: the default). */
  timeout?: number
  skip_tls_verify?: boolean
  enable_for_scim?: boolean
  enable_for_inference?: boolean
  enable_for_api?: boolean
}

interface ProxyRoute {
  dispatcher: Dispatcher
  noProxy: string[]
}

const AGENT_OPTIONS = {
  keepAliveTimeout: 30_000,
  keepAliveMaxTimeout: 600_000,
  connections: 1024,
  pipelining: 1,
}

/** The global proxy as set on this process; provider calls read it for every request. */
let globalRoute: ProxyRoute | undefined
/** Providers' own `proxy_config`s, one dispatcher each, by their JSON. */
const ownRoutes = new Map<string, ProxyRoute | null>()
const MAX_OWN_ROUTES = 64

function basicToken(username: string | undefined, password: string | undefined): string | undefined {
  if (!username) return undefined
  return `Basic ${Buffer.from(`${username}:${password ?? ''}`).toString('base64')}`
}

function noProxyList(value: unknown): string[] {
  return typeof value === 'string'
    ? value
        .split(',')
        .map((h) => h.trim().toLowerCase())
        .filter((h) => h !== '')
    : []
}

/** A host listed in no_proxy: exactly, as a subdomain of an entry, or by `*`. */
function bypasses(url: string, noProxy: string[]): boolean {
  if (noProxy.length === 0) return false
  const { hostname, host } = new URL(url)
  const name = hostname.replace(/^\[|\]$/g, '').toLowerCase()
  return noProxy.some((entry) => {
    if (entry === '*') return true
    if (entry === host.toLowerCase()) return true
    const bare = entry.replace(/^\*?\./, '')
    return name === bare || name.endsWith(`.${bare}`)
  })
}

function httpProxy(
  url: string,
  opts: { username?: string; password?: string; timeoutS?: number; skipTls?: boolean; ca?: string },
): Dispatcher {
  const tls = { rejectUnauthorized: opts.skipTls !== true, ...(opts.ca && { ca: opts.ca }) }
  return new ProxyAgent({
    ...AGENT_OPTIONS,
    uri: url,
    // As Go's transport does: http:// upstreams are forwarded by the proxy, https:// ones tunnelled
    // (many proxies allow CONNECT to port 443 only).
    proxyTunnel: false,
    token: basicToken(opts.username, opts.password),
    proxyTls: tls,
    requestTls: { rejectUnauthorized: opts.skipTls !== true },
    ...(opts.timeoutS ? { connectTimeout: opts.timeoutS * 1000 } : {}),
  })
}

function socksProxy(url: string, opts: { username?: string; password?: string }): Dispatcher {
  return new Socks5ProxyAgent(url, { username: opts.username, password: opts.password })
}

/** Sets (or with undefined or a disabled config, removes) the proxy provider calls go through. */
export function useGlobalProxy(cfg: GlobalProxyConfig | undefined): void {
  const old = globalRoute
  globalRoute = undefined
  if (cfg?.enabled && cfg.enable_for_inference !== false && cfg.url.trim() !== '') {
    const opts = {
      username: cfg.username,
      password: cfg.password,
      timeoutS: cfg.timeout,
      skipTls: cfg.skip_tls_verify,
    }
    if (cfg.type === 'http')
      globalRoute = { dispatcher: httpProxy(cfg.url, opts), noProxy: noProxyList(cfg.no_proxy) }
    if (cfg.type === 'socks5')
      globalRoute = { dispatcher: socksProxy(cfg.url, opts), noProxy: noProxyList(cfg.no_proxy) }
  }
  // Requests under way keep their connections; new ones take the new route.
  void old?.dispatcher.close().catch(() => undefined)
}

/** A provider's own proxy_config as a route: null when it says none (or names no proxy). */
function ownRoute(cfg: Record<string, unknown>): ProxyRoute | null {
  const key = JSON.stringify(cfg)
  const known = ownRoutes.get(key)
  if (known !== undefined) return known
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? resolveSecret(v) : undefined)
  const url = str(cfg.url)
  const opts = { username: str(cfg.username), password: str(cfg.password), ca: str(cfg.ca_cert_pem) }
  let route: ProxyRoute | null = null
  if (cfg.type === 'environment') route = { dispatcher: new EnvHttpProxyAgent(AGENT_OPTIONS), noProxy: [] }
  else if (cfg.type === 'http' && url)
    route = { dispatcher: httpProxy(url, opts), noProxy: noProxyList(cfg.no_proxy) }
  else if (cfg.type === 'socks5' && url)
    route = { dispatcher: socksProxy(url, opts), noProxy: noProxyList(cfg.no_proxy) }
  ownRoutes.set(key, route)
  // Providers' proxies change rarely; the oldest of many is closed (calls under way finish).
  if (ownRoutes.size > MAX_OWN_ROUTES) {
    const [oldest, old] = ownRoutes.entries().next().value as [string, ProxyRoute | null]
    ownRoutes.delete(oldest)
    void old?.dispatcher.close().catch(() => undefined)
  }
  return route
}

/**
 * The dispatcher a provider call to `url` goes through, or undefined for a direct connection. As
 * in Bifrost, a provider's own proxy (http, socks5, environment) wins; `none` or no type inherits
 * the global proxy when it is enabled for inference.
 */
export function proxyDispatcher(
  own: Record<string, unknown> | undefined,
  url: string,
): Dispatcher | undefined {
  const route = own && typeof own.type === 'string' && own.type !== 'none' ? ownRoute(own) : globalRoute
  if (!route || bypasses(url, route.noProxy)) return undefined
  return route.dispatcher
}
