import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { asGatewayError, GatewayError, toErrorBody, type ErrorContext } from '../core/errors.js'
import { absoluteLoginLinks } from '../mcp/index.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** What the error body's extra_fields say about the request, filled in as the route learns it. */
    errorContext?: ErrorContext
  }
}

/** Fastify's own errors, in our catalogue's terms. */
export function fromFastify(err: FastifyError): GatewayError | undefined {
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new GatewayError(
        'invalid_json',
        `the body is not valid JSON: ${err.message.replace(/^.*?: /, '')}`,
      )
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new GatewayError('invalid_json', 'the body is empty; send a JSON object')
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new GatewayError(
        'body_too_large',
        'the body is larger than the configured limit (client.max_request_body_size_mb)',
      )
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new GatewayError('unsupported_media_type', `unsupported content type; send application/json`)
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new GatewayError('invalid_request', 'the content-length does not match the body')
  }
  if (err.validation) {
    return new GatewayError('invalid_request', err.message, {
      param: err.validation[0]?.instancePath?.replace(/^\//, ''),
    })
  }
  if (
    err instanceof SyntaxError ||
    (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500)
  ) {
    return new GatewayError('invalid_request', err.message, { status: err.statusCode ?? 400 })
  }
  return undefined
}

/** Any error as the gateway's; Fastify's own refusals (bad JSON, body too large) keep their 4xx. */
export function toGatewayError(error: unknown): GatewayError {
  return error instanceof GatewayError ? error : (fromFastify(error as FastifyError) ?? asGatewayError(error))
}

/**
 * An error's own headers (a provider's rate-limit headers …), and `retry-after` when a 429 knows its
 * wait. Every route's error passes here, so a connection failure's cause (the upstream's address,
 * which the caller's message leaves out) is logged here too.
 */
export function setErrorHeaders(reply: FastifyReply, err: GatewayError): void {
  if (err.code === 'upstream_connection_error' && err.cause !== undefined)
    reply.log.warn({ err: err.cause }, err.message)
  if (err.headers) reply.headers(err.headers)
  if (err.status === 429 && err.retryAfterMs !== undefined && !err.headers?.['retry-after'])
    reply.header('retry-after', String(Math.ceil(err.retryAfterMs / 1000)))
}

export function sendError(reply: FastifyReply, request: FastifyRequest, error: unknown): FastifyReply {
  const err = toGatewayError(error)
  if (err.code === 'internal') request.log.error({ err: (error as Error) ?? err }, 'internal error')
  const management = request.url.startsWith('/api/')
  const body = toErrorBody(err, request.errorContext)
  if (management) body.is_bifrost_error = false
  setErrorHeaders(reply, err)
  const text = JSON.stringify(body)
  return reply
    .code(err.status)
    .type('application/json; charset=utf-8')
    .send(err.type === 'mcp_auth_required' ? absoluteLoginLinks(text, requestOrigin(request)) : text)
}

/** The origin the request came to (`<protocol>://<Host>`, a Host the origin guard let through). */
export function requestOrigin(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`
}

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'] as const

export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => sendError(reply, request, error))
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]
    // A path that exists under another method is a 405 with the methods it has, not a 404.
    const allowed = METHODS.filter(
      (method) => app.hasRoute({ method, url: path }) || app.findRoute({ method, url: path }),
    )
    if (allowed.length > 0) {
      reply.header('allow', allowed.join(', '))
      return sendError(
        reply,
        request,
        new GatewayError(
          'method_not_allowed',
          `${request.method} is not allowed on ${path}; use ${allowed.join(' or ')}`,
        ),
      )
    }
    return sendError(
      reply,
      request,
      new GatewayError('route_not_found', `no route for ${request.method} ${path}`),
    )
  })
}
