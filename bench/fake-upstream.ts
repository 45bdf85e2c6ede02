// A fast fake of OpenAI's chat completions endpoint, run in its own process so that its CPU is not
// counted in the proxy's. Every answer is precomputed; the only per-request work is reading the body.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { parseArgs } from 'node:util'
import { buildStreamEvents, completionBody } from './fake-answers.js'
import { readBody } from './read-body.js'

const streamEvents = buildStreamEvents(false)
const streamEventsWithUsage = buildStreamEvents(true)

interface ChatRequestShape {
  stream?: boolean
  stream_options?: { include_usage?: boolean }
}

function sendJson(res: ServerResponse, status: number, body: Buffer | string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

async function answerChat(req: IncomingMessage, res: ServerResponse): Promise<void> {
  let parsed: ChatRequestShape
  try {
    parsed = JSON.parse((await readBody(req)).toString('utf8')) as ChatRequestShape
  } catch {
    sendJson(res, 400, '{"error":{"message":"invalid JSON body","type":"invalid_request_error"}}')
    return
  }
  if (parsed.stream !== true) {
    sendJson(res, 200, completionBody)
    return
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
  for (const event of parsed.stream_options?.include_usage ? streamEventsWithUsage : streamEvents)
    res.write(event)
  res.end()
}

const { values } = parseArgs({ options: { port: { type: 'string' } } })
const port = Number(values.port ?? 0)

const server = createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/v1/chat/completions') {
    answerChat(req, res).catch(() => res.destroy())
  } else if (req.method === 'GET' && (req.url === '/health' || req.url === '/v1/health')) {
    sendJson(res, 200, '{"status":"ok"}')
  } else {
    req.resume()
    sendJson(res, 404, '{"error":{"message":"not found","type":"invalid_request_error"}}')
  }
})
server.keepAliveTimeout = 30_000
server.listen(port, '127.0.0.1')

// The harness talks to us over IPC only to tie our lifetime to its own: if it dies, we exit.
process.on('disconnect', () => process.exit(0))
