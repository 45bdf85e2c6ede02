import { messageFor } from './anthropic.js'
import type { FakeContext } from './server.js'

/**
 * Anthropic's Files API (beta `files-api-2025-04-14`: multipart upload of `file`, list with
 * `limit`/`after_id`/`before_id`, metadata, content, delete) and Message Batches API (create from
 * inline `requests`, list, retrieve, cancel, JSONL results), in their published wire formats, with
 * Anthropic's error bodies. A batch is `in_progress` when created and `ended` at the next retrieve
 * (its requests answered as `/v1/messages` would answer them, or canceled if it was canceling);
 * `results_url` is set once it ended. Only uploaded files are downloadable, as Anthropic's are not.
 */
interface StoredFile {
  meta: {
    id: string
    type: 'file'
    filename: string
    mime_type: string
    size_bytes: number
    created_at: string
    downloadable: boolean
  }
  content: Buffer
}

interface StoredBatch {
  id: string
  type: 'message_batch'
  processing_status: 'in_progress' | 'canceling' | 'ended'
  request_counts: {
    processing: number
    succeeded: number
    errored: number
    canceled: number
    expired: number
  }
  ended_at: string | null
  created_at: string
  expires_at: string
  archived_at: null
  cancel_initiated_at: string | null
  results_url: string | null
}

const FILES_BETA = 'files-api-2025-04-14'
const files = new Map<string, StoredFile>()
const batches = new Map<string, { batch: StoredBatch; requests: { custom_id: string; params: any }[] }>()
const results = new Map<string, string>()
let seq = 0
const newId = (prefix: string) =>
  `${prefix}_01${Date.now().toString(36)}${(++seq).toString(36).padStart(4, '0')}`

function json(res: FakeContext['res'], status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'request-id': newId('req') })
  res.end(JSON.stringify(value))
}

function error(res: FakeContext['res'], status: number, type: string, message: string): void {
  json(res, status, { type: 'error', error: { type, message } })
}

/** Anthropic's cursor page over items in creation order, newest first. */
function page<T extends { id: string }>(all: T[], query: URLSearchParams): unknown {
  const limit = Number(query.get('limit') ?? 20)
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) return undefined
  let list = [...all].reverse()
  const after = query.get('after_id')
  const before = query.get('before_id')
  if (after) list = list.slice(list.findIndex((x) => x.id === after) + 1)
  if (before)
    list = list.slice(
      0,
      Math.max(
        0,
        list.findIndex((x) => x.id === before),
      ),
    )
  const data = before ? list.slice(-limit) : list.slice(0, limit)
  return {
    data,
    has_more: list.length > data.length,
    first_id: data[0]?.id ?? null,
    last_id: data.at(-1)?.id ?? null,
  }
}

export async function filesAndBatches(ctx: FakeContext): Promise<void> {
  const { req, res } = ctx
  const url = new URL(ctx.path, 'http://fake')
  const parts = url.pathname.split('/').filter(Boolean) // v1, files|messages, ...
  if (parts[1] === 'files') {
    const betas = String(req.headers['anthropic-beta'] ?? '')
      .split(',')
      .map((b) => b.trim())
    if (!betas.includes(FILES_BETA))
      return error(
        res,
        400,
        'invalid_request_error',
        `the Files API requires the anthropic-beta header ${FILES_BETA}`,
      )
    return filesApi(ctx, parts.slice(2), url.searchParams)
  }
  return batchesApi(ctx, parts.slice(3), url.searchParams)
}

async function filesApi(ctx: FakeContext, rest: string[], query: URLSearchParams): Promise<void> {
  const { req, res } = ctx
  const [fileId, sub] = rest
  if (req.method === 'POST' && !fileId) {
    const type = String(req.headers['content-type'] ?? '')
    if (!type.startsWith('multipart/form-data'))
      return error(res, 400, 'invalid_request_error', 'Expected multipart/form-data')
    const raw = Buffer.from(typeof ctx.body === 'string' ? ctx.body : '', 'utf8')
    const form = await new Response(raw, { headers: { 'content-type': type } }).formData().catch(() => null)
    if (!form) return error(res, 400, 'invalid_request_error', 'Could not parse multipart form')
    for (const k of form.keys())
      if (k !== 'file')
        return error(res, 400, 'invalid_request_error', `${k}: Extra inputs are not permitted`)
    const file = form.get('file')
    if (!(file instanceof Blob)) return error(res, 400, 'invalid_request_error', 'file: Field required')
    const content = Buffer.from(await file.arrayBuffer())
    const meta: StoredFile['meta'] = {
      id: newId('file'),
      type: 'file',
      filename: (file as File).name || 'file',
      mime_type: file.type || 'application/octet-stream',
      size_bytes: content.length,
      created_at: new Date().toISOString(),
      downloadable: true,
    }
    files.set(meta.id, { meta, content })
    return json(res, 200, meta)
  }
  if (req.method === 'GET' && !fileId) {
    const body = page(
      [...files.values()].map((f) => f.meta),
      query,
    )
    if (!body) return error(res, 400, 'invalid_request_error', 'limit: Input should be between 1 and 1000')
    return json(res, 200, body)
  }
  const stored = files.get(fileId)
  if (!stored) return error(res, 404, 'not_found_error', `File not found: ${fileId}`)
  if (req.method === 'GET' && sub === 'content') {
    res.writeHead(200, { 'content-type': stored.meta.mime_type, 'content-length': stored.content.length })
    return void res.end(stored.content)
  }
  if (req.method === 'GET' && !sub) return json(res, 200, stored.meta)
  if (req.method === 'DELETE' && !sub) {
    files.delete(fileId)
    return json(res, 200, { id: fileId, type: 'file_deleted' })
  }
  error(res, 404, 'not_found_error', `Not found: ${req.method} ${ctx.path}`)
}

function batchesApi(ctx: FakeContext, rest: string[], query: URLSearchParams): void {
  const { req, res, body } = ctx
  const [batchId, sub] = rest
  if (req.method === 'POST' && !batchId) {
    if (!body || typeof body !== 'object' || !Array.isArray(body.requests) || body.requests.length === 0)
      return error(res, 400, 'invalid_request_error', 'requests: Field required')
    for (const k of Object.keys(body))
      if (k !== 'requests')
        return error(res, 400, 'invalid_request_error', `${k}: Extra inputs are not permitted`)
    const seen = new Set<string>()
    for (const [i, r] of (body.requests as any[]).entries()) {
      if (typeof r?.custom_id !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(r.custom_id))
        return error(
          res,
          400,
          'invalid_request_error',
          `requests.${i}.custom_id: String should match pattern`,
        )
      if (seen.has(r.custom_id))
        return error(res, 400, 'invalid_request_error', `requests.${i}.custom_id: Duplicate custom_id`)
      seen.add(r.custom_id)
      if (!r.params || typeof r.params !== 'object' || r.params.stream)
        return error(res, 400, 'invalid_request_error', `requests.${i}.params: invalid Messages parameters`)
    }
    const created = new Date()
    const batch: StoredBatch = {
      id: newId('msgbatch'),
      type: 'message_batch',
      processing_status: 'in_progress',
      request_counts: { processing: body.requests.length, succeeded: 0, errored: 0, canceled: 0, expired: 0 },
      ended_at: null,
      created_at: created.toISOString(),
      expires_at: new Date(created.getTime() + 24 * 3600_000).toISOString(),
      archived_at: null,
      cancel_initiated_at: null,
      results_url: null,
    }
    batches.set(batch.id, { batch, requests: body.requests })
    return json(res, 200, batch)
  }
  if (req.method === 'GET' && !batchId) {
    const list = page(
      [...batches.values()].map((b) => b.batch),
      query,
    )
    if (!list) return error(res, 400, 'invalid_request_error', 'limit: Input should be between 1 and 1000')
    return json(res, 200, list)
  }
  const entry = batches.get(batchId)
  if (!entry) return error(res, 404, 'not_found_error', `Batch not found: ${batchId}`)
  const { batch } = entry
  if (req.method === 'GET' && !sub) {
    if (batch.processing_status !== 'ended') finish(entry, `http://${req.headers.host}`)
    return json(res, 200, batch)
  }
  if (req.method === 'POST' && sub === 'cancel') {
    if (batch.processing_status === 'in_progress') {
      batch.processing_status = 'canceling'
      batch.cancel_initiated_at = new Date().toISOString()
    }
    return json(res, 200, batch)
  }
  if (req.method === 'GET' && sub === 'results') {
    const text = results.get(batchId)
    if (text === undefined)
      return error(
        res,
        400,
        'invalid_request_error',
        `Batch ${batchId} is still processing; results are not available`,
      )
    res.writeHead(200, { 'content-type': 'application/binary' })
    return void res.end(text)
  }
  error(res, 404, 'not_found_error', `Not found: ${req.method} ${ctx.path}`)
}

/** Ends a batch: each request answered (or canceled), its JSONL results kept for `/results`. */
function finish(
  entry: { batch: StoredBatch; requests: { custom_id: string; params: any }[] },
  base: string,
): void {
  const { batch, requests } = entry
  const counts = { processing: 0, succeeded: 0, errored: 0, canceled: 0, expired: 0 }
  const lines = requests.map((r) => {
    if (batch.processing_status === 'canceling') {
      counts.canceled++
      return { custom_id: r.custom_id, result: { type: 'canceled' } }
    }
    const answer = messageFor(r.params)
    if ('problem' in answer) {
      counts.errored++
      return {
        custom_id: r.custom_id,
        result: {
          type: 'errored',
          error: { type: 'error', error: { type: 'invalid_request_error', message: answer.problem } },
        },
      }
    }
    counts.succeeded++
    return { custom_id: r.custom_id, result: { type: 'succeeded', message: answer.message } }
  })
  results.set(batch.id, lines.map((l) => JSON.stringify(l)).join('\n') + '\n')
  batch.processing_status = 'ended'
  batch.request_counts = counts
  batch.ended_at = new Date().toISOString()
  batch.results_url = `${base}/v1/messages/batches/${batch.id}/results`
}
