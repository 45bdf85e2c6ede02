import { randomBytes } from 'node:crypto'
import { pathSegment } from '../../core/path-segment.js'
import {
  callOpenAIFilesApi,
  deleteGeminiFile,
  type GeminiFile,
  type GeminiFileList,
  type GeminiUpload,
  getGeminiFile,
  listGeminiFiles,
  uploadGeminiFile,
} from '../../providers/index.js'
import type { Attempt, JsonResult } from '../../core/provider-adapter.js'

/** OpenAI's file object, as an OpenAI-compatible provider's files API answers it. */
export interface OpenAIFileObject {
  id?: string
  bytes?: number
  created_at?: number
  expires_at?: number | null
  filename?: string
  status?: string
}

/** OpenAI's file status as Gemini's file state. */
function stateOf(status: string | undefined): string {
  if (status === 'error') return 'FAILED'
  if (status === 'uploaded') return 'PROCESSING'
  return 'ACTIVE'
}

const rfc3339 = (seconds: number | null | undefined) =>
  typeof seconds === 'number' ? new Date(seconds * 1000).toISOString() : undefined

/**
 * Another provider's file in Gemini's shape, as Bifrost converts it: the provider's id is the
 * file's `name`, its filename the `displayName`.
 */
export function openAIFileToGemini(f: OpenAIFileObject, mimeType?: string): GeminiFile {
  const out: GeminiFile = { name: f.id ?? '' }
  if (f.filename) out.displayName = f.filename
  if (mimeType) out.mimeType = mimeType
  if (typeof f.bytes === 'number') out.sizeBytes = String(f.bytes)
  const created = rfc3339(f.created_at)
  if (created) out.createTime = out.updateTime = created
  const expires = rfc3339(f.expires_at)
  if (expires) out.expirationTime = expires
  out.state = stateOf(f.status)
  return out
}

/** OpenAI's cursor page in Gemini's: the last id is the next page's token while there are more. */
export function openAIFileListToGemini(page: {
  data?: OpenAIFileObject[]
  has_more?: boolean
  last_id?: string | null
}): GeminiFileList {
  const files = (page.data ?? []).map((f) => openAIFileToGemini(f))
  const next = page.has_more === true ? (page.last_id ?? files.at(-1)?.name) : undefined
  return { ...(files.length > 0 && { files }), ...(next && { nextPageToken: next }) }
}

/** One provider's files, served in Gemini's shapes (ids without Gemini's `files/`). */
export interface GenAIFilesBackend {
  upload(a: Attempt, file: GeminiUpload): Promise<JsonResult<{ file: GeminiFile }>>
  list(a: Attempt, page: { pageSize?: number; pageToken?: string }): Promise<JsonResult<GeminiFileList>>
  get(a: Attempt, id: string): Promise<JsonResult<GeminiFile>>
  remove(a: Attempt, id: string): Promise<JsonResult<unknown>>
  /** The id a file is recorded by for its owner: Gemini's resource name, another provider's own id. */
  recordedId(id: string): string
}

const GEMINI: GenAIFilesBackend = {
  upload: uploadGeminiFile,
  list: listGeminiFiles,
  get: (a, id) => getGeminiFile(a, `files/${id}`),
  remove: (a, id) => deleteGeminiFile(a, `files/${id}`),
  recordedId: (id) => `files/${id}`,
}

/** A multipart form value may not hold a quote or a line break. */
const formSafe = (v: string) => v.replace(/["\r\n]/g, '_')

/** An OpenAI-compatible provider's Files API, as Bifrost serves it to Gemini's SDK (uploads have purpose `batch`). */
const OPENAI_COMPATIBLE: GenAIFilesBackend = {
  async upload(a, file) {
    const boundary = `heimdall-${randomBytes(12).toString('hex')}`
    const name = formSafe(file.displayName || 'upload')
    const body = Buffer.concat([
      Buffer.from(
        `--${boundary}\r\ncontent-disposition: form-data; name="purpose"\r\n\r\nbatch\r\n` +
          `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="${name}"\r\n` +
          `content-type: ${formSafe(file.mimeType)}\r\n\r\n`,
      ),
      file.bytes,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ])
    const result = await callOpenAIFilesApi<OpenAIFileObject>(a, {
      method: 'POST',
      path: '/files',
      body: (async function* () {
        yield body
      })(),
      contentType: `multipart/form-data; boundary=${boundary}`,
      contentLength: body.length,
    })
    return { body: { file: openAIFileToGemini(result.body, file.mimeType) }, headers: result.headers }
  },
  async list(a, page) {
    const query: Record<string, string> = {}
    if (page.pageSize !== undefined) query.limit = String(page.pageSize)
    if (page.pageToken) query.after = page.pageToken
    const result = await callOpenAIFilesApi<{
      data?: OpenAIFileObject[]
      has_more?: boolean
      last_id?: string
    }>(a, {
      method: 'GET',
      path: '/files',
      query,
    })
    return { body: openAIFileListToGemini(result.body), headers: result.headers }
  },
  async get(a, id) {
    const result = await callOpenAIFilesApi<OpenAIFileObject>(a, {
      method: 'GET',
      path: `/files/${pathSegment(id, 'file_id')}`,
    })
    return { body: openAIFileToGemini(result.body), headers: result.headers }
  },
  async remove(a, id) {
    const result = await callOpenAIFilesApi(a, {
      method: 'DELETE',
      path: `/files/${pathSegment(id, 'file_id')}`,
    })
    // Gemini answers a deletion with an empty object.
    return { body: {}, headers: result.headers }
  },
  recordedId: (id) => id,
}

/** Gemini's own Files API for a Gemini-format provider; for any other, its OpenAI-compatible one (or its 400). */
export function genaiFilesBackend(format: string): GenAIFilesBackend {
  return format === 'gemini' ? GEMINI : OPENAI_COMPATIBLE
}
