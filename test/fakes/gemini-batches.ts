import { randomBytes } from 'node:crypto'
import type { ServerResponse } from 'node:http'
import { serveGeminiFiles } from './gemini-files.js'
import { FakeServer, type FakeContext } from './server.js'

/**
 * A fake of Gemini's Batch API in Google's wire format: `POST /v1beta/models/{model}:batchGenerateContent`
 * (inlined requests or a file, answered with the batch operation), `GET /v1beta/batches/{id}`,
 * `GET /v1beta/batches` (`operations`, `pageSize`/`pageToken`) and `POST /v1beta/batches/{id}:cancel`.
 * `complete(name)` finishes a batch: each inlined request is answered "Echo: <its last text>", keyed by
 * its metadata key. The Files API is served too (gemini-files.ts). Requests must carry the key in
 * `x-goog-api-key`.
 */
export interface FakeGeminiBatches {
  server: FakeServer
  url: string
  complete(name: string): void
  close(): Promise<void>
}

interface Stored {
  op: Record<string, any>
  requests: { request: { contents?: { parts?: { text?: string }[] }[] }; metadata?: { key?: string } }[]
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(body))
}

function googleError(res: ServerResponse, status: number, code: string, message: string): void {
  send(res, status, { error: { code: status, message, status: code } })
}

export async function startFakeGeminiBatches(key: string): Promise<FakeGeminiBatches> {
  const batches = new Map<string, Stored>()

  const handle = (ctx: FakeContext): void => {
    const { req, res, path, body } = ctx
    if (req.headers['x-goog-api-key'] !== key)
      return googleError(res, 400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.')
    const url = new URL(path, 'http://fake')
    if (serveGeminiFiles(ctx, url)) return
    const create = /^\/v1beta\/models\/([^/:]+):batchGenerateContent$/.exec(url.pathname)
    if (req.method === 'POST' && create) {
      const input = body?.batch?.inputConfig
      const requests = input?.requests?.requests
      if (!Array.isArray(requests) && typeof input?.fileName !== 'string')
        return googleError(res, 400, 'INVALID_ARGUMENT', 'batch.input_config is required')
      const name = `batches/${randomBytes(6).toString('hex')}`
      const now = new Date().toISOString()
      const op = {
        name,
        metadata: {
          '@type': 'type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch',
          name,
          model: `models/${decodeURIComponent(create[1])}`,
          displayName: body.batch.displayName,
          inputConfig: input.fileName ? { fileName: input.fileName } : undefined,
          createTime: now,
          updateTime: now,
          batchStats: {
            requestCount: String(requests?.length ?? 1),
            pendingRequestCount: String(requests?.length ?? 1),
          },
          state: 'BATCH_STATE_PENDING',
        },
      }
      batches.set(name, { op, requests: requests ?? [] })
      return send(res, 200, op)
    }
    if (req.method === 'GET' && url.pathname === '/v1beta/batches') {
      const size = Number(url.searchParams.get('pageSize') ?? 50)
      const start = Number(url.searchParams.get('pageToken') ?? 0)
      const all = [...batches.values()].map((b) => b.op).reverse()
      return send(res, 200, {
        operations: all.slice(start, start + size),
        ...(start + size < all.length && { nextPageToken: String(start + size) }),
      })
    }
    const one = /^\/v1beta\/batches\/([^/:]+)(:cancel)?$/.exec(url.pathname)
    const stored = one && batches.get(`batches/${decodeURIComponent(one[1])}`)
    if (!one || !stored) return googleError(res, 404, 'NOT_FOUND', `Batch ${url.pathname} not found`)
    if (req.method === 'POST' && one[2]) {
      stored.op.metadata.state = 'BATCH_STATE_CANCELLED'
      return send(res, 200, {})
    }
    return send(res, 200, stored.op)
  }

  const server = await new FakeServer(handle).start()
  return {
    server,
    url: server.url,
    complete(name) {
      const stored = batches.get(name)
      if (!stored) throw new Error(`no batch ${name}`)
      const inlinedResponses = stored.requests.map((r) => {
        const text =
          r.request.contents
            ?.at(-1)
            ?.parts?.map((p) => p.text ?? '')
            .join('') ?? ''
        return {
          metadata: { key: r.metadata?.key },
          response: {
            candidates: [
              { content: { role: 'model', parts: [{ text: `Echo: ${text}` }] }, finishReason: 'STOP' },
            ],
            usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 2, totalTokenCount: 5 },
          },
        }
      })
      const n = String(stored.requests.length)
      stored.op.metadata.state = 'BATCH_STATE_SUCCEEDED'
      stored.op.metadata.batchStats = { requestCount: n, successfulRequestCount: n }
      stored.op.done = true
      stored.op.response = {
        '@type': 'type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatchOutput',
        inlinedResponses: { inlinedResponses },
      }
    },
    close: () => server.close(),
  }
}
