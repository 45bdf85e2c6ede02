import { randomBytes } from 'node:crypto'
import { parseDurationMs } from '../core/config.js'
import { GatewayError } from '../core/errors.js'

/** Virtual key values: how they are made and how answers show them. */

export const VIRTUAL_KEY_VALUE_PREFIX = 'sk-bf-'

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
/** 43 base62 characters: 256 bits. */
const VALUE_LENGTH = 43

/** A new virtual key value: `sk-bf-` and 256 random bits in base62. */
export function newVirtualKeyValue(): string {
  let out = ''
  while (out.length < VALUE_LENGTH) {
    for (const byte of randomBytes(64)) {
      // 248 = 4 × 62: bytes above it would favour the first characters.
      if (byte < 248 && out.length < VALUE_LENGTH) out += BASE62[byte % 62]
    }
  }
  return VIRTUAL_KEY_VALUE_PREFIX + out
}

/** What answers show instead of a value: the prefix and the last characters, e.g. `sk-bf-…k3Zq`. */
export function virtualKeyHint(value: string): string {
  const prefix = value.toLowerCase().startsWith(VIRTUAL_KEY_VALUE_PREFIX) ? value.slice(0, 6) : ''
  const rest = value.slice(prefix.length)
  const shown = Math.min(4, Math.floor(rest.length / 3))
  return `${prefix}…${shown > 0 ? rest.slice(-shown) : ''}`
}

/** Bifrost's longest `vk_rotation_cooldown`: longer would keep a retired value alive past the point of rotating. */
const MAX_ROTATION_COOLDOWN_MS = 30 * 24 * 3600 * 1000

/**
 * `client.vk_rotation_cooldown` in milliseconds: how long a rotated key's old value keeps working.
 * As Bifrost reads it: a Go duration string (`"5m"`, `"1h30m"`; `""` is none) or an integer of
 * nanoseconds; 0 (the default) retires the old value at once; at most 30 days.
 */
export function rotationCooldownMs(value: unknown, param = 'vk_rotation_cooldown'): number {
  if (value === undefined || value === null || value === '' || value === 0) return 0
  let ms: number
  if (typeof value === 'number' && Number.isInteger(value)) ms = value / 1e6
  else if (typeof value === 'string' && /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(value.trim()))
    ms = parseDurationMs(value.trim(), 0)
  else
    throw new GatewayError(
      'invalid_request',
      `${param} must be a duration such as "5m" or "1h30m" (or integer nanoseconds); got ${JSON.stringify(value)}`,
      { param },
    )
  if (ms < 0) throw new GatewayError('invalid_request', `${param} must not be negative`, { param })
  if (ms > MAX_ROTATION_COOLDOWN_MS)
    throw new GatewayError('invalid_request', `${param} must not exceed 30 days`, { param })
  return ms
}
