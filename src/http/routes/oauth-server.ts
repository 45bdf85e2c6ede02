import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { GatewayError, type ErrorCode } from '../../core/errors.js'
import {
  absoluteLoginLinks,
  type AuthorizationServer,
  CONSENT_FAILURES,
  ConsentError,
  errorPage,
  identityPage,
  isConsentFailureCode,
  mcpsPage,
  OAuthError,
} from '../../mcp/index.js'
import { requestOrigin } from '../errors.js'

/** Bifrost's name for the cookie that binds a consent flow to the browser that started it. */
export const FLOW_COOKIE = '__bifrost_flow_secret'

export interface OAuthServerRouteDeps {
  server: AuthorizationServer
}

// The origin the request came to, for metadata and issuer when no `issuer_url` is configured.
export { requestOrigin }

/** A cookie of the request, decoded. */
export function cookie(request: FastifyRequest, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim())
  }
  return undefined
}

function field(body: unknown, name: string): string | undefined {
  const value = body && typeof body === 'object' ? (body as Record<string, unknown>)[name] : undefined
  return typeof value === 'string' ? value : undefined
}

function sendOAuthError(reply: FastifyReply, err: unknown) {
  if (!(err instanceof OAuthError)) throw err
  return reply.code(err.status).header('cache-control', 'no-store').send(err.body)
}

const STATUS_CODES: Record<number, ErrorCode> = { 403: 'forbidden', 409: 'conflict', 410: 'not_found' }

/** A consent step that failed outside a redirect: an HTML page for a browser, Bifrost's error body otherwise. */
function sendConsentError(request: FastifyRequest, reply: FastifyReply, err: unknown) {
  if (!(err instanceof ConsentError)) throw err
  if ((request.headers.accept ?? '').includes('text/html'))
    return reply.code(err.status).type('text/html; charset=utf-8').send(errorPage(err.message))
  throw new GatewayError(STATUS_CODES[err.status] ?? 'invalid_request', err.message, { status: err.status })
}

/**
 * Heimdall as the OAuth 2.1 authorization server of /mcp: discovery documents, registration,
 * authorize and token endpoints, and the server-rendered consent pages with their form posts.
 */
export function registerOAuthServerRoutes(app: FastifyInstance, { server }: OAuthServerRouteDeps): void {
  const resourceMetadata = async (request: FastifyRequest) =>
    server.protectedResourceMetadata(requestOrigin(request))
  app.get('/.well-known/oauth-protected-resource', resourceMetadata)
  // RFC 9728 §3.1: the resource's path appended to the well-known one.
  app.get('/.well-known/oauth-protected-resource/mcp', resourceMetadata)
  app.get('/.well-known/oauth-authorization-server', async (request) =>
    server.authorizationServerMetadata(requestOrigin(request)),
  )

  // Browser forms post urlencoded bodies; this parser is registered for these routes only.
  void app.register(async (scope) => {
    scope.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string' },
      (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
    )

    // Open to anyone (RFC 7591): rate-limited per client IP before the body is read, and bounded in size.
    scope.post(
      '/api/oauth/per-user/register',
      {
        bodyLimit: server.registrationLimits.maxBodyBytes,
        onRequest: async (request, reply) => {
          const retryAfter = server.registrationRetryAfter(request.ip)
          if (retryAfter > 0) {
            reply.header('retry-after', String(retryAfter))
            const message = `too many client registrations from this address; retry in ${retryAfter} s`
            return sendOAuthError(reply, new OAuthError('temporarily_unavailable', message, 429))
          }
        },
        errorHandler: (err, _request, reply) => {
          if ((err as { code?: string }).code !== 'FST_ERR_CTP_BODY_TOO_LARGE') throw err
          const max = server.registrationLimits.maxBodyBytes
          const message = `the registration request is larger than ${max} bytes`
          return sendOAuthError(reply, new OAuthError('invalid_client_metadata', message))
        },
      },
      async (request, reply) => {
        try {
          return reply.code(201).send(await server.register(request.body))
        } catch (err) {
          return sendOAuthError(reply, err)
        }
      },
    )

    scope.get('/api/oauth/per-user/authorize', async (request, reply) => {
      let flow: Awaited<ReturnType<AuthorizationServer['authorize']>>
      try {
        flow = await server.authorize(request.query as Record<string, unknown>, requestOrigin(request))
      } catch (err) {
        return sendOAuthError(reply, err)
      }
      const secure = request.protocol === 'https' ? '; Secure' : ''
      reply.header(
        'set-cookie',
        `${FLOW_COOKIE}=${flow.secret}; Path=/; Max-Age=${flow.maxAgeS}; HttpOnly; SameSite=Lax${secure}`,
      )
      return reply.redirect(`/oauth/consent?flow_id=${encodeURIComponent(flow.flowId)}`, 302)
    })

    scope.post('/api/oauth/per-user/token', async (request, reply) => {
      const body = (request.body && typeof request.body === 'object' ? request.body : {}) as Record<
        string,
        unknown
      >
      try {
        const tokens = await server.token(body, requestOrigin(request))
        return reply.header('cache-control', 'no-store').send(tokens)
      } catch (err) {
        return sendOAuthError(reply, err)
      }
    })

    scope.get('/oauth/consent', async (request, reply) => {
      const query = request.query as Record<string, string | undefined>
      try {
        const view = await server.view(query.flow_id, cookie(request, FLOW_COOKIE))
        const error =
          query.error && isConsentFailureCode(query.error) ? CONSENT_FAILURES[query.error].message : undefined
        return reply.type('text/html; charset=utf-8').send(identityPage(view, error))
      } catch (err) {
        return sendConsentError(request, reply, err)
      }
    })

    scope.get('/oauth/consent/mcps', async (request, reply) => {
      const flowId = (request.query as Record<string, string | undefined>).flow_id
      try {
        const view = await server.view(flowId, cookie(request, FLOW_COOKIE))
        if (!view.identity) return reply.redirect(consentUrl(view.id, 'identity_required'), 302)
        const origin = requestOrigin(request)
        const upstreams = (await server.pendingUpstreams(view)).map((u) =>
          u.login_url === undefined ? u : { ...u, login_url: absoluteLoginLinks(u.login_url, origin) },
        )
        return reply.type('text/html; charset=utf-8').send(mcpsPage(view, upstreams))
      } catch (err) {
        return sendConsentError(request, reply, err)
      }
    })

    /** An identity step: 302 to the MCPs page, or back to the identity page with the reason; a foreign browser is refused. */
    const identityStep =
      (choose: (flowId: string | undefined, secret: string | undefined, body: unknown) => Promise<void>) =>
      async (request: FastifyRequest, reply: FastifyReply) => {
        const flowId = field(request.body, 'flow_id')
        try {
          await choose(flowId, cookie(request, FLOW_COOKIE), request.body)
          return reply.redirect(`/oauth/consent/mcps?flow_id=${encodeURIComponent(flowId ?? '')}`, 302)
        } catch (err) {
          if (err instanceof ConsentError && err.code !== 'browser_mismatch')
            return reply.redirect(consentUrl(flowId ?? '', err.code), 302)
          return sendConsentError(request, reply, err)
        }
      }
    scope.post(
      '/api/oauth/per-user/consent/vk',
      identityStep((flowId, secret, body) => server.chooseVirtualKey(flowId, secret, field(body, 'vk'))),
    )
    scope.post(
      '/api/oauth/per-user/consent/user-id',
      identityStep((flowId, secret, body) => server.chooseUserId(flowId, secret, field(body, 'user_id'))),
    )
    scope.post(
      '/api/oauth/per-user/consent/skip',
      identityStep((flowId, secret) => server.skipIdentity(flowId, secret)),
    )

    scope.post('/api/oauth/per-user/consent/submit', async (request, reply) => {
      const flowId = field(request.body, 'flow_id')
      try {
        return reply.redirect(await server.submit(flowId, cookie(request, FLOW_COOKIE)), 302)
      } catch (err) {
        if (err instanceof ConsentError && err.code === 'identity_required')
          return reply.redirect(consentUrl(flowId ?? '', err.code), 302)
        return sendConsentError(request, reply, err)
      }
    })
  })
}

function consentUrl(flowId: string, error: string): string {
  return `/oauth/consent?flow_id=${encodeURIComponent(flowId)}&error=${encodeURIComponent(error)}`
}
