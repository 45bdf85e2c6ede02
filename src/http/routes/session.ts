import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { GatewayError } from '../../core/errors.js'
import type { AdminAuth } from '../auth.js'
import { compileValidator } from '../validate.js'

export interface SessionRouteDeps {
  adminAuth: AdminAuth
  /** `client.enforce_auth_on_inference`, read at each call since the client config may change. */
  enforceAuthOnInference: boolean | (() => boolean)
}

const validateLogin = compileValidator(
  Type.Object({ username: Type.String(), password: Type.String() }, { additionalProperties: true }),
)
const validateSetup = compileValidator(
  Type.Object(
    { setup_token: Type.String(), admin_username: Type.String(), admin_password: Type.String() },
    { additionalProperties: true },
  ),
)

/** Bifrost's session API: login, logout and whether auth is on (session.yaml); and Heimdall's first-run setup. */
export function registerSessionRoutes(app: FastifyInstance, deps: SessionRouteDeps): void {
  const { adminAuth } = deps
  const inferenceAuthEnforced = () =>
    typeof deps.enforceAuthOnInference === 'function'
      ? deps.enforceAuthOnInference()
      : deps.enforceAuthOnInference

  app.post('/api/session/login', async (request, reply) => {
    if (!adminAuth.enabled) throw new GatewayError('forbidden', 'Authentication is not enabled')
    const { username, password } = validateLogin(request.body)
    const token = await adminAuth.login(request, username, password)
    reply.header('set-cookie', adminAuth.sessionCookie(request, token))
    return { message: 'Login successful', token }
  })

  // The first admin login of a gateway that has none, with the one-time token printed at start.
  app.post('/api/session/setup', async (request, reply) => {
    const body = validateSetup(request.body)
    const token = await adminAuth.setup(request, body.setup_token, body.admin_username, body.admin_password)
    reply.header('set-cookie', adminAuth.sessionCookie(request, token))
    return { message: 'Admin login set', token }
  })

  app.post('/api/session/logout', async (request, reply) => {
    if (!adminAuth.enabled) throw new GatewayError('forbidden', 'Authentication is not enabled')
    await adminAuth.logout(request)
    reply.header('set-cookie', adminAuth.sessionCookie(request, undefined))
    return { message: 'Logout successful' }
  })

  app.get('/api/session/is-auth-enabled', async (request) => ({
    is_auth_enabled: adminAuth.enabled,
    has_valid_token: adminAuth.enabled && (await adminAuth.hasValidSession(request)),
    auth_type: adminAuth.enabled ? 'password' : 'none',
    inference_auth_enforced: inferenceAuthEnforced(),
    setup_required: adminAuth.setupRequired,
  }))
}
