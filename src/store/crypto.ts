import { createCipheriv, createDecipheriv, randomBytes, scrypt } from 'node:crypto'
import { GatewayError } from '../core/errors.js'

/**
 * Secrets at rest: AES-256-GCM, one random 12-byte IV per value, stored as
 * `enc:v1:<base64(iv | tag | ciphertext)>`. A value without that prefix is plain text (written
 * before an encryption key was set) and reads back as it is.
 *
 * The 32-byte key is derived from the configured encryption key with scrypt and a random 16-byte
 * salt created once per deployment and kept in the store itself (a salt is not a secret; keeping it
 * with the data means every node that shares the database derives the same key). A known value
 * sealed with the key is kept beside it, so a wrong key is detected when the store opens rather
 * than as garbage later. `v1` names this scheme so that another one can be added beside it.
 */

const PREFIX = 'enc:v1:'
const IV_BYTES = 12
const TAG_BYTES = 16
export const SALT_BYTES = 16
const KEY_BYTES = 32
// N = 2^15, r = 8 needs 32 MiB; about 0.1 s, paid once when the store opens.
const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const

/** Seals and opens secret strings. `env.VAR` references are not secrets and must not be passed here. */
export interface SecretCipher {
  /** Whether values are sealed; false when no encryption key is configured. */
  readonly encrypted: boolean
  /** Returns the value to store: ciphertext when a key is set, the value itself otherwise. */
  seal(plain: string): string
  /** Returns the plain value of a stored one; plain stored values pass through. */
  open(stored: string): string
}

export function isSealed(stored: string): boolean {
  return stored.startsWith(PREFIX)
}

export function deriveEncryptionKey(passphrase: string, salt: Buffer): Promise<Buffer> {
  if (passphrase === '') {
    return Promise.reject(new GatewayError('invalid_request', 'the encryption key must not be empty'))
  }
  return new Promise((resolve, reject) => {
    scrypt(passphrase, salt, KEY_BYTES, SCRYPT, (err, key) => (err ? reject(err) : resolve(key)))
  })
}

export function newSalt(): Buffer {
  return randomBytes(SALT_BYTES)
}

/** A cipher over a derived key, or a pass-through one when `key` is undefined. */
export function createSecretCipher(key: Buffer | undefined): SecretCipher {
  if (key === undefined) {
    return {
      encrypted: false,
      seal: (plain) => plain,
      open: (stored) => {
        if (isSealed(stored)) {
          throw new GatewayError(
            'store_unavailable',
            'the store holds an encrypted secret but no encryption key is configured (set encryption_key)',
          )
        }
        return stored
      },
    }
  }
  if (key.length !== KEY_BYTES) throw new Error('encryption key must be 32 bytes')
  return {
    encrypted: true,
    seal: (plain) => {
      const iv = randomBytes(IV_BYTES)
      const cipher = createCipheriv('aes-256-gcm', key, iv)
      const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()])
      return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), data]).toString('base64')
    },
    open: (stored) => {
      if (!isSealed(stored)) return stored
      const raw = Buffer.from(stored.slice(PREFIX.length), 'base64')
      if (raw.length < IV_BYTES + TAG_BYTES) throw undecryptable()
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES))
      decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES))
      try {
        return Buffer.concat([
          decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)),
          decipher.final(),
        ]).toString('utf8')
      } catch (err) {
        throw undecryptable(err)
      }
    },
  }
}

function undecryptable(cause?: unknown): GatewayError {
  return new GatewayError(
    'store_unavailable',
    'a stored secret cannot be decrypted: the encryption key differs from the one it was encrypted with',
    { cause },
  )
}
