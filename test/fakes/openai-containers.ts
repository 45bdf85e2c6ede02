import { randomBytes } from 'node:crypto'
import { FakeServer, type FakeContext } from './server.js'

/**
 * A fake of OpenAI's Containers API in its published wire format, at `/v1/containers`: containers
 * (create with `name`, list with `limit`/`after`/`order` and cursor fields, retrieve, delete) and
 * their files (create from a multipart `file` or a JSON `file_id`, list, retrieve, delete, content),
 * with OpenAI's error bodies. Only `Authorization: Bearer sk-test` is accepted.
 */
export interface FakeContainers {
  server: FakeServer
  url: string
  containers: Map<string, Record<string, unknown>>
  /** Container id -> file id -> the file object and its bytes (as text). */
  files: Map<string, Map<string, { object: Record<string, unknown>; content: string }>>
  close(): Promise<void>
}

function json(res: FakeContext['res'], status: number, body: unknown): void {
  res.writeHead(status, {
    'content-type': 'application/json',
    'x-request-id': `req_${randomBytes(6).toString('hex')}`,
  })
  res.end(JSON.stringify(body))
}

function error(res: FakeContext['res'], status: number, message: string, param: string | null = null): void {
  json(res, status, { error: { message, type: 'invalid_request_error', param, code: null } })
}

const now = () => Math.floor(Date.now() / 1000)

/** OpenAI's cursor page over `items` (newest first unless `order=asc`). */
function page(items: Record<string, unknown>[], url: URL): Record<string, unknown> {
  const order = url.searchParams.get('order') ?? 'desc'
  const sorted = order === 'asc' ? items : [...items].reverse()
  const limit = Math.min(Number(url.searchParams.get('limit') ?? 20) || 20, 100)
  const after = url.searchParams.get('after')
  const start = after ? sorted.findIndex((i) => i.id === after) + 1 : 0
  const data = sorted.slice(start, start + limit)
  return {
    object: 'list',
    data,
    first_id: data[0]?.id ?? null,
    last_id: data.at(-1)?.id ?? null,
    has_more: start + limit < sorted.length,
  }
}

/** The `file` part of a multipart body read as text: its filename and content. */
function filePart(body: string, contentType: string): { filename: string; content: string } | undefined {
  const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/.exec(contentType)
  if (!boundary) return undefined
  for (const part of body.split(`--${boundary[1] ?? boundary[2]}`)) {
    const split = part.indexOf('\r\n\r\n')
    if (split === -1) continue
    const headers = part.slice(0, split)
    if (!/name="file"/.test(headers)) continue
    const filename = /filename="([^"]*)"/.exec(headers)?.[1] ?? 'file'
    return { filename, content: part.slice(split + 4, part.length - 2) }
  }
  return undefined
}

export async function startFakeContainers(): Promise<FakeContainers> {
  const containers = new Map<string, Record<string, unknown>>()
  const files = new Map<string, Map<string, { object: Record<string, unknown>; content: string }>>()

  const server = await new FakeServer(({ req, res, path, body }) => {
    if (req.headers.authorization !== 'Bearer sk-test') {
      return json(res, 401, {
        error: {
          message: 'Incorrect API key provided.',
          type: 'invalid_request_error',
          param: null,
          code: 'invalid_api_key',
        },
      })
    }
    const url = new URL(path, 'http://fake')
    const parts = url.pathname.split('/').slice(1).map(decodeURIComponent)
    if (parts[0] !== 'v1' || parts[1] !== 'containers')
      return error(res, 404, `Invalid URL (${req.method} ${url.pathname})`)
    const [, , id, sub, fileId, tail] = parts
    if (id === undefined) {
      if (req.method === 'GET') return json(res, 200, page([...containers.values()], url))
      if (req.method !== 'POST') return error(res, 405, 'Method not allowed')
      if (typeof body?.name !== 'string' || !body.name)
        return error(res, 400, "Missing required parameter: 'name'.", 'name')
      const container = {
        id: `cntr_${randomBytes(12).toString('hex')}`,
        object: 'container',
        created_at: now(),
        status: 'running',
        expires_after: body.expires_after ?? { anchor: 'last_active_at', minutes: 20 },
        last_active_at: now(),
        name: body.name,
        memory_limit: body.memory_limit ?? '1g',
      }
      containers.set(container.id, container)
      files.set(container.id, new Map())
      return json(res, 200, container)
    }
    const container = containers.get(id)
    if (!container) return error(res, 404, `Container with id '${id}' not found.`)
    const own = files.get(id)!
    if (sub === undefined) {
      if (req.method === 'GET') return json(res, 200, container)
      if (req.method === 'DELETE') {
        containers.delete(id)
        files.delete(id)
        return json(res, 200, { id, object: 'container.deleted', deleted: true })
      }
      return error(res, 405, 'Method not allowed')
    }
    if (sub !== 'files') return error(res, 404, `Invalid URL (${req.method} ${url.pathname})`)
    if (fileId === undefined) {
      if (req.method === 'GET')
        return json(
          res,
          200,
          page(
            [...own.values()].map((f) => f.object),
            url,
          ),
        )
      if (req.method !== 'POST') return error(res, 405, 'Method not allowed')
      const upload = typeof body === 'string' ? filePart(body, req.headers['content-type'] ?? '') : undefined
      const named = typeof body?.file_id === 'string' ? body.file_id : undefined
      if (!upload && !named)
        return error(res, 400, "Missing required parameter: 'file' or 'file_id'.", 'file')
      const content = upload?.content ?? `content of ${named}`
      const object = {
        id: `cfile_${randomBytes(12).toString('hex')}`,
        object: 'container.file',
        created_at: now(),
        bytes: Buffer.byteLength(content),
        container_id: id,
        path: `/mnt/data/${upload?.filename ?? named}`,
        source: 'user',
      }
      own.set(object.id, { object, content })
      return json(res, 200, object)
    }
    const file = own.get(fileId)
    if (!file) return error(res, 404, `Container file with id '${fileId}' not found.`)
    if (tail === 'content' && req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' })
      res.end(file.content)
      return
    }
    if (tail !== undefined) return error(res, 404, `Invalid URL (${req.method} ${url.pathname})`)
    if (req.method === 'GET') return json(res, 200, file.object)
    if (req.method === 'DELETE') {
      own.delete(fileId)
      return json(res, 200, { id: fileId, object: 'container.file.deleted', deleted: true })
    }
    return error(res, 405, 'Method not allowed')
  }).start()

  return { server, url: server.url, containers, files, close: () => server.close() }
}
