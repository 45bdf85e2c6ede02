import { randomBytes } from 'node:crypto'

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
