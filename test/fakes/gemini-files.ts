import { createHash, randomBytes } from 'node:crypto'
import type { FakeContext } from './server.js'

/**
 * Gemini's Files API, for the fake Gemini (gemini.ts): `POST /upload/v1beta/files` with
 * `X-Goog-Upload-Protocol: multipart` (a `multipart/related` body: the JSON metadata
 * `{file: {displayName, mimeType}}`, then the bytes) answering `{file}`; `GET /v1beta/files` paged by
 * `pageSize` (10 by default, 100 at most) and `pageToken`, `{}` when there are none;
 * `GET` / `DELETE /v1beta/files/{id}`, an unknown id answering 403 PERMISSION_DENIED as Google does.
 * Files are kept per fake server (by its host), in upload order.
 */
export interface StoredGeminiFile {
  name: string
  displayName?: string
  mimeType: string
  sizeBytes: string
  createTime: string
  updateTime: string
  expirationTime: string
  sha256Hash: string
  uri: string
  state: 'ACTIVE'
  source: 'UPLOADED'
  /** The bytes as the fake received them (text). */
  content: string
}

const stores = new Map<string, Map<string, StoredGeminiFile>>()

/** The files a fake Gemini at `url` holds. */
export function geminiFilesOf(url: string): Map<string, StoredGeminiFile> {
  const host = new URL(url).host
  let store = stores.get(host)
  if (!store) stores.set(host, (store = new Map()))
  return store
}

function json(res: FakeContext['res'], status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' })
  res.end(JSON.stringify(value))
}

function error(res: FakeContext['res'], code: number, status: string, message: string): void {
  json(res, code, { error: { code, message, status } })
}

function publicView(f: StoredGeminiFile): Omit<StoredGeminiFile, 'content'> {
  const { content: _content, ...rest } = f
  return rest
}

/** Serves the Files API paths; false for any other path. */
export function serveGeminiFiles(ctx: FakeContext, url: URL): boolean {
  const { req, res } = ctx
  const store = geminiFilesOf(`http://${req.headers.host}`)
  if (url.pathname === '/upload/v1beta/files') {
    if (req.method !== 'POST') return false
    upload(ctx, store)
    return true
  }
  if (url.pathname === '/v1beta/files' && req.method === 'GET') {
    const size = Math.min(Number(url.searchParams.get('pageSize') ?? 10) || 10, 100)
    const start = Number(url.searchParams.get('pageToken') ?? 0)
    const all = [...store.values()]
    const page = all.slice(start, start + size).map(publicView)
    json(res, 200, {
      ...(page.length > 0 && { files: page }),
      ...(start + size < all.length && { nextPageToken: String(start + size) }),
    })
    return true
  }
  const m = /^\/v1beta\/files\/([^/]+)$/.exec(url.pathname)
  if (!m) return false
  const name = `files/${decodeURIComponent(m[1])}`
  const file = store.get(name)
  if (!file) {
    error(
      res,
      403,
      'PERMISSION_DENIED',
      `You do not have permission to access the File ${m[1]} or it may not exist.`,
    )
    return true
  }
  if (req.method === 'GET') json(res, 200, publicView(file))
  else if (req.method === 'DELETE') {
    store.delete(name)
    json(res, 200, {})
  } else error(res, 404, 'NOT_FOUND', `Method not found: ${req.method} ${url.pathname}`)
  return true
}

function upload({ req, res, body }: FakeContext, store: Map<string, StoredGeminiFile>): void {
  if (req.headers['x-goog-upload-protocol'] !== 'multipart') {
    return error(
      res,
      400,
      'INVALID_ARGUMENT',
      'the fake serves uploads with X-Goog-Upload-Protocol: multipart',
    )
  }
  const boundary = /boundary=([^;\s]+)/.exec(req.headers['content-type'] ?? '')?.[1]
  const text = typeof body === 'string' ? body : ''
  const parts = boundary
    ? text
        .split(`--${boundary}`)
        .slice(1, -1)
        .map((p) => {
          const split = p.indexOf('\r\n\r\n')
          return { headers: p.slice(0, split), data: p.slice(split + 4, p.length - 2) }
        })
    : []
  if (parts.length !== 2) return error(res, 400, 'INVALID_ARGUMENT', 'Bad multipart upload: expected 2 parts')
  let meta: { file?: { displayName?: string; mimeType?: string } }
  try {
    meta = JSON.parse(parts[0].data)
  } catch {
    return error(res, 400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.')
  }
  const mimeType = meta.file?.mimeType ?? /content-type:\s*([^\r\n;]+)/i.exec(parts[1].headers)?.[1]
  if (!mimeType) return error(res, 400, 'INVALID_ARGUMENT', 'MIME type is required')
  const id = randomBytes(6).toString('hex')
  const now = new Date()
  const file: StoredGeminiFile = {
    name: `files/${id}`,
    ...(meta.file?.displayName && { displayName: meta.file.displayName }),
    mimeType,
    sizeBytes: String(Buffer.byteLength(parts[1].data)),
    createTime: now.toISOString(),
    updateTime: now.toISOString(),
    expirationTime: new Date(now.getTime() + 48 * 3600_000).toISOString(),
    sha256Hash: createHash('sha256').update(parts[1].data).digest('base64'),
    uri: `http://${req.headers.host}/v1beta/files/${id}`,
    state: 'ACTIVE',
    source: 'UPLOADED',
    content: parts[1].data,
  }
  store.set(file.name, file)
  json(res, 200, { file: publicView(file) })
}
