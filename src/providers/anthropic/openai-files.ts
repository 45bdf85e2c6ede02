import { GatewayError } from '../../core/errors.js'
import type { BatchResultItem, FileObject } from '../../core/schemas/files.js'
import { parseJsonBody } from '../http.js'
import type { Attempt, BatchResults, FilesCall, JsonResult } from '../../core/provider-adapter.js'
import {
  callAnthropicObjects,
  fromFilePart,
  streamAnthropicObjects,
  type AnthropicFile,
  type AnthropicPage,
} from './files.js'

/**
 * OpenAI's Files and Batches calls (`/v1/files`, `/v1/batches` with `provider: anthropic`) served by
 * Anthropic's Files and Message Batches APIs, answered in Bifrost's OpenAI-like shapes. A batch is
 * created from inline `requests` (Anthropic has no batch input file), as Bifrost does.
 */

/** Anthropic's message batch object. */
interface AnthropicBatch {
  id: string
  type: 'message_batch'
  processing_status: string
  request_counts?: {
    processing: number
    succeeded: number
    errored: number
    canceled: number
    expired: number
  }
  ended_at?: string | null
  created_at: string
  expires_at?: string | null
  archived_at?: string | null
  cancel_initiated_at?: string | null
  results_url?: string | null
}

/** Anthropic's `limit` is at most 1000; OpenAI's file lists ask for up to 10 000. */
const MAX_PAGE = 1000

function unixOf(iso: string | null | undefined): number | undefined {
  if (!iso) return undefined
  const t = Date.parse(iso)
  return Number.isFinite(t) ? Math.floor(t / 1000) : undefined
}

/** Anthropic's file as Bifrost's file object; like Bifrost, the MIME type stands in for the purpose. */
export function toOpenAIFile(f: AnthropicFile): FileObject {
  return {
    id: f.id,
    object: 'file',
    bytes: f.size_bytes,
    created_at: unixOf(f.created_at) ?? 0,
    filename: f.filename,
    purpose: f.mime_type,
    status: 'processed',
  }
}

const STATUS: Record<string, string> = { in_progress: 'in_progress', canceling: 'cancelling', ended: 'ended' }

/** Anthropic's batch as Bifrost's batch object (`processing_status` and `results_url` kept). */
export function toOpenAIBatch(b: AnthropicBatch): Record<string, unknown> {
  const c = b.request_counts ?? { processing: 0, succeeded: 0, errored: 0, canceled: 0, expired: 0 }
  const out: Record<string, unknown> = {
    id: b.id,
    object: 'batch',
    endpoint: '/v1/messages',
    status: STATUS[b.processing_status] ?? b.processing_status,
    processing_status: b.processing_status,
    results_url: b.results_url ?? null,
    created_at: unixOf(b.created_at) ?? 0,
    expires_at: unixOf(b.expires_at) ?? null,
    request_counts: {
      total: c.processing + c.succeeded + c.errored + c.canceled + c.expired,
      completed: c.succeeded,
      failed: c.errored,
      succeeded: c.succeeded,
      expired: c.expired,
      canceled: c.canceled,
      pending: c.processing,
    },
  }
  const ended = unixOf(b.ended_at)
  if (ended !== undefined) out.completed_at = ended
  const cancelling = unixOf(b.cancel_initiated_at)
  if (cancelling !== undefined) out.cancelling_at = cancelling
  const archived = unixOf(b.archived_at)
  if (archived !== undefined) out.archived_at = archived
  return out
}

function listOf<T>(page: AnthropicPage<T>, map: (x: T) => unknown): Record<string, unknown> {
  return {
    object: 'list',
    data: (page.data ?? []).map(map),
    first_id: page.first_id ?? null,
    last_id: page.last_id ?? null,
    has_more: page.has_more === true,
  }
}

function pageQuery(query: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  const limit = Number(query?.limit)
  if (Number.isInteger(limit) && limit > 0) out.limit = String(Math.min(limit, MAX_PAGE))
  if (query?.after) out.after_id = query.after
  if (query?.before) out.before_id = query.before
  return out
}

function invalid(message: string, param?: string): GatewayError {
  return new GatewayError('invalid_request', message, { param, retryable: false })
}

/** The body of `POST /v1/batches` for Anthropic: its inline requests as Anthropic's. */
function batchRequests(text: string): { custom_id: string; params: Record<string, unknown> }[] {
  const body = JSON.parse(text) as { input_file_id?: unknown; requests?: unknown }
  if (body.input_file_id)
    throw invalid(
      "Anthropic's batch API does not take an input file: send the requests inline, in requests",
      'input_file_id',
    )
  if (!Array.isArray(body.requests) || body.requests.length === 0)
    throw invalid('requests is required for an Anthropic batch (its requests, inline)', 'requests')
  return body.requests.map((r: unknown, i) => {
    const item = r as { custom_id?: unknown; params?: unknown; body?: unknown } | null
    const params = (item?.params ?? item?.body) as Record<string, unknown> | undefined
    if (!item || typeof item.custom_id !== 'string' || !params || typeof params !== 'object')
      throw invalid(`requests.${i}: needs a custom_id and params (a Messages request)`, `requests.${i}`)
    return { custom_id: item.custom_id, params }
  })
}

/** One OpenAI-shaped files or batches call, served by Anthropic's APIs. */
export async function callAnthropicAsOpenAI<T>(a: Attempt, c: FilesCall): Promise<JsonResult<T>> {
  const file = /^\/files(?:\/([^/]+))?$/.exec(c.path)
  const batch = /^\/batches(?:\/([^/]+)(\/cancel)?)?$/.exec(c.path)
  let result: JsonResult<unknown>
  if (file && !file[1] && c.method === 'POST') {
    const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(c.contentType ?? '')
    if (!boundary || typeof c.body === 'string' || !c.body)
      throw invalid('send the file as multipart/form-data')
    const created = await callAnthropicObjects<AnthropicFile>(a, {
      method: 'POST',
      path: '/v1/files',
      body: fromFilePart(c.body, boundary[1] ?? boundary[2]),
      contentType: c.contentType,
    })
    result = { body: toOpenAIFile(created.body), headers: created.headers }
  } else if (file && !file[1]) {
    const page = await callAnthropicObjects<AnthropicPage<AnthropicFile>>(a, {
      method: 'GET',
      path: '/v1/files',
      query: pageQuery(c.query),
    })
    result = { body: listOf(page.body, toOpenAIFile), headers: page.headers }
  } else if (file && c.method === 'DELETE') {
    const gone = await callAnthropicObjects<{ id: string; type?: string }>(a, {
      method: 'DELETE',
      path: `/v1/files/${file[1]}`,
    })
    result = {
      body: { id: gone.body.id, object: 'file', deleted: gone.body.type === 'file_deleted' },
      headers: gone.headers,
    }
  } else if (file) {
    const meta = await callAnthropicObjects<AnthropicFile>(a, { method: 'GET', path: `/v1/files/${file[1]}` })
    result = { body: toOpenAIFile(meta.body), headers: meta.headers }
  } else if (batch && !batch[1] && c.method === 'POST') {
    const requests = batchRequests(typeof c.body === 'string' ? c.body : '{}')
    const created = await callAnthropicObjects<AnthropicBatch>(a, {
      method: 'POST',
      path: '/v1/messages/batches',
      body: JSON.stringify({ requests }),
      contentType: 'application/json',
    })
    result = { body: toOpenAIBatch(created.body), headers: created.headers }
  } else if (batch && !batch[1]) {
    const page = await callAnthropicObjects<AnthropicPage<AnthropicBatch>>(a, {
      method: 'GET',
      path: '/v1/messages/batches',
      query: pageQuery(c.query),
    })
    result = { body: listOf(page.body, toOpenAIBatch), headers: page.headers }
  } else if (batch) {
    const path = `/v1/messages/batches/${batch[1]}${batch[2] ?? ''}`
    const one = await callAnthropicObjects<AnthropicBatch>(a, { method: batch[2] ? 'POST' : 'GET', path })
    result = { body: toOpenAIBatch(one.body), headers: one.headers }
  } else {
    throw new GatewayError('route_not_found', `${c.method} ${c.path} is not served for Anthropic`)
  }
  return result as JsonResult<T>
}

/** `GET /v1/files/{id}/content` for Anthropic (only files its tools made are downloadable there). */
export function downloadAnthropicFile(a: Attempt, fileId: string) {
  return streamAnthropicObjects(
    a,
    { method: 'GET', path: `/v1/files/${encodeURIComponent(fileId)}/content` },
    'application/octet-stream',
  )
}

/** One line of Anthropic's batch results as Bifrost's result item. */
function resultItem(line: {
  custom_id?: string
  result?: {
    type?: string
    message?: Record<string, unknown>
    error?: { error?: { type?: string; message?: string } }
  }
}): BatchResultItem {
  const r = line.result ?? {}
  const item: BatchResultItem = { custom_id: line.custom_id ?? '' }
  if (r.type === 'succeeded') item.response = { status_code: 200, body: r.message }
  else if (r.type === 'errored')
    item.error = {
      code: r.error?.error?.type ?? 'errored',
      message: r.error?.error?.message ?? 'the request failed',
    }
  else item.error = { code: r.type ?? 'unknown', message: `the request was ${r.type ?? 'not answered'}` }
  return item
}

/** A finished Anthropic batch's results, as Bifrost's `/v1/batches/{id}/results` gives them. */
export async function readAnthropicBatchResults(
  a: Attempt,
  batchId: string,
  maxBytes: number,
): Promise<BatchResults> {
  const path = `/v1/messages/batches/${encodeURIComponent(batchId)}`
  const batch = (await callAnthropicObjects<AnthropicBatch>(a, { method: 'GET', path })).body
  if (batch.processing_status !== 'ended')
    throw invalid(`batch ${batchId} has no results yet (status ${batch.processing_status})`, 'batch_id')
  const { items } = await streamAnthropicObjects(
    a,
    { method: 'GET', path: `${path}/results` },
    'application/binary',
  )
  const parts: Buffer[] = []
  let size = 0
  for await (const { bytes } of items) {
    size += bytes.length
    if (size > maxBytes) throw invalid(`the results of batch ${batchId} are larger than ${maxBytes} bytes`)
    parts.push(bytes)
  }
  const results: BatchResultItem[] = []
  for (const line of Buffer.concat(parts).toString('utf8').split('\n')) {
    if (line.trim()) results.push(resultItem(parseJsonBody(a.provider.name, line)))
  }
  return { body: { batch_id: batchId, results } }
}
