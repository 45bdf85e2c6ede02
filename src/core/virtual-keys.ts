import type { GatewayContext } from './context.js'
import { GatewayError, type ErrorCode } from './errors.js'

/** Bifrost's virtual key values start with this. */
export const VIRTUAL_KEY_PREFIX = 'sk-bf-'

/**
 * The virtual key a request presents, in Bifrost's order of preference: `x-bf-vk` as is, then an
 * `sk-bf-` value in `Authorization: Bearer`, `x-api-key`, `x-goog-api-key` or `api-key`.
 */
export function virtualKeyFromHeaders(headers: GatewayContext['headers']): string | undefined {
  const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v)
  const direct = first(headers['x-bf-vk'])
  if (direct) return direct.trim()
  const auth = first(headers.authorization)
  if (auth) {
    const m = /^bearer\s+(\S+)$/i.exec(auth.trim())
    if (m && isVirtualKeyValue(m[1])) return m[1]
  }
  for (const name of ['x-api-key', 'x-goog-api-key', 'api-key']) {
    const v = first(headers[name])?.trim()
    if (v && isVirtualKeyValue(v)) return v
  }
  return undefined
}

export function isVirtualKeyValue(value: string): boolean {
  return value.slice(0, VIRTUAL_KEY_PREFIX.length).toLowerCase() === VIRTUAL_KEY_PREFIX
}

/** What of a virtual key decides whether it may be used at all. */
export interface VirtualKeyStatus {
  id: string
  name: string
  is_active: boolean
  expires_at?: string | null
}

/**
 * Virtual keys by value and by id, as governance holds them in memory. The port through which the
 * parts that authenticate callers outside the gateway pipeline (the `/mcp` endpoint, its OAuth
 * server) read keys without importing governance; src/http hands governance's state in.
 */
export interface VirtualKeyLookup<K extends VirtualKeyStatus = VirtualKeyStatus> {
  virtualKeyByValue(value: string): K | undefined
  virtualKey(id: string): K | undefined
}

/** Whether a key may be used now: active and not expired. */
export function virtualKeyUsable(vk: VirtualKeyStatus, now = Date.now()): boolean {
  return vk.is_active && !(vk.expires_at && Date.parse(vk.expires_at) <= now)
}

function refusal(code: ErrorCode, message: string): GatewayError {
  return new GatewayError(code, message, { isBifrostError: false, topLevelType: code, retryable: false })
}

/**
 * The caller's virtual key: none is fine only when inference auth is not enforced (401
 * `virtual_key_required` otherwise); an unknown key is 401, an inactive or expired one 403.
 */
export function authenticateVirtualKey<K extends VirtualKeyStatus>(
  keys: Pick<VirtualKeyLookup<K>, 'virtualKeyByValue'>,
  headers: GatewayContext['headers'],
  enforceAuth: boolean,
  now = Date.now(),
): K | undefined {
  const value = virtualKeyFromHeaders(headers)
  if (value === undefined) {
    if (enforceAuth) {
      throw refusal(
        'virtual_key_required',
        'a virtual key is required: send it as x-bf-vk or as the API key (sk-bf-…)',
      )
    }
    return undefined
  }
  const vk = keys.virtualKeyByValue(value)
  if (!vk) throw refusal('virtual_key_not_found', 'virtual key not found')
  if (!vk.is_active) throw refusal('virtual_key_blocked', `virtual key "${vk.name}" is not active`)
  if (vk.expires_at && Date.parse(vk.expires_at) <= now) {
    throw refusal('virtual_key_blocked', `virtual key "${vk.name}" expired at ${vk.expires_at}`)
  }
  return vk
}
