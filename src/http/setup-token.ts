import { randomBytes } from 'node:crypto'
import type { Logger } from '../observability/logger.js'

/** The one-time token that POST /api/session/setup requires, and whether Heimdall made it up. */
export interface SetupToken {
  token: string | undefined
  generated: boolean
}

/**
 * HEIMDALL_SETUP_TOKEN (or Bifrost's BIFROST_SETUP_TOKEN), the same on every node; else, when
 * listening beyond loopback, a random one for this process (printed at start, never stored).
 */
export function setupToken(env: NodeJS.ProcessEnv, loopbackOnly: boolean): SetupToken {
  const given = env.HEIMDALL_SETUP_TOKEN ?? env.BIFROST_SETUP_TOKEN
  if (given !== undefined && given.trim() !== '') return { token: given, generated: false }
  if (loopbackOnly) return { token: undefined, generated: false }
  return { token: randomBytes(24).toString('base64url'), generated: true }
}

/** Tells the operator, once at start, that the management API is locked and how to unlock it. */
export function announceSetupToken(
  logger: Logger,
  setup: SetupToken,
  write = (text: string) => process.stderr.write(text),
): void {
  const token = setup.generated ? setup.token : '(the value of HEIMDALL_SETUP_TOKEN)'
  const message = `No admin login is set and Heimdall listens beyond loopback: the management API (/api, /ws, /metrics) is locked until set up. Set it with: curl -X POST <gateway>/api/session/setup -H 'content-type: application/json' -d '{"setup_token":"${token}","admin_username":"admin","admin_password":"<at least 12 characters>"}' (or set auth_config in config.json, or HEIMDALL_ADMIN_USERNAME and HEIMDALL_ADMIN_PASSWORD)`
  logger.warn({ setup_token: token }, message)
  write(`heimdall: ${message}\n`)
}
