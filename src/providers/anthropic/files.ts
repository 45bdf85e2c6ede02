import { GatewayError } from '../../core/errors.js'
import { pathSegment } from '../../core/path-segment.js'
import { jsonAnswer, relayBytes, sendFilesCall, type UpstreamResponse } from '../http.js'
import type {
  Attempt,
  FileContentChunk,
  FilesCall,
  JsonResult,
  StreamResult,
} from '../../core/provider-adapter.js'
import { anthropicError } from './errors.js'

const DEFAULT_BASE_URL = 'https://api.anthropic.com'
const API_VERSION = '2023-06-01'
/** The Files API is a beta: every call to it names the beta. */
export const FILES_API_BETA = 'files-api-2025-04-14'

/** Headers from Anthropic worth passing back to the caller. */
const FORWARDED_HEADERS = ['request-id']

/** Anthropic's file metadata (`GET /v1/files/{id}`). */
export interface AnthropicFile {
  id: string
  type: 'file'
  filename: string
  mime_type: string
  size_bytes: number
  created_at: string
  downloadable?: boolean
}

/** Anthropic's cursor page of files or batches. */
export interface AnthropicPage<T> {
  data: T[]
  has_more: boolean
  first_id: string | null
  last_id: string | null
}

/** Whether a provider entry is Anthropic's own API (or a custom provider on it). */
export function isAnthropicProvider(cfg: Attempt['provider']): boolean {
  return (cfg.custom_provider_config?.base_provider_type ?? cfg.name) === 'anthropic'
}

/** Only Anthropic's own API has these: another endpoint of the Messages API (Vertex) does not. */
function assertAnthropic(a: Attempt): void {
  if (!isAnthropicProvider(a.provider)) {
    throw new GatewayError(
      'unsupported_operation',
      `provider ${a.provider.name} does not serve Anthropic's files and message batches APIs`,
      { param: 'provider', retryable: false },
    )
  }
}

function urlOf(a: Attempt, call: FilesCall): string {
  const base = (a.provider.network_config.base_url ?? DEFAULT_BASE_URL).replace(/\/+$/, '')
  const q = new URLSearchParams(call.query ?? {}).toString()
  return base + call.path + (q ? `?${q}` : '')
}

async function send(a: Attempt, call: FilesCall): Promise<UpstreamResponse> {
  assertAnthropic(a)
  const headers: Record<string, string> = { 'anthropic-version': API_VERSION }
  for (const [k, v] of Object.entries(a.extraHeaders)) headers[k.toLowerCase()] = v
  if (call.path.startsWith('/v1/files')) {
    // The caller's own betas go along; the Files API's is always among them.
    const given = headers['anthropic-beta']
    const betas = new Set([FILES_API_BETA, ...(given ? given.split(',').map((b) => b.trim()) : [])])
    headers['anthropic-beta'] = [...betas].filter(Boolean).join(',')
  }
  if (a.secret) headers['x-api-key'] = a.secret
  return sendFilesCall(a, urlOf(a, call), call, headers, anthropicError)
}

/** A call whose answer is one JSON object (a file, a batch, a page, a deletion), kept byte for byte. */
export async function callAnthropicObjects<T>(a: Attempt, call: FilesCall): Promise<JsonResult<T>> {
  return jsonAnswer<T>(a, await send(a, call), FORWARDED_HEADERS)
}

/** A call whose answer is bytes (a file's content, a batch's JSONL results), relayed chunk by chunk. */
export async function streamAnthropicObjects(
  a: Attempt,
  call: FilesCall,
  fallbackType: string,
): Promise<StreamResult<FileContentChunk>> {
  return relayBytes(a, await send(a, call), FORWARDED_HEADERS, fallbackType)
}

export const filePath = (id: string): string => `/v1/files/${pathSegment(id, 'file_id')}`
export const batchPath = (id: string): string => `/v1/messages/batches/${pathSegment(id, 'batch_id')}`

/** A file's metadata, for the ownership check of a caller without a virtual key. */
export function describeAnthropicFile(a: Attempt, id: string): Promise<JsonResult<AnthropicFile>> {
  return callAnthropicObjects<AnthropicFile>(a, { method: 'GET', path: filePath(id) })
}

/**
 * A caller's multipart upload cut down to its `file` part: the other fields (Bifrost's `provider`,
 * OpenAI's `purpose`) are not Anthropic's, which refuses them. Streamed: only a delimiter's length is
 * held back between chunks; whatever follows the file part is read and dropped.
 */
export async function* fromFilePart(body: AsyncIterable<Buffer>, boundary: string): AsyncGenerator<Buffer> {
  const delimiter = Buffer.from(`\r\n--${boundary}`)
  let pending: Buffer = Buffer.alloc(0)
  let inFile = false
  let done = false
  for await (const chunk of body) {
    if (done) continue
    let buf: Buffer = pending.length ? Buffer.concat([pending, chunk]) : chunk
    pending = Buffer.alloc(0)
    if (!inFile) {
      // latin1 keeps one character per byte, so the offsets found are the buffer's.
      const named = buf.toString('latin1').search(/;\s*name="file"/i)
      const headersEnd = named === -1 ? -1 : buf.indexOf('\r\n\r\n', named)
      if (headersEnd === -1) {
        pending = buf
        continue
      }
      yield buf.subarray(Math.max(0, buf.lastIndexOf(`--${boundary}`, named)), headersEnd + 4)
      buf = buf.subarray(headersEnd + 4)
      inFile = true
    }
    const at = buf.indexOf(delimiter)
    if (at !== -1) {
      // The file part ends here: the form is closed after it, whatever came next.
      yield buf.subarray(0, at)
      yield Buffer.from(`\r\n--${boundary}--\r\n`)
      done = true
      continue
    }
    // A delimiter may be split across chunks: its length is kept back until the next one.
    const keep = Math.min(buf.length, delimiter.length - 1)
    if (buf.length > keep) yield buf.subarray(0, buf.length - keep)
    pending = buf.subarray(buf.length - keep)
  }
  if (!done && pending.length) yield pending
}
