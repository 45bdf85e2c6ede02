import { randomBytes } from 'node:crypto'

/**
 * This process's reservation ids: a random prefix, unique across nodes and restarts, then a
 * sequence number. A counter store can remember the ids it finished as numbers, which cost the
 * heap nothing per id, where a UUID string per request kept a minute or two would be promoted to
 * old space and traced by every major GC.
 */
const PREFIX = `${randomBytes(12).toString('base64url')}.`
const PREFIX_LENGTH = PREFIX.length
let nextSequence = 0

export function newReservationId(): string {
  return PREFIX + String(nextSequence++)
}

/** The sequence number of an id newReservationId made in this process, or -1 for any other id. */
export function ownSequence(id: string): number {
  const n = id.length
  if (n <= PREFIX_LENGTH || !id.startsWith(PREFIX)) return -1
  // No leading zero, so that one number stands for one id only.
  if (n > PREFIX_LENGTH + 1 && id.charCodeAt(PREFIX_LENGTH) === 48) return -1
  let value = 0
  for (let i = PREFIX_LENGTH; i < n; i++) {
    const digit = id.charCodeAt(i) - 48
    if (digit < 0 || digit > 9) return -1
    value = value * 10 + digit
  }
  return value
}
