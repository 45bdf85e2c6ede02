import { Readable } from 'node:stream'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { GatewayError } from '../../core/errors.js'
import { pathSegment } from '../../core/path-segment.js'
import { callOpenAIFilesApi, downloadContent } from '../../providers/index.js'
import type { Attempt, FilesCall, JsonResult } from '../../core/provider-adapter.js'
import { listLimit, scopedList, type ListPage } from './file-lists.js'
import type { FilesDeps } from './files.js'
import {
  final,
  idParam,
  listQuery,
  providerOf,
  runObjectCall,
  runObjectDownload,
  type Serve,
} from './object-requests.js'

/** List filters and cursors passed upstream. */
const LIST_PARAMS = ['limit', 'after', 'order']

function object(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new GatewayError('invalid_request', 'the body must be a JSON object')
  }
  return body as Record<string, unknown>
}

/** The caller's bytes as they arrive, refused past `limit`. */
async function* bounded(body: Readable, limit: number): AsyncGenerator<Buffer> {
  let size = 0
  for await (const chunk of body) {
    size += (chunk as Buffer).length
    if (size > limit) {
      throw new GatewayError(
        'body_too_large',
        'the body is larger than the configured limit (client.max_request_body_size_mb)',
      )
    }
    yield chunk as Buffer
  }
}

/**
 * A container file's upload: the caller's multipart bytes as they arrive (sent once: a failure after
 * them is final), or JSON naming an uploaded file (`input`, logged as the request).
 */
function containerFileUpload(
  request: FastifyRequest,
  reply: FastifyReply,
  bodyLimitBytes: number,
): { upload: Pick<FilesCall, 'body' | 'contentType' | 'contentLength'>; input?: Record<string, unknown> } {
  if (request.body instanceof Readable) {
    const body = request.body
    const declared = Number(request.headers['content-length'])
    if (declared > bodyLimitBytes) {
      body.resume()
      reply.header('connection', 'close')
      throw new GatewayError('body_too_large', 'the body is larger than the configured limit')
    }
    // Refused before its bytes were read (an unknown container): the rest is drained, not left hanging.
    reply.raw.once('finish', () => {
      if (!request.raw.readableEnded) request.raw.resume()
    })
    return {
      upload: {
        body: bounded(body, bodyLimitBytes),
        contentType: request.headers['content-type'] ?? '',
        contentLength: Number.isFinite(declared) && declared > 0 ? declared : undefined,
      },
    }
  }
  const { provider: _named, ...json } = object(request.body)
  if (typeof json.file_id !== 'string' || !json.file_id) {
    throw new GatewayError('invalid_request', 'file or file_id is required', { param: 'file_id' })
  }
  return { upload: { body: JSON.stringify(json), contentType: 'application/json' }, input: json }
}

/**
 * OpenAI's Containers API under `prefix` (Bifrost's `/v1/containers`, `/openai/v1/containers`), for
 * OpenAI and the OpenAI-compatible providers: containers (create, list, retrieve, delete) and their
 * files (create from an upload or a `file_id`, list, retrieve, delete, content). Each call is
 * governed and logged like inference and goes upstream with one of the provider's keys. A container
 * belongs to the virtual key that created it, and its files with it (file-ownership.ts).
 */
export function registerContainerRoutes(app: FastifyInstance, deps: FilesDeps, prefix: string): void {
  const run = runObjectCall.bind(null, deps)
  const base = `${prefix}/containers`
  const containerPath = (id: string) => `/containers/${pathSegment(id, 'container_id')}`
  const filePath = (id: string, fileId: string) =>
    `${containerPath(id)}/files/${pathSegment(fileId, 'file_id')}`

  /** A call on one container the caller may see, or on one of its files. */
  const onContainer =
    (id: string, call: (a: Attempt) => Promise<JsonResult<unknown>>): Serve =>
    async (a, scope) => {
      await scope.assertSees('container', id)
      return call(a)
    }

  app.post(base, (request, reply) => {
    const { provider: named, ...body } = object(request.body)
    if (typeof body.name !== 'string' || !body.name) {
      throw new GatewayError('invalid_request', 'name is required', { param: 'name' })
    }
    const provider = providerOf(deps.gateway, request, named)
    return run(
      request,
      reply,
      'container_create',
      provider,
      async (a, scope) => {
        const created = await callOpenAIFilesApi<{ id?: unknown }>(a, {
          method: 'POST',
          path: '/containers',
          body: JSON.stringify(body),
          contentType: 'application/json',
        })
        await scope.created('container', created.body?.id)
        return created
      },
      body,
    )
  })

  app.get(base, (request, reply) => {
    const query = listQuery(request, LIST_PARAMS)
    const want = listLimit('container', query.limit)
    return run(request, reply, 'container_list', providerOf(deps.gateway, request), (a, scope) =>
      scopedList(scope, 'container', query, want, (page) =>
        callOpenAIFilesApi<ListPage>(a, { method: 'GET', path: '/containers', query: page }),
      ),
    )
  })

  app.get(`${base}/:container_id`, (request, reply) => {
    const id = idParam(request, 'container_id')
    return run(
      request,
      reply,
      'container_retrieve',
      providerOf(deps.gateway, request),
      onContainer(id, (a) => callOpenAIFilesApi(a, { method: 'GET', path: containerPath(id) })),
    )
  })

  app.delete(`${base}/:container_id`, (request, reply) => {
    const id = idParam(request, 'container_id')
    return run(request, reply, 'container_delete', providerOf(deps.gateway, request), async (a, scope) => {
      await scope.assertSees('container', id)
      const result = await callOpenAIFilesApi<{ deleted?: unknown }>(a, {
        method: 'DELETE',
        path: containerPath(id),
      })
      await scope.deleted('container', id)
      return result
    })
  })

  // A container file comes as a multipart upload (`file`) or as JSON naming an uploaded file (`file_id`).
  app.register(async (scope) => {
    scope.addContentTypeParser('multipart/form-data', (_request, payload, done) => done(null, payload))
    scope.post(`${base}/:container_id/files`, async (request, reply) => {
      const id = idParam(request, 'container_id')
      const provider = providerOf(deps.gateway, request)
      const call = containerFileUpload(request, reply, deps.bodyLimitBytes)
      const path = `${containerPath(id)}/files`
      return run(
        request,
        reply,
        'container_file_create',
        provider,
        onContainer(id, (a) =>
          callOpenAIFilesApi(a, { method: 'POST', path, ...call.upload }).catch((err: unknown) => {
            throw call.input === undefined ? final(err) : err
          }),
        ),
        call.input,
      )
    })
  })

  app.get(`${base}/:container_id/files`, (request, reply) => {
    const id = idParam(request, 'container_id')
    const query = listQuery(request, LIST_PARAMS)
    return run(
      request,
      reply,
      'container_file_list',
      providerOf(deps.gateway, request),
      onContainer(id, (a) =>
        callOpenAIFilesApi(a, { method: 'GET', path: `${containerPath(id)}/files`, query }),
      ),
    )
  })

  /** `GET` or `DELETE` of one file of a container the caller may see. */
  const containerFile =
    (type: 'container_file_retrieve' | 'container_file_delete', method: 'GET' | 'DELETE') =>
    (request: FastifyRequest, reply: FastifyReply) => {
      const id = idParam(request, 'container_id')
      const path = filePath(id, idParam(request, 'file_id'))
      return run(
        request,
        reply,
        type,
        providerOf(deps.gateway, request),
        onContainer(id, (a) => callOpenAIFilesApi(a, { method, path })),
      )
    }
  app.get(`${base}/:container_id/files/:file_id`, containerFile('container_file_retrieve', 'GET'))
  app.delete(`${base}/:container_id/files/:file_id`, containerFile('container_file_delete', 'DELETE'))

  app.get(`${base}/:container_id/files/:file_id/content`, (request, reply) => {
    const id = idParam(request, 'container_id')
    const path = `${filePath(id, idParam(request, 'file_id'))}/content`
    const provider = providerOf(deps.gateway, request)
    return runObjectDownload(deps, request, reply, 'container_file_content', provider, async (a, scope) => {
      await scope.assertSees('container', id)
      return downloadContent(a, path)
    })
  })
}
