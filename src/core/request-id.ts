import { randomFillSync } from 'node:crypto'

const pool = Buffer.allocUnsafe(16 * 256)
let poolOffset = pool.length

/**
 * A new request id: a UUIDv7 (RFC 9562), random but ordered by time, so that the log store's
 * index of request ids grows at its end instead of being written at random pages.
 */
export function newRequestId(now = Date.now()): string {
  if (poolOffset + 10 > pool.length) {
    randomFillSync(pool)
    poolOffset = 0
  }
  const b = Buffer.allocUnsafe(16)
  b.writeUIntBE(now, 0, 6)
  pool.copy(b, 6, poolOffset, poolOffset + 10)
  poolOffset += 10
  b[6] = 0x70 | (b[6] & 0x0f)
  b[8] = 0x80 | (b[8] & 0x3f)
  const h = b.toString('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}
