import type { McpIdentity } from '../oauth-client/identity.js'
import type { AuthorizationServer } from './authorization-server.js'
import { ConsentError } from './errors.js'

/**
 * The per-user identity a pending consent flow chose, when `secret` is the cookie of the browser
 * that started it: what the consent page's upstream login links are bound to.
 */
export async function consentIdentity(
  server: Pick<AuthorizationServer, 'view'>,
  flowId: string,
  secret: string | undefined,
): Promise<McpIdentity | undefined> {
  let identity
  try {
    identity = (await server.view(flowId, secret)).identity
  } catch (err) {
    if (err instanceof ConsentError) return undefined
    throw err
  }
  if (identity?.kind === 'vk' && identity.virtualKeyId) return { mode: 'vk', id: identity.virtualKeyId }
  if (identity?.kind === 'user' && identity.userId) return { mode: 'user', id: identity.userId }
  return undefined
}
