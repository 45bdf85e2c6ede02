import type { CancelSignal } from './cancel.js'
import type { GatewayError, RequestType } from './errors.js'
import type { GatewayPlugin, RequestFacts } from './plugins.js'
import type { Usage } from './schemas/index.js'

/** What the gateway knows about one request while it runs, and what it leaves behind for hooks and headers. */
export interface GatewayContext {
  /** The gateway's own time-ordered id: the log entry's id. */
  requestId: string
  /** The caller's `x-request-id`, when it sent one: kept beside the gateway's, echoed in the response. */
  clientRequestId?: string
  requestType: RequestType
  /** Aborted when the client goes away; cancels upstream work. */
  signal: CancelSignal
  /** The caller's headers, lower-cased. */
  headers: Record<string, string | string[] | undefined>
  /** process.hrtime.bigint() at arrival. */
  startNs: bigint
  /** The model string as the caller sent it. */
  modelRequested: string
  /** The provider and model that served (or last tried) the request. */
  provider?: string
  model?: string
  /** Which target served: 0 the primary, n the n-th fallback. */
  fallbackIndex: number
  /** Upstream attempts made, retries and fallbacks included. */
  attempts: number
  /** Nanoseconds spent waiting on providers (sending, waiting, reading); the rest is our overhead. */
  upstreamNs: bigint
  /** Nanoseconds a stream waited for a slow client to read (back-pressure): not our overhead either. */
  clientWaitNs: bigint
  /** Time from the first upstream byte sent to the response headers of the serving attempt. */
  upstreamLatencyMs?: number
  usage?: Usage
  error?: GatewayError
  /** Whether the request ended (stream fully relayed, or response sent). */
  ended: boolean
  /** Space for hooks (governance reservations, log entries ...). */
  state: Map<string, unknown>
  /** Typed facts plugins fill and read (short-circuits, skipped plugins, mocks ...). */
  facts: RequestFacts
  /** The plugins this request started with (a reconfiguration applies to the next request). */
  plugins?: readonly GatewayPlugin[]
  /** Provider key ids this request may use (a virtual key's restriction); undefined: any. */
  allowedKeyIds?: ReadonlySet<string>
  /** The caller's own provider key (`x-bf-direct-key: true` with `client.allow_direct_keys`). */
  directKey?: string
  /** The route relays an OpenAI-format stream to an OpenAI-format client (raw frames welcome). */
  passthrough?: boolean
  /** Headers hooks add to the response (rate-limit state, cost ...). */
  responseHeaders: Record<string, string>
  /** Characters of content relayed to the client in a stream, for estimating usage the provider never sent. */
  streamedChars: number
  /** Whether the caller asked for a stream. */
  stream: boolean
  /** The HTTP route that took the request (`/v1/chat/completions`, `/anthropic/v1/messages` ...). */
  route?: string
  /** The request body as the caller sent it (for logs; hooks must not change it). */
  input?: unknown
  /** The result of a non-streamed request once it succeeded (its body is parsed on first read). */
  result?: { readonly body: unknown; usage?: Usage }
  /** process.hrtime.bigint() when a stream's first event arrived from the provider. */
  firstChunkNs?: bigint
  /** Every upstream attempt, in order: retries, other keys and fallbacks included. */
  attemptLog: AttemptRecord[]
}

/** One call to a provider. */
export interface AttemptRecord {
  provider: string
  model: string
  keyId: string
  keyName: string
  /** Which target: 0 the primary, n the n-th fallback. */
  fallbackIndex: number
  startNs: bigint
  endNs?: bigint
  /** Why the attempt failed; undefined when it served the request. */
  error?: GatewayError
}

export function createContext(init: {
  requestId: string
  requestType: RequestType
  signal: CancelSignal
  headers: GatewayContext['headers']
  modelRequested: string
  startNs?: bigint
}): GatewayContext {
  return {
    requestId: init.requestId,
    requestType: init.requestType,
    signal: init.signal,
    headers: init.headers,
    startNs: init.startNs ?? process.hrtime.bigint(),
    modelRequested: init.modelRequested,
    fallbackIndex: 0,
    attempts: 0,
    upstreamNs: 0n,
    clientWaitNs: 0n,
    ended: false,
    state: new Map(),
    facts: {},
    responseHeaders: {},
    streamedChars: 0,
    stream: init.requestType.endsWith('_stream'),
    attemptLog: [],
  }
}

/** A provider and model to try: the primary, or one of the fallbacks. */
export interface Target {
  provider: string
  model: string
  index: number
}

/** The extension points of the pipeline: every hook is a plugin (see plugins.ts). */
export type GatewayHook = GatewayPlugin

/** The gateway's own time from arrival to `now`: less the waits on providers and on a slow client. */
export function overheadNs(
  ctx: Pick<GatewayContext, 'startNs' | 'upstreamNs' | 'clientWaitNs'>,
  now = process.hrtime.bigint(),
): bigint {
  const own = now - ctx.startNs - ctx.upstreamNs - ctx.clientWaitNs
  return own > 0n ? own : 0n
}
