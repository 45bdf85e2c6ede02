import { Readable } from 'node:stream'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { GatewayContext } from '../../core/context.js'
import { asGatewayError, GatewayError, type RequestType } from '../../core/errors.js'
import type { Gateway } from '../../core/gateway.js'
import type { Attempt, FileContentChunk, JsonResult, StreamResult } from '../../core/provider-adapter.js'
import { ObjectScope, viewerOf } from './file-ownership.js'
import type { FilesDeps } from './files.js'
import { beginRequest, failed, responseHeaders, sendJson } from './inference.js'

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
export type Serve<T = JsonResult<unknown>> = (a: Attempt, scope: ObjectScope) => Promise<T>

/** What a provider-object call needs of the routes' dependencies. */
export type ObjectCallDeps = Pick<FilesDeps, 'gateway' | 'allowDirectKeys' | 'ownership'>

/** How a failed call is answered: OpenAI's error shape unless a drop-in route answers in its own. */
export type AnswerFailure = (
  request: FastifyRequest,
  reply: FastifyReply,
  ctx: GatewayContext,
  err: unknown,
) => FastifyReply

/**
 * Runs one JSON call on a provider's objects through the pipeline (auth, governance, key choice,
 * retries, logs). No model is involved: the context names the provider, and any of its keys may
 * serve. The caller's scope is read once governance has run, which knows its virtual key.
 */
export async function runObjectCall(
  deps: ObjectCallDeps,
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

/** One byte download (a file's content, a batch's results) through the pipeline, relayed as it arrives. */
export async function runObjectDownload(
  deps: ObjectCallDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  type: RequestType,
  provider: string,
  serve: Serve<StreamResult<FileContentChunk>>,
  answerFailure: AnswerFailure = failed,
): Promise<FastifyReply> {
  const admin = await deps.ownership.isAdmin(request)
  const ctx = beginRequest(request, reply, type, `${provider}/*`, deps.allowDirectKeys())
  try {
    const result = await deps.gateway.streamOperation(
      ctx,
      { model: `${provider}/*` },
      undefined,
      (_adapter, a) => serve(a, new ObjectScope(deps.ownership.objects, provider, viewerOf(ctx, admin))),
    )
    return reply.headers(responseHeaders(ctx, result.headers)).send(relayBytes(result.items))
  } catch (err) {
    return answerFailure(request, reply, ctx, err)
  }
}

/** The downloaded chunks as a byte stream, so the reply honours back-pressure. */
function relayBytes(items: AsyncIterable<{ bytes: Buffer }>): Readable {
  return Readable.from(
    (async function* () {
      for await (const item of items) yield item.bytes
    })(),
    { objectMode: false },
  )
}

/** An upstream failure after the upload body was sent: it cannot be sent again, so no retry or other key. */
export function final(err: unknown): GatewayError {
  const e = asGatewayError(err)
  if (!e.retryable && !e.keyDead) return e
  return new GatewayError(e.code, e.message, {
    status: e.status,
    type: e.type,
    param: e.param,
    isBifrostError: e.isBifrostError,
    upstreamCode: e.upstreamCode,
    retryAfterMs: e.retryAfterMs,
    headers: e.headers,
    extra: e.extra,
    retryable: false,
    keyDead: false,
    cause: e,
  })
}
