import { lookup } from 'node:dns/promises'
import { BlockList, isIP } from 'node:net'
import type { FastifyInstance } from 'fastify'
import type { ChangeBus } from '../../cluster/index.js'
import { GatewayError } from '../../core/errors.js'
import { type GlobalProxyConfig, useGlobalProxy } from '../../providers/index.js'
import type { ConfigStore } from '../../store/index.js'

export const PROXY_TOPIC = 'proxy_config'
const STORE_KEY = 'proxy_config'
const REDACTED = '<redacted>'

/** Bifrost's answer when no proxy was ever saved. */
const DEFAULT_PROXY: GlobalProxyConfig = { enabled: false, type: 'http', url: '' }

/** Link-local (cloud metadata) and unspecified addresses: never a proxy. */
const UNROUTABLE = new BlockList()
UNROUTABLE.addSubnet('0.0.0.0', 8, 'ipv4')
UNROUTABLE.addSubnet('169.254.0.0', 16, 'ipv4')
UNROUTABLE.addAddress('::', 'ipv6')
UNROUTABLE.addSubnet('fe80::', 10, 'ipv6')
UNROUTABLE.addAddress('fd00:ec2::254', 'ipv6')

const SCHEMES: Record<string, string[]> = { http: ['http:', 'https:'], socks5: ['socks5:', 'socks:'] }

async function readStored(store: ConfigStore): Promise<GlobalProxyConfig | undefined> {
  const stored = await store.getValue<GlobalProxyConfig>(STORE_KEY)
  if (!stored) return undefined
  return stored.password ? { ...stored, password: store.secrets.open(stored.password) } : stored
}

/** The global proxy as the API shows it (GET /api/proxy-config, GET /api/config): the password redacted. */
export async function proxyConfigView(store: ConfigStore): Promise<GlobalProxyConfig> {
  const cfg = (await readStored(store)) ?? DEFAULT_PROXY
  return { ...cfg, ...(cfg.password ? { password: REDACTED } : {}) }
}

/** Reads the stored global proxy and routes provider calls through it. */
export async function loadProxyConfig(store: ConfigStore): Promise<void> {
  useGlobalProxy(await readStored(store))
}

function invalid(message: string, param?: string): GatewayError {
  return new GatewayError('invalid_request', message, param === undefined ? {} : { param })
}

function optional<T>(
  body: Record<string, unknown>,
  field: string,
  type: 'string' | 'boolean' | 'number',
): T | undefined {
  const v = body[field]
  if (v === undefined || v === null) return undefined
  if (typeof v !== type) throw invalid(`${field} must be a ${type}`, field)
  return v as T
}

/** The body of PUT /api/proxy-config as a config, checked the way Bifrost checks it. */
async function parseProxy(body: unknown): Promise<GlobalProxyConfig> {
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw invalid('the body must be a JSON object')
  const b = body as Record<string, unknown>
  const cfg: GlobalProxyConfig = {
    enabled: optional<boolean>(b, 'enabled', 'boolean') ?? false,
    type: (optional<string>(b, 'type', 'string') || 'http') as GlobalProxyConfig['type'],
    url: (optional<string>(b, 'url', 'string') ?? '').trim(),
    username: optional<string>(b, 'username', 'string'),
    password: optional<string>(b, 'password', 'string'),
    no_proxy: optional<string>(b, 'no_proxy', 'string'),
    timeout: optional<number>(b, 'timeout', 'number'),
    skip_tls_verify: optional<boolean>(b, 'skip_tls_verify', 'boolean'),
    enable_for_scim: optional<boolean>(b, 'enable_for_scim', 'boolean'),
    enable_for_inference: optional<boolean>(b, 'enable_for_inference', 'boolean'),
    enable_for_api: optional<boolean>(b, 'enable_for_api', 'boolean'),
  }
  if (cfg.timeout !== undefined && (!Number.isInteger(cfg.timeout) || cfg.timeout < 0))
    throw invalid('proxy timeout must be non-negative', 'timeout')
  if (!cfg.enabled) return cfg
  if (cfg.type === 'tcp') throw invalid('proxy type tcp is not supported', 'type')
  if (!(cfg.type in SCHEMES)) throw invalid(`invalid proxy type: ${cfg.type}`, 'type')
  if (cfg.url === '') throw invalid('proxy URL is required when proxy is enabled', 'url')
  let url: URL
  try {
    url = new URL(cfg.url)
  } catch {
    throw invalid('proxy URL is not a valid URL', 'url')
  }
  if (!SCHEMES[cfg.type].includes(url.protocol))
    throw invalid(`a ${cfg.type} proxy URL starts with ${SCHEMES[cfg.type].join(' or ')}//`, 'url')
  await assertRoutable(url.hostname.replace(/^\[|\]$/g, ''))
  return cfg
}

async function assertRoutable(host: string): Promise<void> {
  let addresses: string[]
  try {
    addresses = isIP(host) ? [host] : (await lookup(host, { all: true })).map((a) => a.address)
  } catch {
    throw invalid(`proxy host ${host} does not resolve`, 'url')
  }
  for (const address of addresses) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
    const ip = mapped ? mapped[1] : address
    if (UNROUTABLE.check(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4'))
      throw invalid('proxy URL points at a link-local or unspecified address', 'url')
  }
}

/**
 * Bifrost's global proxy, `GET/PUT /api/proxy-config`: kept in the config store (the password
 * sealed with the store's key, answered as `<redacted>`), shared with the other nodes over the
 * cluster bus, and used for every provider call whose provider has no proxy of its own.
 */
export async function registerProxyConfigRoutes(
  app: FastifyInstance,
  deps: { store: ConfigStore; bus: ChangeBus; adminAuth: { readonly enabled: boolean } },
): Promise<void> {
  const reload = () => loadProxyConfig(deps.store)
  // A stored proxy that cannot be used must not keep the gateway from starting.
  await reload().catch((err: unknown) =>
    app.log.error({ err: (err as Error).message }, 'the stored proxy config could not be applied'),
  )
  deps.bus.subscribe(PROXY_TOPIC, () => {
    reload().catch((err: unknown) =>
      app.log.error({ err: (err as Error).message }, 'proxy config reload failed'),
    )
  })
  deps.bus.onReconnect(() => void reload().catch(() => undefined))

  app.get('/api/proxy-config', () => proxyConfigView(deps.store))

  app.put('/api/proxy-config', async (request) => {
    const next = await parseProxy(request.body)
    const current = await readStored(deps.store)
    // Sent back as it was shown: the stored password stays.
    if (next.password === REDACTED) next.password = current?.password
    // As in Bifrost: pointing provider traffic somewhere new takes a real admin login.
    if (!deps.adminAuth.enabled) {
      if (next.enabled && next.url !== (current?.url ?? ''))
        throw new GatewayError(
          'forbidden',
          'setting a proxy url requires dashboard authentication to be enabled',
        )
      if (next.skip_tls_verify && !current?.skip_tls_verify)
        throw new GatewayError(
          'forbidden',
          'turning on skip_tls_verify requires dashboard authentication to be enabled',
        )
    }
    const stored = Object.fromEntries(
      Object.entries(next).filter(([, v]) => v !== undefined),
    ) as GlobalProxyConfig
    if (stored.password) stored.password = deps.store.secrets.seal(stored.password)
    await deps.store.setValue(STORE_KEY, stored)
    await reload()
    await deps.bus.publish(PROXY_TOPIC, {}).catch(() => undefined)
    return { status: 'success', message: 'proxy configuration updated successfully' }
  })
}
