import { onAbort, type CancelSignal } from '../core/cancel.js'
import { Agent, errors as undiciErrors, type Dispatcher } from 'undici'
import { GatewayError } from '../core/errors.js'
import type { Usage } from '../core/schemas/index.js'
import { proxyDispatcher } from './proxy.js'
import type {
  Attempt,
  FileContentChunk,
  FilesCall,
  JsonResult,
  StreamResult,
} from '../core/provider-adapter.js'

/** One keep-alive pool per upstream origin, shared by every provider. */
const agent = new Agent({
  keepAliveTimeout: 30_000,
  keepAliveMaxTimeout: 600_000,
  connections: 1024,
  pipelining: 1,
})

export interface UpstreamCall {
  url: string
  method?: 'GET' | 'POST' | 'DELETE'
  headers: Record<string, string>
  body?: string | Buffer
}

export type UpstreamResponse = Dispatcher.ResponseData

/** Sends one upstream request with the attempt's signal and timeouts; network failures become GatewayErrors. */
export async function sendUpstream(
  a: Attempt,
  call: UpstreamCall,
  providerName: string,
): Promise<UpstreamResponse> {
  try {
    return await (proxyDispatcher(a.provider.proxy_config, call.url) ?? agent).request({
      origin: originOf(call.url),
      path: pathOf(call.url),
      method: call.method ?? 'POST',
      headers: call.headers,
      body: call.body,
      signal: a.signal as AbortSignal,
      headersTimeout: a.timeoutMs,
      bodyTimeout: a.idleTimeoutMs,
    })
  } catch (err) {
    throw networkError(err, providerName, a.signal)
  }
}

/** A whole upstream answer: its status, headers and body text. */
export interface UpstreamText {
  statusCode: number
  headers: UpstreamResponse['headers']
  text: string
}

/**
 * Sends one upstream request and reads its whole answer as text: `sendUpstream` then `readText`,
 * without the Readable stream, async resource and promises undici's `request()` makes for each
 * response (a few µs of CPU per call, measured against the fake upstream). For non-streamed calls.
 */
export function fetchUpstreamText(
  a: Attempt,
  call: UpstreamCall,
  providerName: string,
): Promise<UpstreamText> {
  return new Promise<UpstreamText>((resolve, reject) => {
    const answer = new TextAnswer(resolve, reject, providerName, a.signal)
    if (a.signal.aborted) return answer.onError(new Error('aborted before it was sent'))
    ;(proxyDispatcher(a.provider.proxy_config, call.url) ?? agent).dispatch(
      {
        origin: originOf(call.url),
        path: pathOf(call.url),
        method: call.method ?? 'POST',
        headers: call.headers,
        body: call.body,
        headersTimeout: a.timeoutMs,
        bodyTimeout: a.idleTimeoutMs,
      },
      answer,
    )
  })
}

/** undici's handler for `fetchUpstreamText`: collects the body's bytes; the attempt's signal aborts it. */
class TextAnswer implements Dispatcher.DispatchHandler {
  private statusCode = 0
  private headers: UpstreamResponse['headers'] = {}
  private readonly chunks: Buffer[] = []
  private stopListening: (() => void) | undefined = undefined
  private settled = false

  constructor(
    private readonly resolve: (answer: UpstreamText) => void,
    private readonly reject: (err: GatewayError) => void,
    private readonly providerName: string,
    private readonly signal: CancelSignal,
  ) {}

  onConnect(abort: (err?: Error) => void): void {
    const signal = this.signal
    const cancel = () => abort(signal.reason instanceof Error ? signal.reason : new Error('aborted'))
    if (signal.aborted) return cancel()
    this.stopListening = onAbort(signal, cancel)
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[]): boolean {
    // 1xx (informational) answers precede the real one.
    if (statusCode < 200) return true
    this.statusCode = statusCode
    this.headers = parseRawHeaders(rawHeaders)
    return true
  }

  onData(chunk: Buffer): boolean {
    this.chunks.push(chunk)
    return true
  }

  onComplete(): void {
    const chunks = this.chunks
    this.settle()
    this.resolve({
      statusCode: this.statusCode,
      headers: this.headers,
      text: utf8Text(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)),
    })
  }

  onError(err: Error): void {
    if (this.settle()) this.reject(networkError(err, this.providerName, this.signal))
  }

  /** Stops listening to the signal; false when the answer was already settled. */
  private settle(): boolean {
    if (this.settled) return false
    this.settled = true
    this.stopListening?.()
    return true
  }
}

/** Bytes an upstream stream may hold unread before its socket is paused (back-pressure). */
const STREAM_HIGH_WATER = 64 * 1024

/**
 * Sends one upstream request whose answer is read as it comes (an event stream): its status and
 * headers first, then its body as an async iterable of bytes. The bytes of one socket read leave
 * as one piece (undici hands a chunked body over chunk by chunk: one event each, as providers
 * write them), so the relay handles one item per read instead of one per event. Without the
 * Readable stream and async resource of undici's `request()`.
 */
export function streamUpstream(
  a: Attempt,
  call: UpstreamCall,
  providerName: string,
): Promise<UpstreamStream> {
  return new Promise<UpstreamStream>((resolve, reject) => {
    const answer = new UpstreamStream(resolve, reject, providerName, a.signal)
    if (a.signal.aborted) return answer.onError(new Error('aborted before it was sent'))
    ;(proxyDispatcher(a.provider.proxy_config, call.url) ?? agent).dispatch(
      {
        origin: originOf(call.url),
        path: pathOf(call.url),
        method: call.method ?? 'POST',
        headers: call.headers,
        body: call.body,
        headersTimeout: a.timeoutMs,
        bodyTimeout: a.idleTimeoutMs,
      },
      answer,
    )
  })
}

/** An upstream answer being read: `streamUpstream`'s undici handler and its body's iterator in one. */
export class UpstreamStream implements Dispatcher.DispatchHandler, AsyncIterator<Buffer> {
  statusCode = 0
  headers: UpstreamResponse['headers'] = {}
  private queue: Buffer[] = []
  private queued = 0
  private waiter: { resolve: (r: IteratorResult<Buffer>) => void; reject: (e: unknown) => void } | undefined
  private scheduled = false
  private ended = false
  /** The body's error as undici gave it: its reader maps it (a stream broken off, cancelled ...). */
  private failure: Error | undefined = undefined
  private opened = false
  private discarding = false
  private resume: (() => void) | undefined = undefined
  private paused = false
  private abort: ((err?: Error) => void) | undefined = undefined
  private stopListening: (() => void) | undefined = undefined

  constructor(
    private readonly open: (answer: UpstreamStream) => void,
    private readonly refuse: (err: GatewayError) => void,
    private readonly providerName: string,
    private readonly signal: CancelSignal,
  ) {}

  /** The body, as `for await` reads it. */
  get body(): AsyncIterable<Buffer> {
    return this
  }

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return this
  }

  next(): Promise<IteratorResult<Buffer>> {
    if (this.queue.length > 0) return Promise.resolve({ value: this.take(), done: false })
    if (this.failure) return Promise.reject(this.failure)
    if (this.ended) return Promise.resolve({ value: undefined, done: true })
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject }
    })
  }

  /** A reader that stops early closes the connection, as a destroyed Readable does. */
  return(): Promise<IteratorResult<Buffer>> {
    this.queue = []
    if (!this.ended && !this.failure) this.abort?.(new Error('the reader stopped'))
    return Promise.resolve({ value: undefined, done: true })
  }

  /** The rest of the body as UTF-8 text (an error's answer). */
  async text(): Promise<string> {
    const chunks: Buffer[] = []
    try {
      for await (const chunk of this) chunks.push(chunk)
    } catch (err) {
      throw networkError(err, this.providerName, this.signal)
    }
    return utf8Text(Buffer.concat(chunks))
  }

  /** Reads the body to its end and drops it, so that the connection returns to the pool. */
  discard(): void {
    this.discarding = true
    this.queue = []
    this.resume?.()
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abort = abort
    const signal = this.signal
    const cancel = () => abort(signal.reason instanceof Error ? signal.reason : new Error('aborted'))
    if (signal.aborted) return cancel()
    this.stopListening = onAbort(signal, cancel)
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    // 1xx (informational) answers precede the real one.
    if (statusCode < 200) return true
    this.statusCode = statusCode
    this.headers = parseRawHeaders(rawHeaders)
    this.resume = () => {
      this.paused = false
      resume()
    }
    this.opened = true
    this.open(this)
    return true
  }

  onData(chunk: Buffer): boolean {
    if (this.discarding) return true
    this.queue.push(chunk)
    this.queued += chunk.length
    this.wake()
    this.paused = this.queued >= STREAM_HIGH_WATER
    return !this.paused
  }

  onComplete(): void {
    this.ended = true
    this.stopListening?.()
    this.wake()
  }

  onError(err: Error): void {
    if (this.ended || this.failure) return
    this.stopListening?.()
    this.failure = err
    if (!this.opened) this.refuse(networkError(err, this.providerName, this.signal))
    else this.wake()
  }

  private take(): Buffer {
    const q = this.queue
    const piece = q.length === 1 ? q[0] : Buffer.concat(q)
    this.queue = []
    this.queued = 0
    if (this.paused) this.resume?.()
    return piece
  }

  /** A waiting reader gets what came once this read is parsed: its chunks together. */
  private wake(): void {
    if (this.waiter === undefined || this.scheduled) return
    this.scheduled = true
    queueMicrotask(this.deliver)
  }

  private readonly deliver = (): void => {
    this.scheduled = false
    const w = this.waiter
    if (w === undefined) return
    this.waiter = undefined
    if (this.queue.length > 0) w.resolve({ value: this.take(), done: false })
    else if (this.failure) w.reject(this.failure)
    else if (this.ended) w.resolve({ value: undefined, done: true })
    else this.waiter = w
  }
}

/** UTF-8 text, a leading byte order mark dropped (as undici's body.text()). */
function utf8Text(bytes: Buffer): string {
  const bom = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf
  return bytes.toString('utf8', bom ? 3 : 0)
}

/** Response headers as undici's `request()` gives them: lower-case names, repeated ones in an array. */
function parseRawHeaders(raw: Buffer[]): UpstreamResponse['headers'] {
  const out: UpstreamResponse['headers'] = {}
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toString('latin1').toLowerCase()
    const value = raw[i + 1].toString('latin1')
    const seen = Object.hasOwn(out, name) ? out[name] : undefined
    if (seen === undefined) {
      if (name === '__proto__')
        Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true })
      else out[name] = value
    } else if (Array.isArray(seen)) seen.push(value)
    else out[name] = [seen, value]
  }
  return out
}

export function networkError(err: unknown, providerName: string, signal?: CancelSignal): GatewayError {
  if (err instanceof GatewayError) return err
  if (signal?.aborted) {
    const reason: unknown = signal.reason
    if (reason instanceof GatewayError) return reason
    return new GatewayError('request_cancelled', 'the request was cancelled', {
      retryable: false,
      cause: err,
    })
  }
  if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError) {
    return new GatewayError('upstream_timeout', `${providerName} did not answer in time`, { cause: err })
  }
  return new GatewayError(
    'upstream_connection_error',
    `could not connect to provider ${providerName} (${networkFailureReason(err)})`,
    { cause: err },
  )
}

/** Why a connection failed, in words that name no host, address or port (those stay in the cause). */
const REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection reset',
  ETIMEDOUT: 'connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  UND_ERR_SOCKET: 'connection closed',
  UND_ERR_CLOSED: 'connection closed',
}

function networkFailureReason(err: unknown): string {
  const seen = new Set<unknown>()
  for (let e = err; e && typeof e === 'object' && !seen.has(e); e = (e as { cause?: unknown }).cause) {
    seen.add(e)
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && Object.hasOwn(REASONS, code)) return REASONS[code]
    if (typeof code === 'string' && /CERT|TLS|SSL/.test(code)) return 'TLS error'
    const inner = (e as { errors?: unknown }).errors
    if (Array.isArray(inner) && inner.length > 0) return networkFailureReason(inner[0])
  }
  return 'network error'
}

const originCache = new Map<string, string>()
function originOf(url: string): string {
  const schemeEnd = url.indexOf('//') + 2
  const slash = url.indexOf('/', schemeEnd)
  const origin = slash === -1 ? url : url.slice(0, slash)
  let cached = originCache.get(origin)
  if (cached === undefined) {
    cached = new URL(origin).origin
    if (originCache.size < 1000) originCache.set(origin, cached)
  }
  return cached
}

function pathOf(url: string): string {
  const schemeEnd = url.indexOf('//') + 2
  const slash = url.indexOf('/', schemeEnd)
  return slash === -1 ? '/' : url.slice(slash)
}

/** Reads a whole (small, non-streamed) body as text, mapping a broken body to a retryable error. */
export async function readText(
  res: UpstreamResponse,
  providerName: string,
  signal?: CancelSignal,
): Promise<string> {
  try {
    return await res.body.text()
  } catch (err) {
    throw networkError(err, providerName, signal)
  }
}

/** Discards a body we will not read, so the connection returns to the pool. */
export function discard(res: UpstreamResponse | UpstreamStream): void {
  if (res instanceof UpstreamStream) return res.discard()
  res.body.resume()
  res.body.on('error', () => {})
}

export function headerValue(headers: UpstreamResponse['headers'], name: string): string | undefined {
  const v = headers[name]
  return Array.isArray(v) ? v[0] : v
}

/** The provider's headers among `names` that the answer carries, passed back to the caller; none: undefined. */
export function forwardedHeaders(
  res: Pick<UpstreamResponse, 'headers'>,
  names: readonly string[],
): Record<string, string> | undefined {
  let out: Record<string, string> | undefined
  for (const h of names) {
    const v = headerValue(res.headers, h)
    if (v !== undefined) (out ??= {})[h] = v
  }
  return out
}

/**
 * A body of bytes (a file's content, a batch's results) relayed chunk by chunk, with the `forwarded`
 * headers and its own content type (`fallbackType` when it has none) and length.
 */
export function relayBytes(
  a: Attempt,
  res: UpstreamResponse,
  forwarded: readonly string[],
  fallbackType: string,
): StreamResult<FileContentChunk> {
  const name = a.provider.name
  async function* chunks(): AsyncGenerator<FileContentChunk> {
    try {
      for await (const c of res.body) yield { bytes: c as Buffer }
    } catch (err) {
      throw networkError(err, name, a.signal)
    }
  }
  const headers: Record<string, string> = {
    ...forwardedHeaders(res, forwarded),
    'content-type': headerValue(res.headers, 'content-type') ?? fallbackType,
  }
  const length = headerValue(res.headers, 'content-length')
  if (length !== undefined) headers['content-length'] = length
  return { items: chunks(), headers }
}

/** Retry-After in milliseconds: `retry-after-ms`, then seconds or an HTTP date in `retry-after`. */
export function retryAfterMs(headers: UpstreamResponse['headers']): number | undefined {
  const ms = headerValue(headers, 'retry-after-ms')
  if (ms !== undefined && Number.isFinite(Number(ms))) return Math.max(0, Number(ms))
  const ra = headerValue(headers, 'retry-after')
  if (ra === undefined) return undefined
  const seconds = Number(ra)
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000)
  const date = Date.parse(ra)
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now())
}

export interface ParsedProviderError {
  message?: string
  type?: string
  code?: string | number
  param?: string
}

/**
 * Turns a provider's non-2xx answer into a GatewayError that keeps its status class and message.
 * An HTML page (a proxy's 502, a captive portal) keeps its status but is never shown raw.
 */
export function upstreamError(
  providerName: string,
  status: number,
  text: string,
  headers: UpstreamResponse['headers'],
  parse: (json: unknown) => ParsedProviderError,
): GatewayError {
  const contentType = headerValue(headers, 'content-type') ?? ''
  let parsed: ParsedProviderError = {}
  let html = false
  if (contentType.includes('html') || /^\s*</.test(text)) {
    html = true
  } else {
    try {
      parsed = parse(JSON.parse(text))
    } catch {
      parsed = { message: text.slice(0, 500) }
    }
  }
  const message =
    parsed.message ||
    (html ? `${providerName} answered ${status} with an HTML page` : `${providerName} answered ${status}`)
  // An HTML page with a 2xx or 4xx status is an intermediary's answer, not the provider's: treat it as a bad gateway.
  const effectiveStatus = html && status < 500 && status !== 429 ? 502 : status
  return new GatewayError(html ? 'upstream_bad_response' : 'upstream_error', message, {
    status: effectiveStatus,
    type: parsed.type,
    upstreamCode: parsed.code === undefined ? undefined : String(parsed.code),
    param: parsed.param ?? undefined,
    isBifrostError: false,
    retryAfterMs: retryAfterMs(headers),
    keyDead: status === 401 || status === 402 || status === 403,
    retryable: html || status === 401 || status === 402 || status === 403 || undefined,
  })
}

/** Parses a 2xx JSON body; an HTML page or broken JSON is a retryable bad response. */
export function parseJsonBody<T>(providerName: string, text: string): T {
  try {
    return JSON.parse(text) as T
  } catch (err) {
    const html = /^\s*</.test(text)
    throw new GatewayError(
      'upstream_bad_response',
      html
        ? `${providerName} answered with an HTML page instead of JSON`
        : `${providerName} answered with malformed JSON`,
      { cause: err, retryable: true },
    )
  }
}

/**
 * The `usage` object of a JSON body, read without parsing the whole body: from the last `"usage"`
 * key to its matching brace. Undefined when absent, null, or not where it is expected.
 */
export function extractUsage<U>(text: string): U | undefined {
  const key = text.lastIndexOf('"usage"')
  if (key === -1) return undefined
  let i = key + 7
  while (
    i < text.length &&
    (text[i] === ' ' || text[i] === ':' || text[i] === '\n' || text[i] === '\t' || text[i] === '\r')
  )
    i++
  if (text[i] !== '{') return undefined
  let depth = 0
  let inString = false
  for (let j = i; j < text.length; j++) {
    const c = text.charCodeAt(j)
    if (inString) {
      if (c === 92 /* \\ */) j++
      else if (c === 34 /* " */) inString = false
    } else if (c === 34) inString = true
    else if (c === 123 /* { */) depth++
    else if (c === 125 /* } */ && --depth === 0) {
      try {
        return JSON.parse(text.slice(i, j + 1)) as U
      } catch {
        return undefined
      }
    }
  }
  return undefined
}

/**
 * A 2xx JSON answer passed on as received: its usage read on the side, the whole body parsed only
 * if someone asks for it (a translation, a log of the content). A body that is not a JSON object
 * (an HTML page from a proxy) is a retryable bad response.
 */
export function jsonResult<T>(
  providerName: string,
  text: string,
  headers?: Record<string, string>,
): JsonResult<T> {
  const first = text.search(/\S/)
  let last = text.length - 1
  while (
    last > 0 &&
    (text[last] === ' ' || text[last] === '\n' || text[last] === '\r' || text[last] === '\t')
  )
    last--
  if (first === -1 || text[first] !== '{' || text[last] !== '}') parseJsonBody(providerName, text)
  let parsed: T | undefined
  return {
    raw: text,
    headers,
    usage: extractUsage<Usage>(text),
    get body(): T {
      return (parsed ??= parseJsonBody<T>(providerName, text))
    },
  }
}

/** A provider's error answer as the GatewayError it means (`anthropicError`, `bedrockError` ...). */
export type ProviderErrorOf = (
  providerName: string,
  status: number,
  text: string,
  headers: UpstreamResponse['headers'],
) => GatewayError

/**
 * Sends a files, batches or containers call to `url` with `headers` (plus the call's content type
 * and length); an error status through `errorOf`. The body may be the caller's upload, streamed.
 */
export async function sendFilesCall(
  a: Attempt,
  url: string,
  call: FilesCall,
  headers: Record<string, string>,
  errorOf: ProviderErrorOf,
): Promise<UpstreamResponse> {
  const name = a.provider.name
  if (call.contentType) headers['content-type'] = call.contentType
  if (call.contentLength !== undefined) headers['content-length'] = String(call.contentLength)
  // UpstreamCall.body says string | Buffer; undici also takes the async iterable a streamed upload is.
  const body = call.body as string | Buffer | undefined
  const res = await sendUpstream(a, { url, method: call.method, headers, body }, name)
  if (res.statusCode >= 400) {
    const text = await readText(res, name, a.signal)
    throw errorOf(name, res.statusCode, text, res.headers)
  }
  return res
}

/** A 2xx JSON answer kept byte for byte, with the `forwarded` headers it carries. */
export async function jsonAnswer<T>(
  a: Attempt,
  res: UpstreamResponse,
  forwarded: readonly string[],
): Promise<JsonResult<T>> {
  const name = a.provider.name
  return jsonResult<T>(name, await readText(res, name, a.signal), forwardedHeaders(res, forwarded))
}

/**
 * A control-plane answer (a job, a batch, a deletion): an error status through `errorOf`, else the
 * JSON as received (an empty body stands for `{}`) with the `forwarded` headers it carries.
 */
export async function controlAnswer<T>(
  a: Attempt,
  res: UpstreamResponse,
  errorOf: ProviderErrorOf,
  forwarded: readonly string[],
): Promise<JsonResult<T>> {
  const name = a.provider.name
  const text = await readText(res, name, a.signal)
  if (res.statusCode >= 400) throw errorOf(name, res.statusCode, text, res.headers)
  return jsonResult<T>(name, text.trim() ? text : '{}', forwardedHeaders(res, forwarded))
}

/** A stream request must be answered with an event stream; anything else is a retryable bad response. */
export function expectEventStream(res: UpstreamResponse | UpstreamStream, providerName: string): void {
  const ct = headerValue(res.headers, 'content-type') ?? ''
  if (ct.includes('event-stream')) return
  discard(res)
  throw new GatewayError(
    'upstream_bad_response',
    `${providerName} answered a stream request with ${ct || 'no content type'}`,
    {
      retryable: true,
    },
  )
}
