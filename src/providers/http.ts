import type { CancelSignal } from '../core/cancel.js'
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
import { UpstreamStream } from './upstream-answers.js'
import {
  agent,
  networkError,
  originOf,
  pathOf,
  type UpstreamCall,
  type UpstreamResponse,
} from './upstream-dispatch.js'

export { networkError, type UpstreamCall, type UpstreamResponse } from './upstream-dispatch.js'
export { fetchUpstreamText, streamUpstream, UpstreamStream, type UpstreamText } from './upstream-answers.js'

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
