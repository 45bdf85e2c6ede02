import type { GatewayContext, Target } from './context.js'
import { GatewayError } from './errors.js'
import type { ChatChunk, ResponsesStreamEvent, Usage } from './schemas/index.js'

/**
 * The unified request of `ctx.requestType`: a chat completion request (`chat_completion*`), a text
 * completion, a Responses or an embedding request. Rewrite it in place, or return a new one.
 */
export type PluginRequest = Record<string, unknown> & { model: string }

/** An error a plugin answers with, in Bifrost's fields; a thrown GatewayError works as well. */
export interface PluginErrorInit {
  message: string
  /** HTTP status; 500 when not given. */
  status_code?: number
  /** `error.type` of the body. */
  type?: string
  /** `error.code` of the body. */
  code?: string
}

/** An answer without any provider call (a cache hit, a guardrail refusal, a mock). */
export interface PluginShortCircuit {
  /**
   * The unified response: a chat completion (`object: "chat.completion"`) for chat, text-completion
   * and Responses requests (converted and, for streams, streamed in the route's format), else the
   * response body of the request's own kind.
   */
  response?: unknown
  error?: PluginErrorInit | GatewayError
}

export interface PreHookResult {
  /** The request to route instead of the one given. */
  request?: PluginRequest
  shortCircuit?: PluginShortCircuit
}

/** What the provider (or a short-circuit) answered: exactly one of the two is set. */
export interface PluginOutcome {
  /** The unified response body (non-streamed requests); a stream's items go through `onStreamChunk`. */
  response?: unknown
  error?: GatewayError
}

export interface PostHookResult {
  /** A new response; given after an error, it recovers the request. */
  response?: unknown
  /** A new error; given after a response, it replaces the response. */
  error?: PluginErrorInit | GatewayError
}

/** One item of a stream on its way to the client: a chat chunk, or a Responses event. */
export interface StreamChunk {
  chunk?: ChatChunk
  event?: ResponsesStreamEvent
  /** Usage this item carries (already accounted: changing it does not change the bill). */
  usage?: Usage
  [k: string]: unknown
}

/**
 * Facts about one request that plugins fill and read, typed. A plugin adds its own with
 * declaration merging: `declare module '<heimdall>/core/plugins.js' { interface RequestFacts { mine?: T } }`.
 */
export interface RequestFacts {
  /** The plugin that answered without a provider call. */
  shortCircuitedBy?: string
  /** Non-critical plugins skipped because they threw or timed out, and where. */
  skippedPlugins?: { name: string; stage: PluginStage; message: string }[]
  /** The mocker rule that answered. */
  mockRule?: string
  /** Whether the jsonparser completed partial JSON in this stream. */
  jsonParsed?: boolean
}

export type PluginStage = 'preHook' | 'postHook' | 'onStreamChunk' | 'beforeRequest' | 'beforeTarget'

/**
 * A plugin around every inference request. Governance, logging, metrics, tracing, MCP tool injection,
 * the built-in mocker and jsonparser and users' own modules are all plugins. In one request:
 *   beforeRequest and preHook of each plugin, in order (a short-circuit stops here);
 *   per target: beforeTarget in order, the provider call, afterTargetFailed on failure;
 *   postHook in reverse order (only plugins whose pre-hooks ran);
 *   per stream item: onStreamChunk in reverse order, then observeStream's observers;
 *   onEnd in order, once.
 * A plugin that throws anything but a GatewayError fails the request with `plugin_error`, unless it
 * says `critical: false`: then it is skipped for that step. New hooks are cut after `timeoutMs`.
 */
export interface GatewayPlugin {
  readonly name: string
  /** false: a throw or time-out skips the plugin instead of failing the request. Default true. */
  readonly critical?: boolean
  /** How long preHook, postHook and onStreamChunk may take; default 30 s. */
  readonly timeoutMs?: number
  /**
   * Once, before anything else (authentication). Throw a GatewayError to refuse the request. May
   * return the targets to try when the request left the choice to the gateway (a model without a
   * provider prefix routed by a virtual key's provider weights).
   */
  beforeRequest?(
    ctx: GatewayContext,
    request: Record<string, unknown>,
  ): void | Target[] | Promise<void | Target[]>
  /** Read and rewrite the unified request before routing, or answer it without a provider call. */
  preHook?(ctx: GatewayContext, request: PluginRequest): void | PreHookResult | Promise<void | PreHookResult>
  /** Before each target is tried (the primary and each fallback). Throw a GatewayError to refuse it. */
  beforeTarget?(ctx: GatewayContext, target: Target, request: Record<string, unknown>): void | Promise<void>
  /** Whether a listed model (`/v1/models`) is one this request's caller may use. */
  admitsModel?(ctx: GatewayContext, provider: string, model: string): boolean
  /** When a target failed (every retry spent) and the next fallback, if any, is about to be tried. */
  afterTargetFailed?(ctx: GatewayContext, target: Target, error: GatewayError): void | Promise<void>
  /** See and rewrite the response or the error (streams: an error before the first item). */
  postHook?(
    ctx: GatewayContext,
    outcome: PluginOutcome,
  ): void | PostHookResult | Promise<void | PostHookResult>
  /** Each stream item before the client sees it: return a new item, null to drop it, nothing to keep it. */
  onStreamChunk?(
    ctx: GatewayContext,
    item: StreamChunk,
  ): StreamChunk | null | void | Promise<StreamChunk | null | void>
  /**
   * When a stream has opened: a function to see each item on its way to the client, or undefined to
   * see none. Called once per stream, so a plugin that needs nothing costs nothing per chunk.
   */
  observeStream?(ctx: GatewayContext): ((item: unknown) => void) | undefined
  /** Once, when the request has ended: success, failure or cancellation (streams: when the stream ends). */
  onEnd?(ctx: GatewayContext): void | Promise<void>
  /** When the plugin is disabled, replaced or the server stops. */
  cleanup?(): void | Promise<void>
}

/** Where a configured plugin runs relative to the built-in ones (Bifrost's `placement`). */
export type PluginPlacement = 'pre_builtin' | 'post_builtin'

/** The plugins of the moment, with what they need precomputed so that a request pays for nothing else. */
export interface PluginSet {
  readonly list: readonly GatewayPlugin[]
  readonly anyPostHook: boolean
  readonly anyStreamRewrite: boolean
  /** The plugins with onStreamChunk, in the order they see an item (reverse). */
  readonly streamRewriters: readonly GatewayPlugin[]
}

const DEFAULT_TIMEOUT_MS = 30_000

/** Built-ins in the order they were added; configured plugins before or after them. */
export class PluginPipeline {
  private readonly builtin: GatewayPlugin[] = []
  private before: GatewayPlugin[] = []
  private after: GatewayPlugin[] = []
  private current: PluginSet = { list: [], anyPostHook: false, anyStreamRewrite: false, streamRewriters: [] }

  add(plugin: GatewayPlugin): void {
    this.builtin.push(plugin)
    this.rebuild()
  }

  /** Replaces every configured plugin at once: requests already running keep the set they started with. */
  setConfigured(before: GatewayPlugin[], after: GatewayPlugin[]): void {
    this.before = before
    this.after = after
    this.rebuild()
  }

  /** The names of the built-in plugins (governance, logging ...), in order. */
  builtinNames(): string[] {
    return this.builtin.map((p) => p.name)
  }

  get set(): PluginSet {
    return this.current
  }

  private rebuild(): void {
    const list = [...this.before, ...this.builtin, ...this.after]
    const streamRewriters = list.filter((p) => p.onStreamChunk).reverse()
    this.current = {
      list,
      anyPostHook: list.some((p) => p.postHook),
      anyStreamRewrite: streamRewriters.length > 0,
      streamRewriters,
    }
  }
}

/** How far the pre-hooks got: post-hooks run for these plugins only. */
export interface PreHookProgress {
  ran: number
}

export interface PreHookOutcome {
  routed?: Target[]
  shortCircuit?: PluginShortCircuit
}

/** beforeRequest and preHook of each plugin, in order, until one short-circuits. */
export async function runPreHooks(
  ctx: GatewayContext,
  plugins: readonly GatewayPlugin[],
  request: PluginRequest,
  progress: PreHookProgress,
): Promise<PreHookOutcome> {
  let routed: Target[] | undefined
  for (let i = 0; i < plugins.length; i++) {
    const p = plugins[i]
    if (!p.beforeRequest && !p.preHook) continue
    progress.ran = i + 1
    if (p.beforeRequest) {
      try {
        let r = p.beforeRequest(ctx, request)
        if (isThenable(r)) r = await r
        if (r) routed = r
      } catch (err) {
        isolate(ctx, p, 'beforeRequest', err)
      }
    }
    if (!p.preHook) continue
    let result: void | PreHookResult
    try {
      const pending = withDeadline(p.preHook(ctx, request), p, 'preHook')
      result = isThenable(pending) ? await pending : pending
    } catch (err) {
      isolate(ctx, p, 'preHook', err)
      continue
    }
    if (!result) continue
    if (result.request && result.request !== request) replaceContents(request, result.request)
    if (result.shortCircuit) {
      ctx.facts.shortCircuitedBy = p.name
      return { routed, shortCircuit: result.shortCircuit }
    }
  }
  return { routed }
}

/** postHook of the plugins whose pre-hooks ran, in reverse order. */
export async function runPostHooks(
  ctx: GatewayContext,
  plugins: readonly GatewayPlugin[],
  ran: number,
  outcome: PluginOutcome,
): Promise<PluginOutcome> {
  for (let i = Math.min(ran, plugins.length) - 1; i >= 0; i--) {
    const p = plugins[i]
    if (!p.postHook) continue
    try {
      const pending = withDeadline(p.postHook(ctx, outcome), p, 'postHook')
      const r = isThenable(pending) ? await pending : pending
      if (!r) continue
      if (r.response !== undefined) outcome = { response: r.response }
      else if (r.error !== undefined) outcome = { error: pluginError(p.name, r.error) }
    } catch (err) {
      try {
        isolate(ctx, p, 'postHook', err)
      } catch (e) {
        outcome = { error: e as GatewayError }
      }
    }
  }
  return outcome
}

/**
 * The stream rewrite of these plugins (already in reverse order), or undefined when none rewrites
 * streams. The returned function gives the item to send, or null to drop it; it throws to end the stream.
 */
export function streamRewriter(
  ctx: GatewayContext,
  rewriters: readonly GatewayPlugin[],
): ((item: StreamChunk) => Promise<StreamChunk | null>) | undefined {
  if (rewriters.length === 0) return undefined
  return async (item) => {
    let current = item
    for (const p of rewriters) {
      try {
        const pending = withDeadline(p.onStreamChunk!(ctx, current), p, 'onStreamChunk')
        const r = isThenable(pending) ? await pending : pending
        if (r === null) return null
        if (r) current = r
      } catch (err) {
        isolate(ctx, p, 'onStreamChunk', err)
      }
    }
    return current
  }
}

/** onEnd of each plugin; a failure there must not turn a served request into an error. */
export async function runEnd(ctx: GatewayContext, plugins: readonly GatewayPlugin[]): Promise<void> {
  for (const p of plugins) {
    if (!p.onEnd) continue
    try {
      const pending = p.onEnd(ctx)
      if (isThenable(pending)) await pending
    } catch {
      // ignored: the answer has left
    }
  }
}

/**
 * A plugin's throw: a GatewayError is its answer and goes on; anything else fails the request in
 * Bifrost's shape, or, for a non-critical plugin, is noted and skipped.
 */
export function isolate(ctx: GatewayContext, p: GatewayPlugin, stage: PluginStage, err: unknown): void {
  if (err instanceof GatewayError) throw err
  const message = err instanceof Error ? err.message : String(err)
  if (p.critical === false) {
    ;(ctx.facts.skippedPlugins ??= []).push({ name: p.name, stage, message })
    return
  }
  throw new GatewayError('plugin_error', `plugin ${p.name} failed in ${stage}: ${message}`, {
    retryable: false,
    extra: { plugin: p.name },
    cause: err,
  })
}

/** A plugin's error answer as a GatewayError in Bifrost's shape. */
export function pluginError(name: string, e: PluginErrorInit | GatewayError): GatewayError {
  if (e instanceof GatewayError) return e
  const message =
    typeof e?.message === 'string' && e.message ? e.message : `plugin ${name} refused the request`
  return new GatewayError('plugin_error', message, {
    status:
      Number.isInteger(e?.status_code) && e.status_code! >= 400 && e.status_code! <= 599
        ? e.status_code
        : 500,
    type: typeof e?.type === 'string' ? e.type : undefined,
    upstreamCode: typeof e?.code === 'string' ? e.code : undefined,
    retryable: false,
    extra: { plugin: name },
  })
}

/**
 * Whether a hook's answer must be awaited: most built-in hooks answer synchronously, and awaiting
 * a plain value still costs a turn of the microtask queue per hook per request.
 */
function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function'
}

function withDeadline<T>(value: T | Promise<T>, p: GatewayPlugin, stage: PluginStage): T | Promise<T> {
  if (!(value instanceof Promise)) return value
  const ms = p.timeoutMs ?? DEFAULT_TIMEOUT_MS
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer after ${ms} ms`)), ms)
    value.then(
      (v) => {
        clearTimeout(timer)
        resolve(v)
      },
      (e: unknown) => {
        clearTimeout(timer)
        reject(e instanceof Error ? e : new Error(`${stage} rejected: ${String(e)}`))
      },
    )
  })
}

/** A rewrite that returned a new object: the gateway's callers hold the original, so its contents change. */
function replaceContents(target: Record<string, unknown>, source: Record<string, unknown>): void {
  for (const k of Object.keys(target)) if (!(k in source)) delete target[k]
  Object.assign(target, source)
}
