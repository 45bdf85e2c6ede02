import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * The shared harness of the fake providers: a real HTTP server on a free loopback port that records
 * every request and plays queued faults before its normal answer. Each fake (openai.ts,
 * anthropic.ts, gemini.ts) supplies only its wire format.
 */

export type Fault =
  | { kind: 'status'; status: number; retryAfter?: string; body?: string; contentType?: string }
  | { kind: 'html'; status: number }
  | { kind: 'latency'; ms: number }
  /** Stream: send this many events, then destroy the socket. Non-stream: destroy before answering. */
  | { kind: 'drop'; afterEvents: number }
  /** Stream: send this many events, then one that is not valid JSON. */
  | { kind: 'malformed'; afterEvents: number }
  /** Accept the connection and never answer (for timeouts). */
  | { kind: 'hang' }
  /** Stream: send this many events, then nothing more, the connection left open (a stream stalled mid-way). */
  | { kind: 'stall'; afterEvents: number }

export interface RecordedRequest {
  method: string
  path: string
  headers: IncomingMessage['headers']
  body: any
}

/** What a fake answered to one generation request, in neutral terms, for tests to compare with what the client saw. */
export interface ReportedAnswer {
  text: string
  /** The reasoning text the fake sent, '' when it sent none. */
  thinking: string
  toolCalls: { name: string; args: Record<string, unknown> }[]
  /** Input and output tokens as the provider's usage counts them (output includes reasoning). */
  usage: { input: number; output: number }
}

export interface FakeContext {
  req: IncomingMessage
  res: ServerResponse
  path: string
  body: any
  /** A fault to apply to the stream about to be written, if one was queued. */
  streamFault: Fault | undefined
  /** Records the answer the fake is about to send (see `FakeServer.answers`). */
  report(answer: ReportedAnswer): void
}

export type FakeHandler = (ctx: FakeContext) => Promise<void> | void

export class FakeServer {
  readonly requests: RecordedRequest[] = []
  /** The generation answers sent, in order, as the fakes report them. */
  readonly answers: ReportedAnswer[] = []
  private faults: Fault[] = []
  private server: Server
  private sockets = new Set<import('node:net').Socket>()
  url = ''
  /** Added to every answer, to keep requests in flight together. */
  latencyMs = 0

  constructor(private handler: FakeHandler) {
    // A request the gateway aborts mid-body rejects the handler; the fake drops that socket, it does not crash.
    this.server = createServer((req, res) => void this.handle(req, res).catch(() => res.destroy()))
    this.server.on('connection', (s) => {
      this.sockets.add(s)
      s.on('close', () => this.sockets.delete(s))
    })
  }

  async start(port = 0): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve))
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
    return this
  }

  /** Queue faults; each request consumes the first one left. */
  fail(...faults: Fault[]): this {
    this.faults.push(...faults)
    return this
  }

  /** Connections currently open to this fake (0 once the gateway has let go). */
  get openConnections(): number {
    return this.sockets.size
  }

  reset(): void {
    this.faults = []
    this.requests.length = 0
    this.answers.length = 0
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const raw = Buffer.concat(chunks).toString('utf8')
    let body: any = raw
    if ((req.headers['content-type'] ?? '').includes('json') && raw) {
      try {
        body = JSON.parse(raw)
      } catch {
        body = raw
      }
    }
    const path = req.url ?? '/'
    this.requests.push({ method: req.method ?? 'GET', path, headers: req.headers, body })
    if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs))
    let fault = this.faults.shift()
    while (fault?.kind === 'latency') {
      await new Promise((r) => setTimeout(r, (fault as { ms: number }).ms))
      fault = this.faults.shift()
    }
    if (fault?.kind === 'hang') return
    if (fault?.kind === 'status') {
      const headers: Record<string, string> = { 'content-type': fault.contentType ?? 'application/json' }
      if (fault.retryAfter !== undefined) headers['retry-after'] = fault.retryAfter
      res.writeHead(fault.status, headers)
      res.end(
        fault.body ??
          JSON.stringify({ error: { message: `injected ${fault.status}`, type: 'server_error' } }),
      )
      return
    }
    if (fault?.kind === 'html') {
      res.writeHead(fault.status, { 'content-type': 'text/html' })
      res.end(
        `<html><head><title>${fault.status} Bad Gateway</title></head><body><h1>${fault.status}</h1></body></html>`,
      )
      return
    }
    const isStream = streamRequested(path, body)
    if (fault?.kind === 'drop' && !isStream) {
      req.socket.destroy()
      return
    }
    const report = (answer: ReportedAnswer) => void this.answers.push(answer)
    await this.handler({ req, res, path, body, streamFault: fault, report })
  }
}

function streamRequested(path: string, body: any): boolean {
  return Boolean(body && typeof body === 'object' && body.stream) || path.includes('streamGenerateContent')
}

/**
 * Writes SSE frames, applying a queued stream fault: cut the connection or send a broken event
 * after `afterEvents` frames.
 */
export class SseWriter {
  private sent = 0
  constructor(
    private res: ServerResponse,
    private fault: Fault | undefined,
  ) {
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    })
  }

  /** Returns false once the stream has been cut by a fault; the caller stops writing. */
  send(data: string, event?: string): boolean {
    const f = this.fault
    if (f?.kind === 'stall' && this.sent >= f.afterEvents) return false
    if (f && (f.kind === 'drop' || f.kind === 'malformed') && this.sent >= f.afterEvents) {
      if (f.kind === 'malformed') this.res.write(`${event ? `event: ${event}\n` : ''}data: {"broken": \n\n`)
      setTimeout(() => this.res.socket?.destroy(), 10)
      return false
    }
    this.res.write(`${event ? `event: ${event}\n` : ''}data: ${data}\n\n`)
    this.sent++
    return true
  }

  end(): void {
    if (this.fault && ['drop', 'malformed', 'stall'].includes(this.fault.kind)) return
    this.res.end()
  }
}

/** Text of the last user message, whatever the wire format put it in. */
export function lastText(value: unknown): string {
  if (typeof value === 'string') return value
  if (Array.isArray(value)) {
    return value.map((p) => (typeof p === 'string' ? p : (p?.text ?? ''))).join('')
  }
  return ''
}

/** Words of a text, each keeping its trailing space, to stream in pieces. */
export function pieces(text: string): string[] {
  return text.match(/\S+\s*/g) ?? [text]
}

/** A stable, rough token count for fake usage: one token per 4 characters, at least 1. */
export function countTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4))
}
