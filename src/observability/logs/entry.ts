import type { GatewayContext } from '../../core/context.js'
import type { Pricing } from '../../core/pricing.js'
import { toErrorBody } from '../../core/errors.js'
import type { Usage } from '../../core/schemas/index.js'
import type { LogRow } from './record.js'
import { redactedJsonText, redactText } from './redact.js'

/** A finished request waiting in the queue; its content is JSON text already, redacted by the writer. */
export interface PendingLog {
  row: LogRow
  /**
   * The request as JSON text, and the answer: a provider's JSON answer as it came (stored as is
   * instead of parsed and rewritten), else the answer written as JSON. Text from the start, so
   * that the entry holds a few flat strings and no object graph while it waits for the writer;
   * the writer redacts them.
   */
  inputText?: string
  outputText?: string
  /** The caller's credentials (header values), scrubbed from everything the entry stores. */
  secrets?: string[]
}

/** What a stream carried, accumulated chunk by chunk while content logging is on. */
export interface StreamContent {
  content: string
  reasoning: string
  toolCalls: { id?: string; type?: string; function: { name: string; arguments: string } }[]
  /** Upstream `data` texts other than plain text deltas, parsed together later (when the stream ends). */
  unparsed: string[]
  /**
   * Where the first choice's delta was in the last chunk, from the chunk's start: a stream's
   * chunks share their envelope, so the next one is looked for there first. -1: not known.
   */
  deltaAt: number
  /** Characters kept (text, reasoning, tool arguments) and waiting in `unparsed`; past `max` nothing more is kept. */
  kept: number
  pending: number
  max: number
  truncated: boolean
}

/** Most characters of a request's or an answer's content a log entry keeps, by default (1 Mi). */
export const DEFAULT_LOG_CONTENT_MAX_CHARS = 1_048_576

/** Ends the text a log entry keeps of a content cut at the cap. */
export function truncationMarker(max: number): string {
  return `\n[truncated by Heimdall: the log keeps the first ${max} characters]`
}

/** JSON text longer than the cap, kept as a JSON string of its first `max` characters and the marker. */
function capJsonText(
  text: string | undefined,
  max: number,
): { text: string | undefined; truncated: boolean } {
  if (text === undefined || text.length <= max) return { text, truncated: false }
  return { text: JSON.stringify(text.slice(0, max) + truncationMarker(max)), truncated: true }
}

export const STREAM_STATE = 'logs.stream'

/** Milliseconds, to the microsecond (one BigInt subtraction: BigInt division allocates more). */
function ms(ns: bigint): number {
  return Math.round(Number(ns) / 1000) / 1000
}

/** Teams and customers by id, for their names in log entries (governance's state, handed in by src/http). */
export interface LogOwners {
  team(id: string): { name: string; customer_id?: string | null } | undefined
  customer(id: string): { name: string } | undefined
}

/** What a log entry is completed with: the names of the key's team and customer, and prices. */
export interface LogSources {
  owners: LogOwners
  pricing: Pricing
}

/** Builds the log entry of a request that has ended, from what the gateway and governance left in its context. */
export function buildPendingLog(
  ctx: GatewayContext,
  { owners, pricing }: LogSources,
  /** Whether bodies are kept, and at most how many characters of each. */
  withContent: boolean | { maxChars: number },
  now = Date.now(),
): PendingLog {
  const endNs = process.hrtime.bigint()
  const latency = ms(endNs - ctx.startNs)
  const vk = ctx.facts.virtualKey
  const team = vk?.team_id ? owners.team(vk.team_id) : undefined
  const customerId = vk?.customer_id ?? team?.customer_id ?? undefined
  const customer = customerId ? owners.customer(customerId) : undefined
  let usage: Usage | undefined = ctx.usage ?? ctx.result?.usage
  let tokensEstimated = false
  if (!usage && ctx.streamedChars > 0) {
    // A stream that ended without usage (cut, or a provider that sends none): estimate what was
    // served, as governance does for budgets, and say so.
    usage = estimatedUsage(ctx, pricing)
    tokensEstimated = true
  }
  const served = ctx.attemptLog.at(-1)
  let provider = ctx.provider ?? served?.provider ?? ''
  let model = ctx.model ?? served?.model ?? ctx.modelRequested
  // Refused before routing (a bad key, a budget): the provider is still the one the caller named.
  const slash = provider === '' ? model.indexOf('/') : -1
  if (slash > 0) {
    provider = model.slice(0, slash)
    model = model.slice(slash + 1)
  }
  let cost: number | null = null
  let estimated = false
  const recorded = ctx.facts.cost
  if (recorded) {
    cost = recorded.priced ? recorded.cost : null
    estimated = recorded.estimated
  } else if (usage) {
    const result = pricing.cost({ provider, model, virtualKeyId: vk?.id, estimated: tokensEstimated }, usage)
    cost = result.priced ? result.cost : null
    estimated = result.estimated
  }
  if (tokensEstimated && cost !== null) estimated = true
  const status = ctx.error ? 'error' : 'success'
  const row: LogRow = {
    id: logIdOf(ctx),
    client_request_id: ctx.clientRequestId ?? ctx.facts.mcpAgentFirst?.clientRequestId ?? null,
    ts: now - Math.round(latency),
    object: ctx.requestType,
    route: ctx.route ?? null,
    provider,
    model,
    status,
    stream: ctx.stream ? 1 : 0,
    fallback_index: ctx.fallbackIndex,
    number_of_retries: Math.max(0, ctx.attempts - 1),
    selected_key_id: served?.keyId ?? null,
    selected_key_name: served?.keyName ?? null,
    virtual_key_id: vk?.id ?? null,
    virtual_key_name: vk?.name ?? null,
    team_id: vk?.team_id ?? null,
    team_name: team?.name ?? null,
    customer_id: customerId ?? null,
    customer_name: customer?.name ?? null,
    latency,
    ttft: ctx.stream && ctx.firstChunkNs !== undefined ? ms(ctx.firstChunkNs - ctx.startNs) : null,
    prompt_tokens: usage?.prompt_tokens ?? 0,
    completion_tokens: usage?.completion_tokens ?? 0,
    total_tokens: usage?.total_tokens ?? 0,
    cached_tokens: usage?.prompt_tokens_details?.cached_tokens ?? 0,
    reasoning_tokens: usage?.completion_tokens_details?.reasoning_tokens ?? 0,
    cost,
    cost_estimated: estimated ? 1 : 0,
    error: ctx.error
      ? JSON.stringify(
          toErrorBody(ctx.error, { provider, model: ctx.modelRequested, requestType: ctx.requestType }),
        )
      : null,
    attempts:
      ctx.attemptLog.length > 0
        ? JSON.stringify(
            ctx.attemptLog.map((a) => ({
              provider: a.provider,
              model: a.model,
              key_id: a.keyId,
              fallback_index: a.fallbackIndex,
              latency: a.endNs === undefined ? null : Math.floor(Number(a.endNs - a.startNs) / 1e6),
              ...(a.error && {
                error: { code: a.error.code, status: a.error.status, message: a.error.message },
              }),
            })),
          )
        : null,
    input: null,
    output: null,
    content_summary: null,
    content_truncated: 0,
  }
  const routing = ctx.facts.routing
  if (routing && (routing.rule_id || routing.session_pinned)) {
    row.routing_rule_id = routing.rule_id ?? null
    const { session_id: _session, ...info } = routing
    if (ctx.fallbackIndex > 0) info.primary_provider ??= ctx.attemptLog[0]?.provider
    row.routing_info = JSON.stringify(info)
  }
  const engines = ctx.facts.routingEngines
  if (engines && engines.length > 0) row.routing_engine_used = engines.join(',')
  const cacheDebug = ctx.facts.cacheDebug
  if (cacheDebug) {
    row.cache_debug = JSON.stringify(cacheDebug)
    if (cacheDebug.cache_hit && !ctx.error) {
      row.cache_hit_type = cacheDebug.hit_type ?? 'direct'
      // What the provider call would have cost: the cached answer's usage at today's price.
      row.cache_saved = usage ? pricing.cost({ provider, model, virtualKeyId: vk?.id }, usage).cost : 0
    }
  }
  const pending: PendingLog = { row, secrets: credentialsOf(ctx.headers) }
  if (withContent) {
    const max = withContent === true ? DEFAULT_LOG_CONTENT_MAX_CHARS : withContent.maxChars
    const input = capJsonText(jsonText(ctx.input), max)
    pending.inputText = input.text
    let output: { text: string | undefined; truncated: boolean } = { text: undefined, truncated: false }
    const streamed = ctx.state.get(STREAM_STATE) as StreamContent | undefined
    if (streamed) output = { text: jsonText(streamedMessage(streamed)), truncated: streamed.truncated }
    else if (!ctx.error && ctx.result) {
      const raw = (ctx.result as { raw?: unknown }).raw
      output = capJsonText(typeof raw === 'string' ? raw : jsonText(ctx.result.body), max)
    }
    pending.outputText = output.text
    if (input.truncated || output.truncated) row.content_truncated = 1
    // The answer is searched in the output column itself: the summary holds the prompts and the error.
    row.content_summary = contentSummary(ctx.input, ctx.error?.message)
  } else if (ctx.error) row.content_summary = ctx.error.message
  return pending
}

const AGENT_ROUNDS = 'logs.agent_rounds'

/**
 * The entry's id: the request id, and for agent mode's later rounds (which share it) the id with
 * `-round-N`, so that each round keeps an entry of its own.
 */
function logIdOf(ctx: GatewayContext): string {
  const first = ctx.facts.mcpAgentFirst
  if (!first) return ctx.requestId
  const round = ((first.state.get(AGENT_ROUNDS) as number | undefined) ?? 1) + 1
  first.state.set(AGENT_ROUNDS, round)
  return `${ctx.requestId}-round-${round}`
}

function estimatedUsage(ctx: GatewayContext, pricing: Pricing): Usage {
  const prompt = pricing.promptTokens(ctx.input)
  const completion = Math.ceil(ctx.streamedChars / 4)
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion }
}

/** Request headers that carry the caller's credentials (provider keys, virtual keys, admin tokens). */
const CREDENTIAL_HEADERS = [
  'authorization',
  'proxy-authorization',
  'x-api-key',
  'api-key',
  'x-goog-api-key',
  'x-bf-vk',
]

/** The credential values of a request, with and without their auth scheme; short ones are left out (they would scrub ordinary words). */
export function credentialsOf(headers: GatewayContext['headers']): string[] {
  const out: string[] = []
  for (const name of CREDENTIAL_HEADERS) {
    const raw = headers[name]
    if (raw === undefined) continue
    for (const value of Array.isArray(raw) ? raw : [raw]) {
      const v = value.trim()
      if (v.length >= 6 && !out.includes(v)) out.push(v)
      // `Bearer <token>`: the token alone too.
      const space = v.indexOf(' ')
      if (space > 0 && isLetters(v, space)) {
        const token = v.slice(space + 1).trim()
        if (token.length >= 6 && !/\s/.test(token) && !out.includes(token)) out.push(token)
      }
    }
  }
  // Longest first, so that a value containing another is removed whole.
  return out.length > 1 ? out.sort((a, b) => b.length - a.length) : out
}

function isLetters(s: string, end: number): boolean {
  for (let i = 0; i < end; i++) {
    const c = s.charCodeAt(i) | 32
    if (c < 97 || c > 122) return false
  }
  return true
}

export function streamedMessage(s: StreamContent): Record<string, unknown> {
  parseUnparsed(s)
  const content = s.truncated ? s.content + truncationMarker(s.max) : s.content
  const message: Record<string, unknown> = { role: 'assistant', content }
  if (s.reasoning !== '') message.reasoning = s.reasoning
  if (s.toolCalls.length > 0) message.tool_calls = s.toolCalls
  return message
}

/** An observer that accumulates a stream's content (chat chunks and Responses events) into the context. */
export function streamAccumulator(
  ctx: GatewayContext,
  maxChars = DEFAULT_LOG_CONTENT_MAX_CHARS,
): (item: unknown) => void {
  const acc: StreamContent = {
    content: '',
    reasoning: '',
    toolCalls: [],
    unparsed: [],
    deltaAt: -1,
    kept: 0,
    pending: 0,
    max: maxChars,
    truncated: false,
  }
  ctx.state.set(STREAM_STATE, acc)
  // Items come as a parsed chunk, an upstream `data` text, raw SSE frames, or a Responses event.
  return (item) => {
    if (acc.truncated) return
    keepItem(acc, item)
    if (acc.kept + acc.pending > acc.max) truncate(acc)
  }
}

/** Stops keeping a stream's content: what was kept is cut to the cap, the rest of the stream is only relayed. */
function truncate(acc: StreamContent): void {
  parseUnparsed(acc)
  acc.truncated = true
  acc.content = acc.content.slice(0, acc.max)
  acc.reasoning = acc.reasoning.slice(0, Math.max(0, acc.max - acc.content.length))
}

function keepItem(acc: StreamContent, item: unknown): void {
  const it = item as {
    chunk?: ObservedChunk
    data?: string
    frames?: Buffer
    latin1?: string
    event?: ObservedChunk
  }
  const chunk = it.chunk ?? it.event
  if (chunk) {
    parseUnparsed(acc)
    return applyChunk(acc, chunk)
  }
  if (typeof it.data === 'string') return keepData(acc, it.data, 0, it.data.length)
  if (it.frames) keepFrames(acc, it.frames, it.latin1 ?? it.frames.toString('latin1'))
}

/**
 * The `data:` lines of raw SSE frames, read on their latin1 view (one char per byte, so offsets
 * are byte offsets): no decoding, no splitting, and only text beyond ASCII decoded from the bytes.
 */
function keepFrames(acc: StreamContent, bytes: Buffer, text: string): void {
  const n = text.length
  let start = 0
  while (start < n) {
    let end = text.indexOf('\n', start)
    if (end === -1) end = n
    if (text.startsWith('data:', start)) {
      keepData(acc, text, text.charCodeAt(start + 5) === 32 ? start + 6 : start + 5, end, bytes)
    }
    start = end + 1
  }
}

/** One chunk, `text[from, to)`; `bytes` when `text` is their latin1 view. */
function keepData(acc: StreamContent, text: string, from: number, to: number, bytes?: Buffer): void {
  if (from >= to || text.charCodeAt(from) === 91 /* [DONE] */) return
  // Most chunks only add text (or name the role): taken now, while the chunk is young garbage;
  // the others wait, to be parsed together before the next text or when the stream ends.
  let added: string | undefined
  const guess = from + acc.deltaAt
  if (acc.deltaAt > 0 && guess + DELTA.length < to && isFirstChoiceDelta(text, guess))
    added = plainDeltaAt(text, guess, to, bytes)
  else {
    const at = text.indexOf(DELTA, from)
    added = at === -1 || at >= to ? undefined : plainDeltaAt(text, at, to, bytes)
    if (added !== undefined) acc.deltaAt = isFirstChoiceDelta(text, at) ? at - from : -1
  }
  if (added === undefined) {
    acc.unparsed.push(bytes ? bytes.toString('utf8', from, to) : text.slice(from, to))
    acc.pending += to - from
    return
  }
  if (added === '') return
  parseUnparsed(acc)
  acc.content += added
  acc.kept += added.length
}

function parseUnparsed(acc: StreamContent): void {
  if (acc.unparsed.length === 0) return
  const texts = acc.unparsed
  acc.unparsed = []
  acc.pending = 0
  parseTogether(acc, texts)
}

/** Searched for from its `d`: a pattern that starts with a quote is slow to find in JSON. */
const DELTA = 'delta":{'

/**
 * What a chat chunk adds to the answer when its one delta holds nothing but `role`, `content` and
 * null fields (nearly every chunk of a stream), read without parsing the chunk: the text, or ''
 * when none; undefined for any other chunk (tool calls, reasoning, several choices, a cut chunk).
 * The chunk is `text[from, to)`; with `bytes`, `text` is their latin1 view and text beyond ASCII
 * is decoded from the bytes.
 */
export function plainDelta(text: string, from = 0, to = text.length, bytes?: Buffer): string | undefined {
  const at = text.indexOf(DELTA, from)
  return at === -1 || at >= to ? undefined : plainDeltaAt(text, at, to, bytes)
}

const FIRST_CHOICE = '"choices":[{"index":0,"'

/** Whether `text` has the delta of the first choice at `at` (`"choices":[{"index":0,"delta":{`). */
function isFirstChoiceDelta(text: string, at: number): boolean {
  return text.startsWith(DELTA, at) && text.startsWith(FIRST_CHOICE, at - FIRST_CHOICE.length)
}

/** plainDelta, with the delta found at `at`. */
function plainDeltaAt(text: string, at: number, to: number, bytes: Buffer | undefined): string | undefined {
  if (text.charCodeAt(at - 1) !== 34) return undefined
  let i = at + DELTA.length
  let added = ''
  while (text.charCodeAt(i) !== 125 /* } */) {
    if (text.charCodeAt(i) !== 34 /* " */) return undefined
    const keyEnd = text.indexOf('"', i + 1)
    if (keyEnd === -1 || keyEnd >= to || text.charCodeAt(keyEnd + 1) !== 58 /* : */) return undefined
    const keyLength = keyEnd - i - 1
    const isContent = keyLength === 7 && text.startsWith('content', i + 1)
    i = keyEnd + 2
    const v = text.charCodeAt(i)
    if (v === 110 /* n */ && text.startsWith('null', i)) {
      i += 4
    } else if (v === 34 && (isContent || (keyLength === 4 && text.startsWith('role', keyEnd - 4)))) {
      const s = ++i
      let escaped = false
      let wide = false
      for (;;) {
        if (i >= to) return undefined
        const c = text.charCodeAt(i)
        if (c === 34) break
        if (c === 92) {
          escaped = true
          i += 2
        } else {
          if (c > 127) wide = true
          i++
        }
      }
      if (isContent) {
        const raw = bytes && wide ? bytes.toString('utf8', s, i) : text.slice(s, i)
        if (!escaped) added = raw
        else {
          try {
            added = JSON.parse(`"${raw}"`) as string
          } catch {
            return undefined
          }
        }
      }
      i++
    } else return undefined
    const c = text.charCodeAt(i)
    if (c === 44 /* , */) i++
    else if (c !== 125) return undefined
  }
  return isLastChoice(text, i + 1, to) ? added : undefined
}

/**
 * Whether the choice goes on from `i` with flat fields only (`"finish_reason":"stop"` …) and
 * closes the `choices` array: no other choice follows.
 */
function isLastChoice(text: string, i: number, to: number): boolean {
  for (; i < to; i++) {
    const c = text.charCodeAt(i)
    if (c === 125 /* } */) return text.charCodeAt(i + 1) === 93 /* ] */
    if (c === 123 /* { */ || c === 91 /* [ */) return false
    if (c === 34) {
      for (i++; i < to && text.charCodeAt(i) !== 34; i++) if (text.charCodeAt(i) === 92) i++
    }
  }
  return false
}

function parseTogether(acc: StreamContent, texts: string[]): void {
  let chunks: ObservedChunk[]
  try {
    chunks = JSON.parse(`[${texts.join(',')}]`) as ObservedChunk[]
  } catch {
    // One text is not JSON: parse them one by one and skip it.
    chunks = []
    for (const t of texts) {
      try {
        chunks.push(JSON.parse(t) as ObservedChunk)
      } catch {
        /* not JSON: no content to keep */
      }
    }
  }
  for (const c of chunks) applyChunk(acc, c)
}

function applyChunk(acc: StreamContent, chunk: ObservedChunk): void {
  if (typeof chunk?.type === 'string') {
    if (typeof chunk.delta !== 'string') return
    if (chunk.type === 'response.output_text.delta') acc.content += chunk.delta
    else if (chunk.type.startsWith('response.reasoning')) acc.reasoning += chunk.delta
    else return
    acc.kept += chunk.delta.length
    return
  }
  const delta = chunk?.choices?.[0]?.delta
  if (!delta) return
  if (typeof delta.content === 'string') {
    acc.content += delta.content
    acc.kept += delta.content.length
  }
  const reasoning = delta.reasoning ?? delta.reasoning_content
  if (typeof reasoning === 'string') {
    acc.reasoning += reasoning
    acc.kept += reasoning.length
  }
  for (const tc of delta.tool_calls ?? []) {
    const i = tc.index ?? acc.toolCalls.length
    const call = (acc.toolCalls[i] ??= { function: { name: '', arguments: '' } })
    if (tc.id) call.id = tc.id
    if (tc.type) call.type = tc.type
    if (tc.function?.name) call.function.name += tc.function.name
    if (tc.function?.arguments) {
      call.function.arguments += tc.function.arguments
      acc.kept += tc.function.arguments.length
    }
  }
}

interface ObservedChunk {
  type?: string
  delta?: unknown
  choices?: {
    delta?: {
      content?: string | null
      reasoning?: string | null
      reasoning_content?: string | null
      tool_calls?: {
        index?: number
        id?: string
        type?: string
        function?: { name?: string; arguments?: string }
      }[]
    }
  }[]
}

/** The text `content_search` looks in besides the answer: the messages of the request, and the error. */
export function contentSummary(input: unknown, error?: string): string {
  const parts: string[] = []
  const messages = (input as { messages?: { role?: string; content?: unknown }[] } | undefined)?.messages
  if (Array.isArray(messages)) {
    for (const m of messages) parts.push(textOf(m?.content))
  } else {
    const i = input as { input?: unknown; prompt?: unknown } | undefined
    parts.push(textOf(i?.input), textOf(i?.prompt))
  }
  if (error !== undefined) parts.push(error)
  return parts
    .filter((p) => p !== '')
    .join(' ')
    .slice(0, 10_000)
}

function textOf(v: unknown): string {
  if (typeof v === 'string') return v
  if (Array.isArray(v)) {
    return v
      .map((p) => (typeof p === 'string' ? p : typeof p?.text === 'string' ? (p.text as string) : ''))
      .join(' ')
  }
  return ''
}

function jsonText(value: unknown): string | undefined {
  try {
    return JSON.stringify(value)
  } catch {
    return undefined
  }
}

/**
 * Serializes (with redaction) the content of a pending entry into its row. Error texts are
 * redacted too: an upstream error may quote the key it was sent.
 */
export function finalise(p: PendingLog): LogRow {
  const row = p.row
  if (row.error !== null) row.error = redactText(row.error, p.secrets)
  if (row.attempts !== null) row.attempts = redactText(row.attempts, p.secrets)
  if (p.inputText !== undefined) row.input = redactedJsonText(p.inputText, p.secrets)
  if (p.outputText !== undefined) row.output = redactedJsonText(p.outputText, p.secrets)
  p.inputText = undefined
  p.outputText = undefined
  if (row.content_summary !== null) row.content_summary = redactText(row.content_summary, p.secrets)
  p.secrets = undefined
  return row
}
