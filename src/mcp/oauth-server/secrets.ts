import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'

/** An unguessable value (256 bits), base64url, with a prefix that tells what it is. */
export function randomSecret(prefix = ''): string {
  return prefix + randomBytes(32).toString('base64url')
}

/** How codes, tokens and cookie secrets are stored: never in clear. */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex')
}

/** RFC 7636 §4.1: 43 to 128 unreserved characters. */
const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/

/** Whether a PKCE code_verifier matches its S256 code_challenge. */
export function verifierMatches(verifier: string, challenge: string): boolean {
  if (!VERIFIER.test(verifier)) return false
  const computed = Buffer.from(createHash('sha256').update(verifier).digest('base64url'))
  const expected = Buffer.from(challenge)
  return computed.length === expected.length && timingSafeEqual(computed, expected)
}

/** An S256 code_challenge is the base64url SHA-256 of the verifier: 43 characters. */
export function isS256Challenge(challenge: string): boolean {
  return /^[A-Za-z0-9_-]{43}$/.test(challenge)
}
