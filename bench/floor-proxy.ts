// The floor: the least a Node proxy can do per request (read the body, forward it on a keep-alive pool,
// pipe the answer back chunk by chunk). Heimdall's CPU and latency are judged against this.
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http'
import { parseArgs } from 'node:util'
import { Pool } from 'undici'
import { readBody } from './read-body.js'

// Headers that describe one TCP hop, not the message; forwarding them would corrupt the next hop.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
])

function forwardableRequestHeaders(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  for (const name in headers) {
    const value = headers[name]
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value
  }
  return out
}

function forwardableResponseHeaders(
  headers: Record<string, string | string[] | undefined>,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  for (const name in headers) {
    const value = headers[name]
    // content-length is kept on responses: the body is forwarded byte for byte.
    if (value !== undefined && (name === 'content-length' || !HOP_BY_HOP.has(name))) out[name] = value
  }
  return out
}

function failUpstream(res: ServerResponse, err: Error): void {
  if (res.headersSent) {
    res.destroy(err)
    return
  }
  const body = JSON.stringify({ error: { message: `upstream: ${err.message}`, type: 'upstream_error' } })
  res.writeHead(502, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

async function forward(pool: Pool, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await readBody(req)
  await new Promise<void>((resolve) => {
    pool.stream(
      {
        path: req.url ?? '/',
        method: req.method === 'POST' ? 'POST' : 'GET',
        headers: forwardableRequestHeaders(req.headers),
        body: body.length > 0 ? body : undefined,
      },
      ({ statusCode, headers }) => {
        res.writeHead(statusCode, forwardableResponseHeaders(headers))
        return res
      },
      (err) => {
        if (err) failUpstream(res, err)
        resolve()
      },
    )
  })
}

const { values } = parseArgs({ options: { port: { type: 'string' }, upstream: { type: 'string' } } })
if (!values.upstream) throw new Error('floor-proxy: --upstream <origin> is required')
const pool = new Pool(values.upstream, { keepAliveTimeout: 30_000 })

const server = createServer((req, res) => {
  forward(pool, req, res).catch((err: Error) => failUpstream(res, err))
})
server.keepAliveTimeout = 30_000
server.listen(Number(values.port ?? 0), '127.0.0.1')

process.on('disconnect', () => process.exit(0))
