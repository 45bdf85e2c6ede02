import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Socket } from 'node:net'

/** What the fake saw of one request. */
export interface FilesApiRequest {
  method: string
  path: string
  headers: IncomingMessage['headers']
  /** The parsed JSON body, or the raw text of any other body. */
  body: unknown
}

interface Ctx {
  req: IncomingMessage
  res: ServerResponse
  path: string
  body: unknown
}

/** A file as OpenAI's files API describes it, with the bytes the fake keeps for it. */
interface StoredFile {
  object: {
    id: string
    object: 'file'
    bytes: number
    created_at: number
    filename: string
    purpose: string
    status: 'processed'
    expires_at: number | null
    status_details: null
  }
  content: string
  contentType: string
}

/** Purposes OpenAI accepts on upload. */
const PURPOSES = new Set(['assistants', 'batch', 'fine-tune', 'vision', 'user_data', 'evals'])
const BATCH_ENDPOINTS = new Set([
  '/v1/responses',
  '/v1/chat/completions',
  '/v1/embeddings',
  '/v1/completions',
])

/**
 * A fake of OpenAI's Files and Batches APIs in their published wire format: multipart upload
 * (`file`, `purpose`), list with `purpose`/`limit`/`after`/`order` and cursor fields, retrieve,
 * delete, content download, and batches (create from an uploaded `batch` file, list, retrieve,
 * cancel), with OpenAI's error bodies. Serves `/v1/...` (OpenAI, bearer key) and Azure's
 * `/openai/...?api-version=` (key in `api-key`). Only `key` is accepted.
 */
export class FakeOpenAIFiles {
  readonly files = new Map<string, StoredFile>()
  readonly batches = new Map<string, Record<string, unknown>>()
  readonly requests: FilesApiRequest[] = []
  url = ''
  private statuses: number[] = []
  private readonly server: Server
  private readonly sockets = new Set<Socket>()

  constructor(readonly key = 'sk-test') {
    this.server = createServer((req, res) => {
      // An upload the gateway cuts off (over its body limit) ends here, as a real server drops it.
      this.receive(req, res).catch(() => res.destroy())
    })
    this.server.on('connection', (s) => {
      this.sockets.add(s)
      s.on('close', () => this.sockets.delete(s))
    })
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
    return this
  }

  /** The next requests answer these statuses with OpenAI's error body instead of serving. */
  fail(...statuses: number[]): this {
    this.statuses.push(...statuses)
    return this
  }

  reset(): void {
    this.requests.length = 0
    this.statuses = []
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private async receive(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const raw = Buffer.concat(chunks).toString('utf8')
    const body: unknown = (req.headers['content-type'] ?? '').includes('json') && raw ? JSON.parse(raw) : raw
    const path = req.url ?? '/'
    this.requests.push({ method: req.method ?? 'GET', path, headers: req.headers, body })
    const status = this.statuses.shift()
    if (status !== undefined) return error(res, status, `injected ${status}`, null, null)
    return this.route({ req, res, path, body })
  }

  private seq = 0
  private nextId(prefix: string): string {
    return `${prefix}${Date.now().toString(36)}${(++this.seq).toString(36).padStart(4, '0')}`
  }

  private async route(ctx: Ctx): Promise<void> {
    const { req, res } = ctx
    const url = new URL(ctx.path, 'http://fake')
    const azure = url.pathname.startsWith('/openai/')
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1]
    const given = azure ? req.headers['api-key'] : bearer
    if (given !== this.key || (azure && !url.searchParams.get('api-version'))) {
      return error(res, 401, `Incorrect API key provided: ${String(given ?? '')}.`, 'invalid_api_key', null)
    }
    const parts = url.pathname.replace(/^\/(v1|openai)\//, '').split('/')
    const [kind, id, action] = parts
    const method = req.method ?? 'GET'
    if (kind === 'files') {
      if (method === 'POST' && !id) return this.upload(ctx)
      if (method === 'GET' && !id) return this.listFiles(res, url.searchParams)
      const file = id ? this.files.get(id) : undefined
      if (!file) return error(res, 404, `No such File object: ${id}`, null, 'id')
      if (method === 'GET' && !action) return json(res, 200, file.object)
      if (method === 'DELETE' && !action) {
        this.files.delete(file.object.id)
        return json(res, 200, { id: file.object.id, object: 'file', deleted: true })
      }
      if (method === 'GET' && action === 'content') {
        res.writeHead(200, {
          'content-type': file.contentType,
          'content-length': String(Buffer.byteLength(file.content)),
        })
        return void res.end(file.content)
      }
    }
    if (kind === 'batches') {
      if (method === 'POST' && !id) return this.createBatch(res, ctx.body)
      if (method === 'GET' && !id) return this.listBatches(res, url.searchParams)
      const batch = id ? this.batches.get(id) : undefined
      if (!batch) return error(res, 404, `No batch found with id '${id}'.`, null, null)
      if (method === 'GET' && !action) return json(res, 200, batch)
      if (method === 'POST' && action === 'cancel') {
        if (batch.status !== 'validating' && batch.status !== 'in_progress') {
          return error(res, 409, `Cannot cancel a batch with status '${String(batch.status)}'.`, null, null)
        }
        Object.assign(batch, { status: 'cancelling', cancelling_at: now() })
        return json(res, 200, batch)
      }
    }
    return error(res, 404, `Invalid URL (${method} ${url.pathname})`, null, null)
  }

  private async upload(ctx: Ctx): Promise<void> {
    const { req, res } = ctx
    const contentType = req.headers['content-type'] ?? ''
    if (!contentType.startsWith('multipart/form-data')) {
      return error(res, 400, 'Expected multipart/form-data', null, null)
    }
    const form = await new Response(String(ctx.body), { headers: { 'content-type': contentType } })
      .formData()
      .catch(() => undefined)
    if (!form) return error(res, 400, 'Could not parse multipart form', null, null)
    const file = form.get('file')
    if (!file || typeof file === 'string') {
      return error(res, 400, "'file' is a required property", null, 'file')
    }
    const purpose = form.get('purpose')
    if (typeof purpose !== 'string' || !purpose) {
      return error(res, 400, "'purpose' is a required property", null, 'purpose')
    }
    if (!PURPOSES.has(purpose)) {
      return error(
        res,
        400,
        `'${purpose}' is not one of ${[...PURPOSES].join(', ')} - 'purpose'`,
        null,
        'purpose',
      )
    }
    const content = await file.text()
    const stored: StoredFile = {
      object: {
        id: this.nextId('file-'),
        object: 'file',
        bytes: Buffer.byteLength(content),
        created_at: now(),
        filename: file.name,
        purpose,
        status: 'processed',
        expires_at: null,
        status_details: null,
      },
      content,
      contentType: purpose === 'batch' ? 'application/octet-stream' : file.type || 'application/octet-stream',
    }
    this.files.set(stored.object.id, stored)
    return json(res, 200, stored.object)
  }

  private listFiles(res: ServerResponse, q: URLSearchParams): void {
    let data = [...this.files.values()].map((f) => f.object)
    const purpose = q.get('purpose')
    if (purpose) data = data.filter((f) => f.purpose === purpose)
    if (q.get('order') !== 'asc') data.reverse()
    return json(res, 200, page(data, q, 10_000))
  }

  private createBatch(res: ServerResponse, body: unknown): void {
    const b = (body ?? {}) as Record<string, unknown>
    for (const field of ['input_file_id', 'endpoint', 'completion_window']) {
      if (typeof b[field] !== 'string')
        return error(res, 400, `Missing required parameter: '${field}'.`, null, field)
    }
    const unknown = Object.keys(b).filter(
      (k) =>
        !['input_file_id', 'endpoint', 'completion_window', 'metadata', 'output_expires_after'].includes(k),
    )
    if (unknown.length > 0) {
      return error(res, 400, `Unrecognized request argument supplied: ${unknown[0]}`, null, unknown[0])
    }
    if (!BATCH_ENDPOINTS.has(b.endpoint as string)) {
      return error(res, 400, `Invalid endpoint: ${String(b.endpoint)}`, 'invalid_value', 'endpoint')
    }
    if (b.completion_window !== '24h') {
      return error(res, 400, "Invalid completion_window: must be '24h'", 'invalid_value', 'completion_window')
    }
    const input = this.files.get(b.input_file_id as string)
    if (!input) return error(res, 400, `File ${String(b.input_file_id)} not found`, null, 'input_file_id')
    if (input.object.purpose !== 'batch') {
      return error(res, 400, 'The input file must have purpose "batch".', null, 'input_file_id')
    }
    const created = now()
    const lines = input.content.split('\n').filter((l) => l.trim()).length
    const batch: Record<string, unknown> = {
      id: this.nextId('batch_'),
      object: 'batch',
      endpoint: b.endpoint,
      errors: null,
      input_file_id: b.input_file_id,
      completion_window: '24h',
      status: 'validating',
      output_file_id: null,
      error_file_id: null,
      created_at: created,
      in_progress_at: null,
      expires_at: created + 86_400,
      finalizing_at: null,
      completed_at: null,
      failed_at: null,
      expired_at: null,
      cancelling_at: null,
      cancelled_at: null,
      request_counts: { total: lines, completed: 0, failed: 0 },
      metadata: b.metadata ?? null,
    }
    this.batches.set(batch.id as string, batch)
    return json(res, 200, batch)
  }

  /**
   * Finishes a batch as OpenAI would: an output file with one answer per input line, and an error
   * file for the lines whose custom_id contains "fail".
   */
  complete(batchId: string): void {
    const batch = this.batches.get(batchId)
    const input = batch && this.files.get(batch.input_file_id as string)
    if (!batch || !input) throw new Error(`no batch ${batchId}`)
    const rows = input.content
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as { custom_id: string; body: { model: string } })
    const line = (r: (typeof rows)[number], i: number, failed: boolean) =>
      JSON.stringify({
        id: `batch_req_${i}`,
        custom_id: r.custom_id,
        response: failed
          ? null
          : {
              status_code: 200,
              request_id: `req_${i}`,
              body: {
                object: 'chat.completion',
                model: r.body.model,
                choices: [
                  {
                    index: 0,
                    message: { role: 'assistant', content: `answer ${r.custom_id}` },
                    finish_reason: 'stop',
                  },
                ],
              },
            },
        error: failed ? { code: 'invalid_request', message: `could not serve ${r.custom_id}` } : null,
      })
    const store = (lines: string[]) => {
      if (lines.length === 0) return null
      const id = this.nextId('file-')
      const content = lines.join('\n') + '\n'
      this.files.set(id, {
        object: {
          id,
          object: 'file',
          bytes: Buffer.byteLength(content),
          created_at: now(),
          filename: 'batch_output.jsonl',
          purpose: 'batch_output',
          status: 'processed',
          expires_at: null,
          status_details: null,
        },
        content,
        contentType: 'application/octet-stream',
      })
      return id
    }
    const ok = rows.map((r, i) => [r, i] as const).filter(([r]) => !r.custom_id.includes('fail'))
    const bad = rows.map((r, i) => [r, i] as const).filter(([r]) => r.custom_id.includes('fail'))
    Object.assign(batch, {
      status: 'completed',
      completed_at: now(),
      output_file_id: store(ok.map(([r, i]) => line(r, i, false))),
      error_file_id: store(bad.map(([r, i]) => line(r, i, true))),
      request_counts: { total: rows.length, completed: ok.length, failed: bad.length },
    })
  }

  private listBatches(res: ServerResponse, q: URLSearchParams): void {
    return json(res, 200, page([...this.batches.values()].reverse() as { id: string }[], q, 100))
  }
}

/** Cursor pagination as OpenAI lists do it: `after` an id, at most `limit`, with `has_more`. */
function page<T extends { id: string }>(
  all: T[],
  q: URLSearchParams,
  maxLimit: number,
): Record<string, unknown> {
  const after = q.get('after')
  const start = after ? all.findIndex((x) => x.id === after) + 1 : 0
  const limit = Math.min(Number(q.get('limit') ?? 20) || 20, maxLimit)
  const data = all.slice(start, start + limit)
  return {
    object: 'list',
    data,
    first_id: data[0]?.id ?? null,
    last_id: data.at(-1)?.id ?? null,
    has_more: start + limit < all.length,
  }
}

function now(): number {
  return Math.floor(Date.now() / 1000)
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, {
    'content-type': 'application/json',
    'x-request-id': `req_${Date.now().toString(36)}`,
  })
  res.end(JSON.stringify(body))
}

function error(
  res: ServerResponse,
  status: number,
  message: string,
  code: string | null,
  param: string | null,
): void {
  return json(res, status, { error: { message, type: 'invalid_request_error', param, code } })
}

export async function startFakeOpenAIFiles(key = 'sk-test'): Promise<FakeOpenAIFiles> {
  return new FakeOpenAIFiles(key).start()
}
