import { lookup } from 'node:dns/promises'
import { BlockList, isIP } from 'node:net'
import { GatewayError } from '../core/errors.js'

export interface CallbackPolicyConfig {
  /** Hosts a callback may name (`hooks.example.com`, `*.example.com`); empty: any public host. */
  allowed_hosts?: string[]
  /** Let callbacks reach loopback, private, link-local and unique-local addresses (tests, in-cluster receivers). */
  allow_private_networks?: boolean
}

const PRIVATE = new BlockList()
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  PRIVATE.addSubnet(net, bits, 'ipv4')
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  PRIVATE.addSubnet(net, bits, 'ipv6')

function isPrivateAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped) return PRIVATE.check(mapped[1], 'ipv4')
  return PRIVATE.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4')
}

function hostAllowed(host: string, allowed: string[]): boolean {
  if (allowed.length === 0) return true
  return allowed.some((a) => {
    const p = a.toLowerCase()
    return p.startsWith('*.') ? host.endsWith(p.slice(1)) && host.length > p.length - 1 : host === p
  })
}

/**
 * Where webhooks may go (SSRF guard): http(s) URLs on the allow-list, whose every address is
 * public unless the operator allows private networks. Checked when a callback is given and again
 * before each attempt, so a name that later resolves inward is still refused.
 */
export class CallbackPolicy {
  constructor(private readonly config: () => CallbackPolicyConfig) {}

  /**
   * `allowPrivateNetwork`: a registered endpoint's own permission (Bifrost's `allow_private_network`);
   * `param`: the field a refusal names.
   */
  async check(raw: string, opts: { allowPrivateNetwork?: boolean; param?: string } = {}): Promise<URL> {
    const refused = (message: string) =>
      new GatewayError('invalid_request', message, { param: opts.param ?? 'x-bf-async-webhook-url' })
    let url: URL
    try {
      url = new URL(raw)
    } catch {
      throw refused(`callback URL ${JSON.stringify(raw.slice(0, 200))} is not a URL`)
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw refused(`callback URL must be http or https, not ${url.protocol}`)
    if (url.username || url.password) throw refused('callback URL must not carry credentials')
    const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '')
    const cfg = this.config()
    if (!hostAllowed(host, cfg.allowed_hosts ?? []))
      throw refused(`callback host ${host} is not in client.webhook_config.allowed_hosts`)
    if (cfg.allow_private_networks || opts.allowPrivateNetwork) return url
    let addresses: string[]
    try {
      addresses = isIP(host) ? [host] : (await lookup(host, { all: true })).map((a) => a.address)
    } catch {
      throw refused(`callback host ${host} does not resolve`)
    }
    if (addresses.some(isPrivateAddress))
      throw refused(
        `callback host ${host} is a loopback or private address (client.webhook_config.allow_private_networks allows it)`,
      )
    return url
  }
}
