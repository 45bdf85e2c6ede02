import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto'
import { promisify } from 'node:util'
import { Type, type Static } from '@sinclair/typebox'
import { resolveSecret } from '../core/config.js'
import { GatewayError } from '../core/errors.js'
import { compileValidator } from './validate.js'

/** config.json's `auth_config` (or `governance.auth_config`): the dashboard / management API login. */
export const AuthConfigSchema = Type.Object(
  {
    /** A literal or `env.VAR`. */
    admin_username: Type.Optional(Type.String()),
    /** A literal or `env.VAR`. */
    admin_password: Type.Optional(Type.String()),
    is_enabled: Type.Optional(Type.Boolean()),
    disable_auth_on_inference: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: true },
)
export type AuthConfig = Static<typeof AuthConfigSchema>

/** The admin's login, however it was given: checks a password, and names the credentials for sessions. */
export interface AdminCredentials {
  readonly username: string
  verify(username: string, password: string): Promise<boolean>
  /**
   * Changes whenever the username or password does; sessions are bound to it, so that a changed
   * password ends every session opened with the old one.
   */
  readonly fingerprint: string
}

/** What the setup route stores in the config store: the password only as an scrypt hash. */
export interface StoredAdminLogin {
  username: string
  salt: string
  hash: string
}

/** The config store key of the admin login set through POST /api/session/setup. */
export const STORED_LOGIN_KEY = 'admin_login'

/** Environment variables that give the admin login without a config file. */
export const ENV_USERNAME = 'HEIMDALL_ADMIN_USERNAME'
export const ENV_PASSWORD = 'HEIMDALL_ADMIN_PASSWORD'

const MIN_PASSWORD_LENGTH = 12
const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>
const validateAuthConfig = compileValidator(AuthConfigSchema)

export function safeEqual(a: string, b: string): boolean {
  // Digests have one length, so that timingSafeEqual applies and the length is not revealed either.
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest())
}

function fingerprintOf(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex')
}

function literalCredentials(username: string, password: string): AdminCredentials {
  return {
    username,
    fingerprint: fingerprintOf('literal', username, password),
    async verify(u, p) {
      // Both comparisons always run, so that timing says nothing about which one failed.
      const userOk = safeEqual(u, username)
      const passOk = safeEqual(p, password)
      return userOk && passOk
    },
  }
}

export function storedCredentials(login: StoredAdminLogin): AdminCredentials {
  return {
    username: login.username,
    fingerprint: fingerprintOf('stored', login.username, login.hash),
    async verify(u, p) {
      const userOk = safeEqual(u, login.username)
      const derived = await scryptAsync(p, Buffer.from(login.salt, 'base64'), 32)
      const passOk = timingSafeEqual(derived, Buffer.from(login.hash, 'base64'))
      return userOk && passOk
    },
  }
}

/** The record to store for a login set through the API; refuses weak or empty values. */
export async function hashLogin(username: string, password: string): Promise<StoredAdminLogin> {
  if (username.trim() === '')
    throw new GatewayError('invalid_request', 'admin_username must not be empty', { param: 'admin_username' })
  if (password.length < MIN_PASSWORD_LENGTH)
    throw new GatewayError(
      'invalid_request',
      `admin_password needs at least ${MIN_PASSWORD_LENGTH} characters`,
      { param: 'admin_password' },
    )
  const salt = randomBytes(16)
  const hash = await scryptAsync(password, salt, 32)
  return { username, salt: salt.toString('base64'), hash: hash.toString('base64') }
}

/** What an `auth_config` block and the environment say about the admin login. */
export interface ConfiguredLogin {
  credentials: AdminCredentials | undefined
  disableAuthOnInference: boolean
}

/**
 * Reads an auth block (`field` names it in errors: `auth_config` or `governance.auth_config`), then
 * HEIMDALL_ADMIN_USERNAME / HEIMDALL_ADMIN_PASSWORD. Throws when a block asks for auth but its
 * credentials cannot be read, rather than leave the API open.
 */
export function readConfiguredLogin(
  auth: unknown,
  env: NodeJS.ProcessEnv,
  field = 'auth_config',
): ConfiguredLogin {
  let config: AuthConfig | undefined
  try {
    config = auth === undefined ? undefined : validateAuthConfig(auth)
  } catch (err) {
    throw new GatewayError('invalid_request', `${field}: ${(err as Error).message}`, { cause: err })
  }
  const disableAuthOnInference = config?.disable_auth_on_inference === true
  if (config?.is_enabled === true) {
    const resolve = (name: 'admin_username' | 'admin_password'): string =>
      resolveField(config[name], `${field}.${name}`, `${field}.is_enabled is true`, env)
    return {
      credentials: literalCredentials(resolve('admin_username'), resolve('admin_password')),
      disableAuthOnInference,
    }
  }
  const envUser = env[ENV_USERNAME]
  const envPass = env[ENV_PASSWORD]
  if (envUser === undefined && envPass === undefined)
    return { credentials: undefined, disableAuthOnInference }
  const because = `${ENV_USERNAME} or ${ENV_PASSWORD} is set`
  return {
    credentials: literalCredentials(
      resolveField(envUser, ENV_USERNAME, because, env),
      resolveField(envPass, ENV_PASSWORD, because, env),
    ),
    disableAuthOnInference,
  }
}

function resolveField(
  value: string | undefined,
  name: string,
  because: string,
  env: NodeJS.ProcessEnv,
): string {
  if (value === undefined || value === '')
    throw new GatewayError('invalid_request', `${name} is required when ${because}`)
  let resolved: string
  try {
    resolved = resolveSecret(value, env)
  } catch (err) {
    throw new GatewayError('invalid_request', `${name}: ${(err as Error).message}`, { cause: err })
  }
  if (resolved === '') throw new GatewayError('invalid_request', `${name} resolves to an empty value`)
  return resolved
}
