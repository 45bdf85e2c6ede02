import { randomFillSync } from 'node:crypto'

const pool = Buffer.allocUnsafe(16 * 256)
let poolOffset = pool.length
let lastMs = 0
let sequence = 0

/** Two hex digits of each byte value. */
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

/** The offset in `pool` of `n` random bytes not used before. */
function randomOffset(n: number): number {
  if (poolOffset + n > pool.length) {
    randomFillSync(pool)
    poolOffset = 0
  }
  poolOffset += n
  return poolOffset - n
}

/**
 * A new id: a UUIDv7 (RFC 9562) whose text sorts in the order the ids were made, in this process,
 * within a millisecond too (a 12-bit counter, method 1 of the RFC). The log store's index of
 * request ids grows at its end, and entities made in the same millisecond list in creation order.
 * Written digit pair by digit pair from a table: no Buffer per id (about 130 ns instead of 320).
 */
export function timeOrderedId(now = Date.now()): string {
  if (now > lastMs) {
    lastMs = now
    const o = randomOffset(2)
    sequence = ((pool[o] << 8) | pool[o + 1]) & 0x7ff
  } else if (++sequence > 0xfff) {
    lastMs++
    sequence = 0
  }
  // The 48-bit millisecond in two parts: its high 16 bits and its low 32.
  const high = Math.floor(lastMs / 0x100000000)
  const low = lastMs >>> 0
  const r = pool
  const o = randomOffset(8)
  return (
    HEX[high >>> 8] +
    HEX[high & 0xff] +
    HEX[low >>> 24] +
    HEX[(low >>> 16) & 0xff] +
    '-' +
    HEX[(low >>> 8) & 0xff] +
    HEX[low & 0xff] +
    '-' +
    HEX[0x70 | (sequence >> 8)] +
    HEX[sequence & 0xff] +
    '-' +
    HEX[0x80 | (r[o] & 0x3f)] +
    HEX[r[o + 1]] +
    '-' +
    HEX[r[o + 2]] +
    HEX[r[o + 3]] +
    HEX[r[o + 4]] +
    HEX[r[o + 5]] +
    HEX[r[o + 6]] +
    HEX[r[o + 7]]
  )
}
