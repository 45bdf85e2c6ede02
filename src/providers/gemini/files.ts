import { randomBytes } from 'node:crypto'
import { GatewayError } from '../../core/errors.js'
import { pathSegment } from '../../core/path-segment.js'
import { headerValue, jsonResult, readText, sendUpstream, type UpstreamResponse } from '../http.js'
import type { Attempt, JsonResult } from '../../core/provider-adapter.js'
import { geminiError } from './errors.js'

const DEFAULT_BASE_URL = 'https://generativelanguage.googleapis.com'

/** A file of Gemini's Files API (`files/{id}`), as Google answers it. */
export interface GeminiFile {
  name: string
  displayName?: string
  mimeType?: string
  sizeBytes?: string
  createTime?: string
  updateTime?: string
  expirationTime?: string
  sha256Hash?: string
  uri?: string
  state?: string
  [k: string]: unknown
}

export interface GeminiFileList {
  files?: GeminiFile[]
  nextPageToken?: string
}

/** The bytes of one upload and what Google is told of them. */
export interface GeminiUpload {
  bytes: Buffer
  mimeType: string
  displayName?: string
}

/** The host root of the configured base URL, without a trailing `/v1beta` (uploads go to `/upload/v1beta`). */
function hostRoot(a: Attempt): string {
  let url = a.provider.network_config.base_url || DEFAULT_BASE_URL
  while (url.endsWith('/')) url = url.slice(0, -1)
  return url.replace(/\/v1(beta\d*)?$/, '')
}

function headers(a: Attempt): Record<string, string> {
  const h: Record<string, string> = { ...a.extraHeaders }
  if (a.secret) h['x-goog-api-key'] = a.secret
  return h
}

/**
 * Google answers a file that is not there, or not this key's, with 403 PERMISSION_DENIED ("... or it
 * may not exist"): that says nothing of the key, which must not be set aside for it, nor another tried.
 */
function fileError(e: GatewayError): GatewayError {
  if (e.status !== 403 || !/\bfile\b/i.test(e.message)) return e
  return new GatewayError(e.code, e.message, {
    status: e.status,
    type: e.type,
    upstreamCode: e.upstreamCode,
    isBifrostError: false,
    keyDead: false,
    retryable: false,
    cause: e,
  })
}

/** `files/abc` or `abc`: the id as one path segment. */
function fileSegment(name: string): string {
  return pathSegment(name.replace(/^files\//, ''), 'file_id')
}

async function call<T>(
  a: Attempt,
  method: 'GET' | 'POST' | 'DELETE',
  url: string,
  extra: Record<string, string> = {},
  body?: Buffer,
): Promise<JsonResult<T>> {
  const name = a.provider.name
  const res: UpstreamResponse = await sendUpstream(
    a,
    { url, method, headers: { ...headers(a), ...extra }, body },
    name,
  )
  const text = await readText(res, name, a.signal)
  if (res.statusCode >= 400) throw fileError(geminiError(name, res.statusCode, text, res.headers))
  const requestId = headerValue(res.headers, 'x-goog-request-id')
  return jsonResult<T>(name, text || '{}', requestId ? { 'x-goog-request-id': requestId } : undefined)
}

/**
 * Uploads a file in one request with Google's multipart protocol (`X-Goog-Upload-Protocol:
 * multipart`): the metadata part, then the bytes. Google answers `{file: {...}}`.
 */
export function uploadGeminiFile(
  a: Attempt,
  upload: GeminiUpload,
): Promise<JsonResult<{ file: GeminiFile }>> {
  const boundary = `heimdall-${randomBytes(12).toString('hex')}`
  const metadata = JSON.stringify({
    file: { ...(upload.displayName && { displayName: upload.displayName }), mimeType: upload.mimeType },
  })
  const body = Buffer.concat([
    Buffer.from(
      `--${boundary}\r\ncontent-type: application/json; charset=utf-8\r\n\r\n${metadata}\r\n` +
        `--${boundary}\r\ncontent-type: ${upload.mimeType}\r\n\r\n`,
    ),
    upload.bytes,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ])
  return call(
    a,
    'POST',
    `${hostRoot(a)}/upload/v1beta/files`,
    {
      'x-goog-upload-protocol': 'multipart',
      'content-type': `multipart/related; boundary=${boundary}`,
    },
    body,
  )
}

/** `GET /v1beta/files` with Google's paging (`pageSize` up to 100, `pageToken`). */
export function listGeminiFiles(
  a: Attempt,
  page: { pageSize?: number; pageToken?: string },
): Promise<JsonResult<GeminiFileList>> {
  const q = new URLSearchParams()
  if (page.pageSize !== undefined) q.set('pageSize', String(page.pageSize))
  if (page.pageToken) q.set('pageToken', page.pageToken)
  const query = q.toString()
  return call(a, 'GET', `${hostRoot(a)}/v1beta/files${query ? `?${query}` : ''}`)
}

export function getGeminiFile(a: Attempt, name: string): Promise<JsonResult<GeminiFile>> {
  return call(a, 'GET', `${hostRoot(a)}/v1beta/files/${fileSegment(name)}`)
}

/** Google answers a deletion with an empty object. */
export function deleteGeminiFile(a: Attempt, name: string): Promise<JsonResult<Record<string, never>>> {
  return call(a, 'DELETE', `${hostRoot(a)}/v1beta/files/${fileSegment(name)}`)
}
