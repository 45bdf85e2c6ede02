import { Readable } from 'node:stream'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { GatewayError, type RequestType } from '../../core/errors.js'
import type { GatewayContext } from '../../core/context.js'
import type { Gateway } from '../../core/gateway.js'
import { pathSegment } from '../../core/path-segment.js'
import {
  BatchCreateRequestSchema,
  type BatchCreateRequest,
  type BatchResultsResponse,
} from '../../core/schemas/files.js'
import { callFilesApi, downloadFileContent, readBatchResults } from '../../providers/index.js'
import type { JsonResult } from '../../core/provider-adapter.js'
import { compileValidator } from '../validate.js'
import { batchBodyFor } from './batch-inline.js'
import { spoolUpload, trailingField } from './upload-spool.js'
import { registerContainerRoutes } from './containers.js'
import { listLimit, scopedList, type ListPage } from './file-lists.js'
import { ObjectScope, viewerOf, type FileOwnershipDeps } from './file-ownership.js'
import { beginRequest, failed, sendJson } from './inference.js'
import {
  idParam,
  listQuery,
  final,
  providerOf,
  requestedProvider,
  runObjectCall,
  runObjectDownload,
  text,
  type Serve,
} from './object-requests.js'

const validateBatch = compileValidator(BatchCreateRequestSchema)

/** Fields before the file part are a few short strings; more than this is not a sensible form. */
const MAX_FORM_PREFIX_BYTES = 1024 * 1024

/** List filters and cursors passed upstream; anything else (e.g. our `provider`) stays here. */
const LIST_PARAMS = ['purpose', 'limit', 'after', 'before', 'order']

export interface FilesDeps {
  gateway: Gateway
  allowDirectKeys: () => boolean
  /** `client.max_request_body_size_mb`, enforced on uploads as they stream through. */
  bodyLimitBytes: number
  /** Who created each file and batch, and who may see them (file-ownership.ts). */
  ownership: FileOwnershipDeps
}

/** What an upload's form held before its file part, and the whole body to forward from there. */
export interface UploadHead {
  fields: Record<string, string>
  filename: string
  /** The caller's bytes, unchanged: the part read so far, then the rest as it arrives. */
  body: () => AsyncIterable<Buffer>
}

/**
 * Reads a multipart upload only up to the headers of its `file` part, to check it has one and learn
 * the fields sent before it; the file itself is not read here but forwarded as it arrives, counted
 * against the body limit.
 */
export async function readUploadHead(
  it: AsyncIterator<Buffer>,
  boundary: string,
  limit: number,
): Promise<UploadHead> {
  const chunks: Buffer[] = []
  let size = 0
  for (;;) {
    const step = await it.next()
    if (!step.done) {
      chunks.push(step.value)
      size += step.value.length
      if (size > limit) throw tooLarge()
    }
    const head = Buffer.concat(chunks)
    const scan = scanParts(head, boundary)
    if (scan.filename !== undefined) {
      const filename = scan.filename
      let sent = size
      return {
        fields: scan.fields,
        filename,
        async *body() {
          yield head
          for (;;) {
            const next = await it.next()
            if (next.done) return
            sent += next.value.length
            if (sent > limit) throw tooLarge()
            yield next.value
          }
        },
      }
    }
    if (step.done || scan.ended) {
      throw new GatewayError('invalid_request', 'file is required: the file to upload, as a file field', {
        param: 'file',
      })
    }
    if (size > MAX_FORM_PREFIX_BYTES) {
      throw new GatewayError('invalid_request', 'the form holds more than 1 MiB of fields before its file', {
        param: 'file',
      })
    }
  }
}

/**
 * An upload answered before its body was read to the end (refused, or failed upstream): the rest is
 * drained and the connection closed after the answer, so the client reads the error rather than
 * stalling on a half-read body.
 */
export function abandonBody(
  request: FastifyRequest,
  reply: FastifyReply,
  incoming: AsyncIterator<Buffer>,
): void {
  if (request.raw.readableEnded) return
  if (!reply.sent) reply.header('connection', 'close')
  void incoming.return?.()
  request.raw.resume()
}

export function tooLarge(): GatewayError {
  return new GatewayError(
    'body_too_large',
    'the body is larger than the configured limit (client.max_request_body_size_mb)',
  )
}

/**
 * The parts of a multipart body seen so far: the text fields that are complete, whether the closing
 * delimiter came, and the filename once the `file` part's headers are in.
 */
function scanParts(
  buf: Buffer,
  boundary: string,
): { fields: Record<string, string>; filename?: string; ended: boolean } {
  const delimiter = Buffer.from(`--${boundary}`)
  const between = Buffer.from(`\r\n--${boundary}`)
  const fields: Record<string, string> = {}
  let pos = buf.indexOf(delimiter)
  while (pos !== -1) {
    const after = pos + delimiter.length
    if (buf.length < after + 2) break
    if (buf[after] === 0x2d && buf[after + 1] === 0x2d) return { fields, ended: true }
    const headersEnd = buf.indexOf('\r\n\r\n', after)
    if (headersEnd === -1) break
    const headers = buf.subarray(after + 2, headersEnd).toString('utf8')
    const name = /;\s*name="([^"]*)"/i.exec(headers)?.[1]
    if (name === 'file') {
      return { fields, filename: /;\s*filename="([^"]*)"/i.exec(headers)?.[1] ?? '', ended: false }
    }
    const next = buf.indexOf(between, headersEnd + 4)
    if (next === -1) break
    if (name) fields[name] = buf.subarray(headersEnd + 4, next).toString('utf8')
    pos = next + 2
  }
  return { fields, ended: false }
}

/**
 * OpenAI's Files and Batches APIs under `prefix` (`/v1`, `/openai/v1`, `/openai`), for OpenAI and
 * the OpenAI-compatible providers (and Azure with an API key). Each call is governed and logged like
 * inference, goes upstream with one of the provider's keys, and answers in OpenAI's shape. Uploads
 * and downloads stream through without being held in memory. Each file and batch belongs to the
 * virtual key that created it (file-ownership.ts).
 */
export function registerFileRoutes(app: FastifyInstance, deps: FilesDeps, prefix: string): void {
  const { gateway } = deps
  const run = runObjectCall.bind(null, deps)

  // No model is involved: the context names the provider, and any of its keys may serve.
  const begin = (request: FastifyRequest, reply: FastifyReply, type: RequestType, provider: string) =>
    beginRequest(request, reply, type, `${provider}/*`, deps.allowDirectKeys())
  // Read once governance has run, which knows the request's virtual key.
  const scopeOf = (ctx: GatewayContext, provider: string, admin: boolean) =>
    new ObjectScope(deps.ownership.objects, provider, viewerOf(ctx, admin))

  const forwardUpload = async (
    request: FastifyRequest,
    reply: FastifyReply,
    incoming: AsyncIterator<Buffer>,
  ): Promise<FastifyReply> => {
    const contentType = request.headers['content-type'] ?? ''
    const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType)
    if (!boundary) {
      throw new GatewayError('invalid_request', 'the multipart/form-data content type names no boundary')
    }
    const declared = Number(request.headers['content-length'])
    if (declared > deps.bodyLimitBytes) throw tooLarge()
    const head = await readUploadHead(incoming, boundary[1] ?? boundary[2], deps.bodyLimitBytes)
    if ('purpose' in head.fields && !head.fields.purpose.trim()) {
      throw new GatewayError('invalid_request', 'purpose is required', { param: 'purpose' })
    }
    // Named nowhere before the file part: a `provider` field may follow it, so the upload is read
    // to its end first (upload-spool.ts: memory, or a temporary file past 4 MiB).
    const early = requestedProvider(request) ?? text(head.fields.provider)
    const spool = early === undefined ? await spoolUpload(head.body()) : undefined
    try {
      const late = spool && text(trailingField(spool.tail, boundary[1] ?? boundary[2], 'provider'))
      return await sendUpload(request, reply, incoming, head, spool?.body ?? head.body, late)
    } finally {
      await spool?.dispose()
    }
  }

  const sendUpload = async (
    request: FastifyRequest,
    reply: FastifyReply,
    incoming: AsyncIterator<Buffer>,
    head: UploadHead,
    body: () => AsyncIterable<Buffer>,
    late: string | undefined,
  ): Promise<FastifyReply> => {
    const contentType = request.headers['content-type'] ?? ''
    const declared = Number(request.headers['content-length'])
    const provider = providerOf(gateway, request, text(head.fields.provider) ?? late)
    const admin = await deps.ownership.isAdmin(request)
    const ctx = begin(request, reply, 'file_upload', provider)
    ctx.input = { ...head.fields, file: { name: head.filename } }
    try {
      const result = await gateway.operation(
        ctx,
        { model: `${provider}/*` },
        undefined,
        async (_adapter, a) => {
          try {
            const created = await callFilesApi<{ id?: unknown }>(a, {
              method: 'POST',
              path: '/files',
              body: body(),
              contentType,
              contentLength: Number.isFinite(declared) && declared > 0 ? declared : undefined,
            })
            await scopeOf(ctx, provider, admin).created('file', created.body?.id)
            return created
          } catch (err) {
            throw final(err)
          }
        },
      )
      return sendJson(reply, ctx, result)
    } catch (err) {
      abandonBody(request, reply, incoming)
      return failed(request, reply, ctx, err)
    }
  }

  const upload = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    if (!(request.body instanceof Readable)) {
      throw new GatewayError(
        'unsupported_media_type',
        'send the file as multipart/form-data, with the fields file and purpose',
      )
    }
    // Not destroyed when we stop reading: the rest is drained so the error can still be answered.
    const incoming = request.body.iterator({ destroyOnReturn: false }) as AsyncIterator<Buffer>
    try {
      return await forwardUpload(request, reply, incoming)
    } catch (err) {
      abandonBody(request, reply, incoming)
      throw err
    }
  }
  // The upload's body reaches the handler as the raw stream, in this scope only.
  app.register(async (scope) => {
    scope.addContentTypeParser('multipart/form-data', (_request, payload, done) => done(null, payload))
    scope.post(`${prefix}/files`, upload)
  })

  /** `GET /files` or `GET /batches`, narrowed to what the caller may see (file-lists.ts). */
  const list =
    (kind: 'file' | 'batch') =>
    (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
      const query = listQuery(request, LIST_PARAMS)
      const want = listLimit(kind, query.limit)
      const path = kind === 'file' ? '/files' : '/batches'
      return run(request, reply, `${kind}_list`, providerOf(gateway, request), (a, scope) =>
        scopedList(scope, kind, query, want, (q) =>
          callFilesApi<ListPage>(a, { method: 'GET', path, query: q }),
        ),
      )
    }

  app.get(`${prefix}/files`, list('file'))

  app.get(`${prefix}/files/:file_id`, (request, reply) => {
    const id = idParam(request, 'file_id')
    const path = `/files/${pathSegment(id, 'file_id')}`
    return run(request, reply, 'file_retrieve', providerOf(gateway, request), async (a, scope) => {
      let described: JsonResult<unknown> | undefined
      const retrieve = () => callFilesApi<unknown>(a, { method: 'GET', path })
      await scope.assertSees('file', id, async () => (described = await retrieve()))
      return described ?? (await retrieve())
    })
  })

  app.delete(`${prefix}/files/:file_id`, (request, reply) => {
    const id = idParam(request, 'file_id')
    const path = `/files/${pathSegment(id, 'file_id')}`
    return run(request, reply, 'file_delete', providerOf(gateway, request), async (a, scope) => {
      await scope.assertSees('file', id, () => callFilesApi<unknown>(a, { method: 'GET', path }))
      const result = await callFilesApi<{ deleted?: unknown }>(a, { method: 'DELETE', path })
      if (result.body?.deleted === true) await scope.deleted('file', id)
      return result
    })
  })

  app.get(`${prefix}/files/:file_id/content`, (request, reply) => {
    const id = idParam(request, 'file_id')
    const path = `/files/${pathSegment(id, 'file_id')}`
    const provider = providerOf(gateway, request)
    return runObjectDownload(deps, request, reply, 'file_content', provider, async (a, scope) => {
      await scope.assertSees('file', id, () => callFilesApi<unknown>(a, { method: 'GET', path }))
      return downloadFileContent(a, id)
    })
  })

  app.post(`${prefix}/batches`, (request, reply) => {
    const body = validateBatch(request.body)
    if (body.requests === undefined) requireFileBatchFields(body)
    const { provider: named, model, fallbacks: _fallbacks, ...openai } = body as Record<string, unknown>
    const slash = typeof model === 'string' ? model.indexOf('/') : -1
    const fromModel = slash > 0 ? (model as string).slice(0, slash) : undefined
    const provider = providerOf(gateway, request, text(named) ?? fromModel)
    const serve: Serve = async (a, scope) => {
      // A batch reads its input file: another key's file is as closed to it as to a download.
      if (body.input_file_id) await scope.assertSees('file', body.input_file_id, undefined, 'input_file_id')
      const created = await callFilesApi<{ id?: unknown }>(a, {
        method: 'POST',
        path: '/batches',
        body: JSON.stringify(await batchBodyFor(a, scope, openai, model)),
        contentType: 'application/json',
      })
      await scope.created('batch', created.body?.id)
      return created
    }
    return run(request, reply, 'batch_create', provider, serve, body)
  })

  app.get(`${prefix}/batches`, list('batch'))

  /** A call on one batch the caller may see; the batch's output files become its creator's. */
  const onBatch =
    (id: string, method: 'GET' | 'POST', path: string): Serve =>
    async (a, scope) => {
      await scope.assertSees('batch', id)
      const result = await callFilesApi<unknown>(a, { method, path })
      await scope.claimBatchFiles([result.body])
      return result
    }

  app.get(`${prefix}/batches/:batch_id`, (request, reply) => {
    const id = idParam(request, 'batch_id')
    const path = `/batches/${pathSegment(id, 'batch_id')}`
    return run(request, reply, 'batch_retrieve', providerOf(gateway, request), onBatch(id, 'GET', path))
  })

  app.post(`${prefix}/batches/:batch_id/cancel`, (request, reply) => {
    const id = idParam(request, 'batch_id')
    const path = `/batches/${pathSegment(id, 'batch_id')}/cancel`
    return run(request, reply, 'batch_cancel', providerOf(gateway, request), onBatch(id, 'POST', path))
  })

  // Bifrost's results of a finished batch, read from its output and error files.
  app.get(`${prefix}/batches/:batch_id/results`, (request, reply) => {
    const id = idParam(request, 'batch_id')
    return run(request, reply, 'batch_results', providerOf(gateway, request), async (a, scope) => {
      await scope.assertSees('batch', id)
      const result = await readBatchResults(a, id, deps.bodyLimitBytes)
      const answer: BatchResultsResponse = {
        ...result.body,
        extra_fields: { request_type: 'batch_results', provider: a.provider.name },
      }
      return { body: answer, headers: result.headers }
    })
  })

  // OpenAI's Containers API goes wherever its Files API is served.
  registerContainerRoutes(app, deps, prefix)
}

/** A batch from an input file (OpenAI's kind) names the file, its endpoint and its window. */
function requireFileBatchFields(body: BatchCreateRequest): void {
  for (const field of ['input_file_id', 'endpoint', 'completion_window'] as const) {
    if (!body[field]) throw new GatewayError('invalid_request', `${field} is required`, { param: field })
  }
}
