import { randomBytes } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { GatewayContext } from '../../../core/context.js'
import { GatewayError, type RequestType } from '../../../core/errors.js'
import { genaiFilesBackend, type GenAIFilesBackend } from '../../../integrations/index.js'
import type { GeminiUpload } from '../../../providers/index.js'
import type { Attempt, JsonResult } from '../../../core/provider-adapter.js'
import { ObjectScope, viewerOf } from '../file-ownership.js'
import { beginRequest, responseHeaders } from '../inference.js'
import type { DropInDeps } from './index.js'

/** How long a resumable upload may stay open between its start and its last chunk. */
const UPLOAD_SESSION_TTL_MS = 10 * 60_000
/** Open resumable uploads at once; one more is refused until some finish or expire. */
const MAX_UPLOAD_SESSIONS = 64
/**
 * Bytes held for all open uploads, in body limits: chunks arrive before the caller is known (the
 * key is checked when the upload is sent on), so what they may hold is bounded here.
 */
const MAX_BUFFERED_BODIES = 4
/** Google's largest page of files. */
const MAX_FILES_PAGE = 100

type SendError = (reply: FastifyReply, err: unknown, ctx?: GatewayContext) => FastifyReply

/** A resumable upload between `start` and `upload, finalize`, its chunks held until then. */
interface UploadSession {
  provider: string
  displayName?: string
  mimeType: string
  /** The size announced at `start` (X-Goog-Upload-Header-Content-Length), when it was. */
  declaredSize?: number
  chunks: Buffer[]
  received: number
  expiresAt: number
}

const invalid = (message: string, param?: string) =>
  new GatewayError('invalid_request', message, { param, retryable: false })

function header(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name]
  const s = Array.isArray(v) ? v[0] : v
  return s === undefined || s === '' ? undefined : s
}

/** The provider whose Files API serves the call: `x-model-provider`, Gemini when none is named. */
function providerOf(deps: DropInDeps, request: FastifyRequest): string {
  const name = header(request, 'x-model-provider') ?? 'gemini'
  if (!deps.gateway.lookup.isProviderName(name)) {
    throw new GatewayError('unknown_provider', `unknown provider "${name}"`, { param: 'provider' })
  }
  return name
}

/** The body of a route whose parser keeps the bytes as they came. */
function bytesOf(request: FastifyRequest): Buffer {
  return Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
}

/** `{file: {displayName, mimeType}}`, the metadata of an upload's start (or its multipart first part). */
function uploadMetadata(raw: Buffer): { displayName?: string; mimeType?: string } {
  if (raw.length === 0) return {}
  let body: unknown
  try {
    body = JSON.parse(raw.toString('utf8'))
  } catch {
    throw invalid('the upload metadata is not valid JSON')
  }
  const file = (body as { file?: unknown } | null)?.file
  if (file === undefined) return {}
  if (file === null || typeof file !== 'object' || Array.isArray(file))
    throw invalid('file must be an object', 'file')
  const { displayName, mimeType } = file as Record<string, unknown>
  if (displayName !== undefined && typeof displayName !== 'string')
    throw invalid('file.displayName must be a string', 'file.displayName')
  if (mimeType !== undefined && typeof mimeType !== 'string')
    throw invalid('file.mimeType must be a string', 'file.mimeType')
  return { displayName, mimeType }
}

/** A `multipart/related` upload's two parts: the JSON metadata, then the bytes with their type. */
function splitMultipart(
  body: Buffer,
  contentType: string,
): { metadata: Buffer; bytes: Buffer; type?: string } {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType)
  if (!m) throw invalid('the multipart upload names no boundary')
  const delimiter = Buffer.from(`--${m[1] ?? m[2]}`)
  const parts: { headers: string; data: Buffer }[] = []
  let pos = body.indexOf(delimiter)
  while (pos !== -1 && parts.length < 2) {
    const start = pos + delimiter.length
    if (body[start] === 0x2d && body[start + 1] === 0x2d) break
    const headersEnd = body.indexOf('\r\n\r\n', start)
    if (headersEnd === -1) break
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), headersEnd + 4)
    if (next === -1) break
    parts.push({
      headers: body.subarray(start, headersEnd).toString('utf8'),
      data: body.subarray(headersEnd + 4, next),
    })
    pos = next + 2
  }
  if (parts.length < 2) throw invalid('a multipart upload has two parts: the metadata, then the file')
  const type = /content-type:\s*([^\r\n;]+)/i.exec(parts[1].headers)?.[1]?.trim()
  return { metadata: parts[0].data, bytes: parts[1].data, type }
}

/**
 * Gemini's Files API under `/genai` (Bifrost's genai file routes), for the `@google/genai` SDK:
 * `POST /upload/v1beta/files` speaks Google's resumable protocol (`X-Goog-Upload-Command: start`
 * answered with an `X-Goog-Upload-URL` back to this route, then `upload` ... `upload, finalize`)
 * and its multipart one; `GET /v1beta/files`, `GET` and `DELETE /v1beta/files/{id}`. The provider is
 * Gemini unless `x-model-provider` names another: a Gemini-format one answers as Google does, an
 * OpenAI-compatible one through its own Files API, its files in Gemini's shape (as Bifrost). A file
 * belongs to the virtual key that uploaded it, as on `/v1` (file-ownership.ts).
 */
export function registerGenAIFileRoutes(
  scope: FastifyInstance,
  deps: DropInDeps,
  prefix: string,
  sendError: SendError,
): void {
  const sessions = new Map<string, UploadSession>()
  const totalLimit = scope.initialConfig.bodyLimit ?? 1024 * 1024
  let buffered = 0

  function drop(id: string): void {
    const session = sessions.get(id)
    if (!session) return
    buffered -= session.received
    sessions.delete(id)
  }

  /** One call in the pipeline, within what the caller may see of the provider's files (file-ownership.ts). */
  async function run(
    request: FastifyRequest,
    reply: FastifyReply,
    type: RequestType,
    serve: (a: Attempt, owned: ObjectScope, files: GenAIFilesBackend) => Promise<JsonResult<unknown>>,
    provider = providerOf(deps, request),
  ): Promise<FastifyReply> {
    const admin = await deps.ownership.isAdmin(request)
    const ctx = beginRequest(request, reply, type, `${provider}/*`, deps.allowDirectKeys())
    try {
      const result = await deps.gateway.operation(ctx, { model: `${provider}/*` }, undefined, (adapter, a) =>
        serve(
          a,
          new ObjectScope(deps.ownership.objects, provider, viewerOf(ctx, admin)),
          genaiFilesBackend(adapter.format),
        ),
      )
      return reply
        .headers(responseHeaders(ctx, result.headers))
        .type('application/json; charset=utf-8')
        .send(result.raw ?? JSON.stringify(result.body))
    } catch (err) {
      return sendError(reply, err, ctx)
    }
  }

  const upload = (request: FastifyRequest, reply: FastifyReply, provider: string, file: GeminiUpload) => {
    reply.header('x-goog-upload-status', 'final')
    return run(
      request,
      reply,
      'file_upload',
      async (a, owned, files) => {
        const result = await files.upload(a, file)
        await owned.created('file', result.body.file?.name)
        return result
      },
      provider,
    )
  }

  function sweep(now: number): void {
    for (const [id, s] of sessions) if (s.expiresAt <= now) drop(id)
  }

  /** `start`: remembers the upload and answers where its bytes go, on this gateway. */
  function start(request: FastifyRequest, reply: FastifyReply): FastifyReply {
    const meta = uploadMetadata(bytesOf(request))
    const provider = providerOf(deps, request)
    const mimeType = header(request, 'x-goog-upload-header-content-type') ?? meta.mimeType
    if (!mimeType)
      throw invalid('the upload names no MIME type (X-Goog-Upload-Header-Content-Type)', 'mimeType')
    const sizeText = header(request, 'x-goog-upload-header-content-length')
    const declaredSize = sizeText === undefined ? undefined : Number(sizeText)
    if (declaredSize !== undefined && !(Number.isSafeInteger(declaredSize) && declaredSize >= 0))
      throw invalid('X-Goog-Upload-Header-Content-Length must be a byte count')
    if (declaredSize !== undefined && declaredSize > totalLimit)
      throw new GatewayError('body_too_large', `the file is larger than the ${totalLimit} bytes allowed`)
    const now = Date.now()
    sweep(now)
    if (sessions.size >= MAX_UPLOAD_SESSIONS)
      throw new GatewayError('queue_full', 'too many uploads are open; try again shortly')
    const id = randomBytes(24).toString('base64url')
    sessions.set(id, {
      provider,
      displayName: meta.displayName,
      mimeType,
      declaredSize,
      chunks: [],
      received: 0,
      expiresAt: now + UPLOAD_SESSION_TTL_MS,
    })
    const proto = header(request, 'x-forwarded-proto') === 'https' ? 'https' : request.protocol
    const path = request.url.split('?')[0]
    return reply
      .header('x-goog-upload-url', `${proto}://${request.host}${path}?upload_id=${id}`)
      .header('x-goog-upload-status', 'active')
      .type('application/json; charset=utf-8')
      .send('{}')
  }

  /** `upload` (more to come) or `upload, finalize` (the last chunk): the bytes at their offset. */
  async function chunk(request: FastifyRequest, reply: FastifyReply, id: string, command: string) {
    const session = sessions.get(id)
    if (!session || session.expiresAt <= Date.now()) {
      drop(id)
      throw new GatewayError('not_found', 'the upload session is unknown or has expired', {
        retryable: false,
      })
    }
    if (command.includes('cancel')) {
      drop(id)
      return reply
        .header('x-goog-upload-status', 'cancelled')
        .type('application/json; charset=utf-8')
        .send('{}')
    }
    if (!command.includes('upload')) throw invalid(`X-Goog-Upload-Command "${command}" is not served`)
    const offsetText = header(request, 'x-goog-upload-offset') ?? '0'
    if (Number(offsetText) !== session.received)
      throw invalid(`X-Goog-Upload-Offset ${offsetText} is not the ${session.received} bytes received so far`)
    const bytes = bytesOf(request)
    if (session.received + bytes.length > (session.declaredSize ?? totalLimit)) {
      drop(id)
      throw new GatewayError('body_too_large', 'the upload is larger than announced or allowed')
    }
    if (buffered + bytes.length > MAX_BUFFERED_BODIES * totalLimit)
      throw new GatewayError('queue_full', 'too many upload bytes are held; try again shortly')
    buffered += bytes.length
    session.chunks.push(bytes)
    session.received += bytes.length
    if (!command.includes('finalize')) {
      return reply.header('x-goog-upload-status', 'active').type('application/json; charset=utf-8').send('{}')
    }
    drop(id)
    return upload(request, reply, session.provider, {
      bytes: Buffer.concat(session.chunks),
      mimeType: session.mimeType,
      displayName: session.displayName,
    })
  }

  scope.register(async (uploads) => {
    // Every body here is kept as bytes: a chunk of a JSON file must not be parsed.
    uploads.removeAllContentTypeParsers()
    uploads.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body))
    uploads.post(`${prefix}/upload/v1beta/files`, async (request, reply) => {
      const id = (request.query as Record<string, unknown>).upload_id
      const command = (header(request, 'x-goog-upload-command') ?? '').toLowerCase()
      if (typeof id === 'string' && id) return chunk(request, reply, id, command)
      const protocol = (header(request, 'x-goog-upload-protocol') ?? '').toLowerCase()
      if (protocol === 'resumable') {
        if (command !== 'start') throw invalid('a resumable upload begins with X-Goog-Upload-Command: start')
        return start(request, reply)
      }
      if (protocol === 'multipart') {
        const parts = splitMultipart(bytesOf(request), header(request, 'content-type') ?? '')
        const meta = uploadMetadata(parts.metadata)
        const mimeType = meta.mimeType ?? parts.type
        if (!mimeType) throw invalid('the upload names no MIME type', 'mimeType')
        return upload(request, reply, providerOf(deps, request), {
          bytes: parts.bytes,
          mimeType,
          displayName: meta.displayName,
        })
      }
      throw invalid('X-Goog-Upload-Protocol must be resumable or multipart')
    })
  })

  scope.get(`${prefix}/v1beta/files`, (request, reply) => {
    const query = request.query as Record<string, unknown>
    let pageSize: number | undefined
    if (query.pageSize !== undefined) {
      pageSize = Number(query.pageSize)
      if (!Number.isInteger(pageSize) || pageSize < 1)
        throw invalid('pageSize must be a positive integer', 'pageSize')
      pageSize = Math.min(pageSize, MAX_FILES_PAGE)
    }
    const pageToken = typeof query.pageToken === 'string' ? query.pageToken : undefined
    return run(request, reply, 'file_list', async (a, owned, backend) => {
      const result = await backend.list(a, { pageSize, pageToken })
      if (owned.viewer.admin || !result.body.files?.length) return result
      // The page narrowed to the caller's files; Google's cursor still leads on.
      const files = result.body.files
      const { kept } = await owned.visible(
        'file',
        files.map((f) => ({ id: f.name })),
      )
      const mine = files.filter((_, i) => kept[i])
      const body = {
        ...(mine.length > 0 && { files: mine }),
        ...(result.body.nextPageToken && { nextPageToken: result.body.nextPageToken }),
      }
      return { body, headers: result.headers }
    })
  })

  const idOf = (request: FastifyRequest) => (request.params as { file_id: string }).file_id

  scope.get(`${prefix}/v1beta/files/:file_id`, (request, reply) => {
    const id = idOf(request)
    return run(request, reply, 'file_retrieve', async (a, owned, files) => {
      await owned.assertSees('file', files.recordedId(id))
      return files.get(a, id)
    })
  })

  scope.delete(`${prefix}/v1beta/files/:file_id`, (request, reply) => {
    const id = idOf(request)
    return run(request, reply, 'file_delete', async (a, owned, files) => {
      await owned.assertSees('file', files.recordedId(id))
      const result = await files.remove(a, id)
      await owned.deleted('file', files.recordedId(id))
      return result
    })
  })
}
