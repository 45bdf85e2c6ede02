import type { FastifyRequest } from 'fastify'
import { GatewayError } from '../../core/errors.js'
import type { Gateway } from '../../core/gateway.js'

/** What the request fields of the provider-object routes (files, batches, containers) share. */

/** The provider OpenAI's SDK reaches when the request names none. */
const DEFAULT_PROVIDER = 'openai'

/** A non-empty string, or undefined. */
export function text(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined
}

/** The provider the query or the `x-model-provider` header names, if either does. */
export function requestedProvider(request: FastifyRequest): string | undefined {
  const query = request.query as Record<string, unknown>
  const header = request.headers['x-model-provider']
  return (
    text(query.provider) ??
    text(query['x-model-provider']) ??
    text(Array.isArray(header) ? header[0] : header)
  )
}

/**
 * The provider a request is for, as Bifrost reads it: the `provider` query parameter, the
 * `x-model-provider` header, then the body's own hint; OpenAI when none is given.
 */
export function providerOf(gateway: Gateway, request: FastifyRequest, fromBody?: unknown): string {
  const name = requestedProvider(request) ?? text(fromBody) ?? DEFAULT_PROVIDER
  if (!gateway.lookup.isProviderName(name)) {
    throw new GatewayError('unknown_provider', `unknown provider "${name}"`, { param: 'provider' })
  }
  return name
}

/** The list filters and cursors of the query that are passed upstream; anything else stays here. */
export function listQuery(request: FastifyRequest, params: readonly string[]): Record<string, string> {
  const query = request.query as Record<string, unknown>
  const out: Record<string, string> = {}
  for (const k of params) {
    const v = text(query[k])
    if (v !== undefined) out[k] = v
  }
  return out
}

/** A path parameter that must be there. */
export function idParam(request: FastifyRequest, name: string): string {
  const id = text((request.params as Record<string, unknown>)[name])
  if (!id) throw new GatewayError('invalid_request', `${name} is required`, { param: name })
  return id
}
