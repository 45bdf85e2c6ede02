import { randomFillSync } from 'node:crypto'

const pool = Buffer.allocUnsafe(16 * 256)
let poolOffset = pool.length
let lastMs = 0
let sequence = 0

function randomBytes(n: number): Buffer {
  if (poolOffset + n > pool.length) {
    randomFillSync(pool)
    poolOffset = 0
  }
  poolOffset += n
  return pool.subarray(poolOffset - n, poolOffset)
}

/**
 * A new id: a UUIDv7 (RFC 9562) whose text sorts in the order the ids were made, in this process,
 * within a millisecond too (a 12-bit counter, method 1 of the RFC). The log store's index of
 * request ids grows at its end, and entities made in the same millisecond list in creation order.
 */
export function timeOrderedId(now = Date.now()): string {
  if (now > lastMs) {
    lastMs = now
    sequence = randomBytes(2).readUInt16BE(0) & 0x7ff
  } else if (++sequence > 0xfff) {
    lastMs++
    sequence = 0
  }
  const b = Buffer.allocUnsafe(16)
  b.writeUIntBE(lastMs, 0, 6)
  b[6] = 0x70 | (sequence >> 8)
  b[7] = sequence & 0xff
  randomBytes(8).copy(b, 8)
  b[8] = 0x80 | (b[8] & 0x3f)
  const h = b.toString('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}
