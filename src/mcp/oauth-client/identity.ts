import { GatewayError } from '../../core/errors.js'
import type { McpOAuthAuthMode } from '../../store/index.js'

/**
 * Whom a per-user credential belongs to. `McpCallOptions.identity` carries it as text:
 * `user:<id>`, `vk:<id>` or `session:<id>`; a bare value is a virtual key id (what the inference
 * routes pass).
 */
export interface McpIdentity {
  mode: McpOAuthAuthMode
  id: string
}

/** What a request says about its caller; any of the three may be missing. */
export interface McpSessionCaller {
  userId?: string
  virtualKeyId?: string
  /** `x-bf-mcp-session-id` */
  sessionId?: string
  /** The management API's admin: sees and manages every caller's credentials (never the admin verification one). */
  admin?: boolean
}

const MODES: readonly McpOAuthAuthMode[] = ['user', 'vk', 'session']

/**
 * The `auth_mode` of the admin verification credential of a per_user_oauth client (identity id:
 * the MCP client id). No caller identity parses to it (parseIdentity knows only user, vk and
 * session), so callers can never reach it, and no caller binding lists it.
 */
export const ADMIN_AUTH_MODE = 'admin' as McpOAuthAuthMode

export function parseIdentity(value: string): McpIdentity {
  const at = value.indexOf(':')
  const mode = at > 0 ? value.slice(0, at) : ''
  const found = MODES.find((m) => m === mode)
  const identity: McpIdentity = found ? { mode: found, id: value.slice(at + 1) } : { mode: 'vk', id: value }
  if (identity.id === '') throw new GatewayError('invalid_request', 'the MCP caller identity is empty')
  return identity
}

export function formatIdentity(identity: McpIdentity): string {
  return `${identity.mode}:${identity.id}`
}

/** The identity a caller's credentials are keyed by: signed-in user, else virtual key, else session id. */
export function callerIdentity(caller: McpSessionCaller): McpIdentity | undefined {
  if (caller.userId) return { mode: 'user', id: caller.userId }
  if (caller.virtualKeyId) return { mode: 'vk', id: caller.virtualKeyId }
  if (caller.sessionId) return { mode: 'session', id: caller.sessionId }
  return undefined
}

/** Every identity a caller may see the credentials of. */
export function callerBindings(caller: McpSessionCaller): McpIdentity[] {
  const out: McpIdentity[] = []
  if (caller.userId) out.push({ mode: 'user', id: caller.userId })
  if (caller.virtualKeyId) out.push({ mode: 'vk', id: caller.virtualKeyId })
  if (caller.sessionId) out.push({ mode: 'session', id: caller.sessionId })
  return out
}
