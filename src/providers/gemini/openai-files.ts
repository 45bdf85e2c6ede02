import { GatewayError } from '../../core/errors.js'
import type { FileObject } from '../../core/schemas/files.js'
import type { Attempt, FilesCall, JsonResult } from '../../core/provider-adapter.js'
import {
  deleteGeminiFile,
  getGeminiFile,
  listGeminiFiles,
  uploadGeminiFile,
  type GeminiFile,
} from './files.js'
import { listAfter } from '../list-after.js'

/**
 * OpenAI's files calls on `/v1` (`provider: gemini`) served by Gemini's Files API, in Bifrost's
 * file shape: the id is Google's resource name (`files/{id}`), usable as a batch's `input_file_id`.
 * Google's one-request upload takes the bytes with their length, so an upload is read into memory
 * (bounded by the gateway's body limit) before it is sent. Google gives no download of uploaded
 * files, so their content is a 400.
 */

const STATUS: Record<string, string> = { ACTIVE: 'processed', PROCESSING: 'uploaded', FAILED: 'error' }

function unixOf(iso: string | undefined): number | undefined {
  const t = iso ? Date.parse(iso) : NaN
  return Number.isFinite(t) ? Math.floor(t / 1000) : undefined
}

function toOpenAIFile(f: GeminiFile): FileObject {
  const out: FileObject = {
    id: f.name,
    object: 'file',
    bytes: Number(f.sizeBytes ?? 0),
    created_at: unixOf(f.createTime) ?? 0,
    filename: f.displayName ?? f.name,
    purpose: 'batch',
    status: STATUS[f.state ?? ''] ?? 'processed',
  }
  const expires = unixOf(f.expirationTime)
  if (expires !== undefined) out.expires_at = expires
  return out
}

function invalid(message: string, param?: string): GatewayError {
  return new GatewayError('invalid_request', message, { param, retryable: false })
}

/** The caller's multipart upload, read whole: its `file` part's bytes, name and type. */
async function filePart(c: FilesCall): Promise<{ bytes: Buffer; name: string; type: string }> {
  if (!c.body || typeof c.body === 'string') throw invalid('send the file as multipart/form-data', 'file')
  const chunks: Buffer[] = []
  for await (const chunk of c.body) chunks.push(chunk)
  let form: FormData
  try {
    form = await new Response(Buffer.concat(chunks), {
      headers: { 'content-type': c.contentType ?? '' },
    }).formData()
  } catch {
    throw invalid('the body is not valid multipart/form-data')
  }
  const file = form.get('file')
  if (file === null || typeof file === 'string')
    throw invalid('file is required: the file to upload, as a file field', 'file')
  const type = file.type || (file.name.endsWith('.jsonl') ? 'application/jsonl' : 'application/octet-stream')
  return { bytes: Buffer.from(await file.arrayBuffer()), name: file.name, type }
}

/** `GET /files`: Google's pages walked from the start when `after` (a file name) is given. */
async function listFiles(a: Attempt, query: Record<string, string> | undefined) {
  const limit = Math.min(Number(query?.limit) > 0 ? Number(query?.limit) : 100, 100)
  return listAfter(
    limit,
    query?.after,
    async (token) => {
      const res = await listGeminiFiles(a, { pageSize: 100, pageToken: token })
      return { items: res.body.files ?? [], next: res.body.nextPageToken, headers: res.headers }
    },
    (f) => f.name,
    toOpenAIFile,
  )
}

/** One OpenAI-shaped files call (`/files`, `/files/{id}`), served by Gemini's Files API. */
export async function callGeminiFiles(a: Attempt, c: FilesCall): Promise<JsonResult<unknown>> {
  const m = /^\/files(?:\/([^/]+))?(\/content)?$/.exec(c.path)
  const id = m?.[1] ? decodeURIComponent(m[1]) : undefined
  if (m && !id && c.method === 'POST') {
    const part = await filePart(c)
    const created = await uploadGeminiFile(a, {
      bytes: part.bytes,
      mimeType: part.type,
      displayName: part.name,
    })
    return { body: toOpenAIFile(created.body.file), headers: created.headers }
  }
  if (m && !id) return listFiles(a, c.query)
  if (m && id && m[2]) {
    throw new GatewayError('unsupported_operation', `Gemini gives no download of uploaded files (${id})`, {
      param: 'file_id',
      retryable: false,
    })
  }
  if (m && id && c.method === 'DELETE') {
    const gone = await deleteGeminiFile(a, id)
    return { body: { id, object: 'file', deleted: true }, headers: gone.headers }
  }
  if (m && id) {
    const f = await getGeminiFile(a, id)
    return { body: toOpenAIFile(f.body), headers: f.headers }
  }
  throw new GatewayError(
    'unsupported_operation',
    `provider ${a.provider.name} does not serve ${c.method} ${c.path}`,
    {
      retryable: false,
    },
  )
}
