import { Readable } from 'node:stream'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { GatewayError, type RequestType } from '../../../core/errors.js'
import type { GatewayContext } from '../../../core/context.js'
import {
  type AnthropicPage,
  batchPath,
  callAnthropicObjects,
  filePath,
  fromFilePart,
  streamAnthropicObjects,
} from '../../../providers/index.js'
import type { Attempt, FileContentChunk, JsonResult, StreamResult } from '../../../core/provider-adapter.js'
import { scopedList, type ListPage } from '../file-lists.js'
import { ObjectScope, viewerOf } from '../file-ownership.js'
import { abandonBody, readUploadHead, tooLarge } from '../files.js'
import { final, runObjectDownload } from '../object-requests.js'
import { beginRequest, responseHeaders } from '../inference.js'
import { sendAnthropicError } from './anthropic.js'
import type { DropInDeps } from './index.js'

/** One call's work once the pipeline chose a key, within the caller's scope. */
type Serve<T> = (a: Attempt, scope: ObjectScope) => Promise<T>

function text(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined
}

function invalid(message: string, param?: string): GatewayError {
  return new GatewayError('invalid_request', message, { param, retryable: false })
}

/** The provider, as Bifrost reads it on these routes: `x-model-provider`, else Anthropic. */
function providerOf(deps: DropInDeps, request: FastifyRequest): string {
  const header = request.headers['x-model-provider']
  const name = text(Array.isArray(header) ? header[0] : header) ?? 'anthropic'
  if (!deps.gateway.lookup.isProviderName(name))
    throw new GatewayError('unknown_provider', `unknown provider "${name}"`, { param: 'x-model-provider' })
  return name
}

/** Another key's object answers as Anthropic answers an absent one: a 404 `not_found_error`. */
function asAnthropicNotFound(err: unknown): unknown {
  if (!(err instanceof GatewayError) || err.code !== 'not_found') return err
  return new GatewayError('not_found', err.message, { type: 'not_found_error', retryable: false })
}

function idParam(request: FastifyRequest, name: 'file_id' | 'batch_id'): string {
  const id = text((request.params as Record<string, unknown>)[name])
  if (!id) throw invalid(`${name} is required`, name)
  return id
}

/** Anthropic's `limit` (1 to 1000, 20 by default) and its cursors. */
function pageQuery(request: FastifyRequest): { want: number; query: Record<string, string> } {
  const q = request.query as Record<string, unknown>
  const given = text(q.limit)
  const want = given === undefined ? 20 : Number(given)
  if (!Number.isInteger(want) || want < 1 || want > 1000)
    throw invalid('limit: must be an integer from 1 to 1000', 'limit')
  const query: Record<string, string> = {}
  const after = text(q.after_id)
  const before = text(q.before_id)
  if (after) query.after = after
  if (before) query.before_id = before
  return { want, query }
}

/**
 * `results_url` names where the SDK reads a batch's results: this gateway's own route, so that the
 * results come through it (with the caller's key) rather than from Anthropic directly.
 */
function withGatewayResultsUrl(request: FastifyRequest, batch: unknown): unknown {
  const b = batch as { id?: unknown; results_url?: unknown } | null
  if (!b || typeof b !== 'object' || typeof b.id !== 'string' || !b.results_url) return batch
  const path = request.url.split('?')[0]
  const base = path.slice(0, path.indexOf('/v1/messages/batches'))
  const host = request.headers.host ?? request.host
  return {
    ...b,
    results_url: `${request.protocol}://${host}${base}/v1/messages/batches/${encodeURIComponent(b.id)}/results`,
  }
}

/**
 * Anthropic's Message Batches and Files APIs under `prefix` (`/anthropic`), for the Anthropic
 * provider (or the one `x-model-provider` names, which must speak Anthropic's API). Each call is
 * governed and logged like inference, answers in Anthropic's shapes, and each batch and file
 * belongs to the virtual key that created it (file-ownership.ts).
 */
export function registerAnthropicObjectRoutes(app: FastifyInstance, deps: DropInDeps, prefix: string): void {
  const { gateway } = deps
  const begin = (request: FastifyRequest, reply: FastifyReply, type: RequestType, provider: string) =>
    beginRequest(request, reply, type, `${provider}/*`, deps.allowDirectKeys())
  const scopeOf = (ctx: GatewayContext, provider: string, admin: boolean) =>
    new ObjectScope(deps.ownership.objects, provider, viewerOf(ctx, admin))

  /** One JSON call through the pipeline; `shape` rewrites the provider's answer when it must. */
  async function run(
    request: FastifyRequest,
    reply: FastifyReply,
    type: RequestType,
    serve: Serve<JsonResult<unknown>>,
    shape?: (body: unknown) => unknown,
  ): Promise<FastifyReply> {
    const provider = providerOf(deps, request)
    const admin = await deps.ownership.isAdmin(request)
    const ctx = begin(request, reply, type, provider)
    try {
      const result = await gateway.operation(ctx, { model: `${provider}/*` }, undefined, (_adapter, a) =>
        serve(a, scopeOf(ctx, provider, admin)),
      )
      const out = shape ? JSON.stringify(shape(result.body)) : (result.raw ?? JSON.stringify(result.body))
      return reply
        .headers(responseHeaders(ctx, result.headers))
        .type('application/json; charset=utf-8')
        .send(out)
    } catch (err) {
      return sendAnthropicError(reply, asAnthropicNotFound(err), ctx)
    }
  }

  /** One byte download through the pipeline, relayed as it arrives. */
  const relay = (
    request: FastifyRequest,
    reply: FastifyReply,
    type: RequestType,
    serve: Serve<StreamResult<FileContentChunk>>,
  ): Promise<FastifyReply> =>
    runObjectDownload(
      deps,
      request,
      reply,
      type,
      providerOf(deps, request),
      serve,
      (_request, _reply, ctx, err) => sendAnthropicError(reply, asAnthropicNotFound(err), ctx),
    )

  /** A list narrowed to what the caller may see, in Anthropic's page shape. */
  const list =
    (kind: 'file' | 'batch', path: string, type: RequestType) =>
    (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
      const { want, query } = pageQuery(request)
      const fetchPage = (a: Attempt) => (q: Record<string, string>) => {
        const upstream: Record<string, string> = { limit: String(Math.min(Number(q.limit ?? want), 1000)) }
        if (q.after) upstream.after_id = q.after
        if (q.before_id) upstream.before_id = q.before_id
        return callAnthropicObjects<ListPage>(a, { method: 'GET', path, query: upstream })
      }
      return run(
        request,
        reply,
        type,
        (a, scope) => scopedList(scope, kind, { ...query, limit: String(want) }, want, fetchPage(a)),
        (body) => {
          const { object: _object, ...page } = body as ListPage
          if (kind === 'file') return page
          const data = Array.isArray(page.data) ? page.data : []
          return {
            ...page,
            data: data.map((b) => withGatewayResultsUrl(request, b)),
          } as AnthropicPage<unknown>
        },
      )
    }

  // ---- Message Batches ----

  app.post(`${prefix}/v1/messages/batches`, (request, reply) => {
    const body = request.body as { requests?: unknown } | null
    const requests = body && typeof body === 'object' ? body.requests : undefined
    if (!Array.isArray(requests) || requests.length === 0)
      throw invalid('requests: Field required (at least one request)', 'requests')
    requests.forEach((r: unknown, i) => {
      const item = r as { custom_id?: unknown; params?: unknown } | null
      if (!item || typeof item.custom_id !== 'string' || !item.params || typeof item.params !== 'object')
        throw invalid(
          `requests.${i}: needs a custom_id and the params of a Messages request`,
          `requests.${i}`,
        )
    })
    return run(
      request,
      reply,
      'batch_create',
      async (a, scope) => {
        const created = await callAnthropicObjects<{ id?: unknown }>(a, {
          method: 'POST',
          path: '/v1/messages/batches',
          body: JSON.stringify({ requests }),
          contentType: 'application/json',
        })
        await scope.created('batch', created.body?.id)
        return created
      },
      (b) => withGatewayResultsUrl(request, b),
    )
  })

  app.get(`${prefix}/v1/messages/batches`, list('batch', '/v1/messages/batches', 'batch_list'))

  /** A call on one batch the caller may see, answered with this gateway's results_url. */
  const onBatch =
    (type: RequestType, method: 'GET' | 'POST', suffix: string) =>
    (request: FastifyRequest, reply: FastifyReply) => {
      const id = idParam(request, 'batch_id')
      return run(
        request,
        reply,
        type,
        async (a, scope) => {
          await scope.assertSees('batch', id)
          return callAnthropicObjects<unknown>(a, { method, path: `${batchPath(id)}${suffix}` })
        },
        (b) => withGatewayResultsUrl(request, b),
      )
    }

  app.get(`${prefix}/v1/messages/batches/:batch_id`, onBatch('batch_retrieve', 'GET', ''))
  app.post(`${prefix}/v1/messages/batches/:batch_id/cancel`, onBatch('batch_cancel', 'POST', '/cancel'))

  // The JSONL results, relayed line by line as Anthropic sends them.
  app.get(`${prefix}/v1/messages/batches/:batch_id/results`, (request, reply) => {
    const id = idParam(request, 'batch_id')
    return relay(request, reply, 'batch_results', async (a, scope) => {
      await scope.assertSees('batch', id)
      return streamAnthropicObjects(
        a,
        { method: 'GET', path: `${batchPath(id)}/results` },
        'application/binary',
      )
    })
  })

  // ---- Files ----

  app.get(`${prefix}/v1/files`, list('file', '/v1/files', 'file_list'))

  app.get(`${prefix}/v1/files/:file_id`, (request, reply) => {
    const id = idParam(request, 'file_id')
    return run(request, reply, 'file_retrieve', async (a, scope) => {
      await scope.assertSees('file', id)
      return callAnthropicObjects<unknown>(a, { method: 'GET', path: filePath(id) })
    })
  })

  app.get(`${prefix}/v1/files/:file_id/content`, (request, reply) => {
    const id = idParam(request, 'file_id')
    return relay(request, reply, 'file_content', async (a, scope) => {
      await scope.assertSees('file', id)
      return streamAnthropicObjects(
        a,
        { method: 'GET', path: `${filePath(id)}/content` },
        'application/octet-stream',
      )
    })
  })

  app.delete(`${prefix}/v1/files/:file_id`, (request, reply) => {
    const id = idParam(request, 'file_id')
    return run(request, reply, 'file_delete', async (a, scope) => {
      await scope.assertSees('file', id)
      const result = await callAnthropicObjects<{ type?: unknown }>(a, {
        method: 'DELETE',
        path: filePath(id),
      })
      if (result.body?.type === 'file_deleted') await scope.deleted('file', id)
      return result
    })
  })

  const upload = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    if (!(request.body instanceof Readable))
      throw new GatewayError(
        'unsupported_media_type',
        'send the file as multipart/form-data, in a file field',
      )
    // Not destroyed when we stop reading: the rest is drained so the error can still be answered.
    const incoming = request.body.iterator({ destroyOnReturn: false }) as AsyncIterator<Buffer>
    try {
      const contentType = request.headers['content-type'] ?? ''
      const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType)
      if (!boundary) throw invalid('the multipart/form-data content type names no boundary')
      if (Number(request.headers['content-length']) > deps.bodyLimitBytes) throw tooLarge()
      const b = boundary[1] ?? boundary[2]
      const head = await readUploadHead(incoming, b, deps.bodyLimitBytes)
      const sent = await run(request, reply, 'file_upload', async (a, scope) => {
        try {
          const created = await callAnthropicObjects<{ id?: unknown }>(a, {
            method: 'POST',
            path: '/v1/files',
            body: fromFilePart(head.body(), b),
            contentType,
          })
          await scope.created('file', created.body?.id)
          return created
        } catch (err) {
          throw final(err)
        }
      })
      if (reply.statusCode >= 400) abandonBody(request, reply, incoming)
      return sent
    } catch (err) {
      abandonBody(request, reply, incoming)
      throw err
    }
  }
  // The upload's body reaches the handler as the raw stream, in this scope only.
  void app.register(async (scope) => {
    scope.addContentTypeParser('multipart/form-data', (_request, payload, done) => done(null, payload))
    scope.post(`${prefix}/v1/files`, upload)
  })
}
