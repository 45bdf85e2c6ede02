import type { FastifyReply, FastifyRequest } from 'fastify'
import { GatewayError, type RequestType } from '../../core/errors.js'
import type { Gateway } from '../../core/gateway.js'
import type { Attempt, JsonResult } from '../../core/provider-adapter.js'
import { ObjectScope, viewerOf } from './file-ownership.js'
import type { FilesDeps } from './files.js'
import { beginRequest, failed, sendJson } from './inference.js'

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

/** One call's work once the pipeline chose a key: the provider calls, within the caller's scope. */
export type Serve = (a: Attempt, scope: ObjectScope) => Promise<JsonResult<unknown>>

/**
 * Runs one JSON call on a provider's objects through the pipeline (auth, governance, key choice,
 * retries, logs). No model is involved: the context names the provider, and any of its keys may
 * serve. The caller's scope is read once governance has run, which knows its virtual key.
 */
export async function runObjectCall(
  deps: FilesDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  type: RequestType,
  provider: string,
  serve: Serve,
  input?: unknown,
): Promise<FastifyReply> {
  const admin = await deps.ownership.isAdmin(request)
  const ctx = beginRequest(request, reply, type, `${provider}/*`, deps.allowDirectKeys())
  if (input !== undefined) ctx.input = input
  try {
    const result = await deps.gateway.operation(ctx, { model: `${provider}/*` }, undefined, (_adapter, a) =>
      serve(a, new ObjectScope(deps.ownership.objects, provider, viewerOf(ctx, admin))),
    )
    return sendJson(reply, ctx, result)
  } catch (err) {
    return failed(request, reply, ctx, err)
  }
}
