import { contentFieldLength } from './sse-content.js'
import { effectiveNetwork, resolveSecret, type EffectiveNetwork } from './config.js'
import type { AttemptRecord, GatewayContext, GatewayHook, Target } from './context.js'
import {
  chatResponseToResponses,
  chatResponseToTextCompletion,
  chatStreamToResponses,
  chatStreamToTextCompletion,
  responsesRequestToChat,
  textCompletionToChat,
} from './convert/index.js'
import { asGatewayError, GatewayError } from './errors.js'
import { selectKey, modelForKey } from './router/keys.js'
import { ConcurrencyLimiter } from './router/limiter.js'
import type { ProviderRegistry } from './router/registry.js'
import { backoffMs, sleep } from './router/retry.js'
import { resolveTargets, type TargetLookup } from './router/targets.js'
import type {
  ChatRequest,
  ChatResponse,
  EmbeddingRequest,
  EmbeddingResponse,
  ModelEntry,
  ProviderConfig,
  ProviderKey,
  ResponsesRequest,
  ResponsesResponse,
  TextCompletionRequest,
  TextCompletionResponse,
  Usage,
} from './schemas/index.js'
import type {
  Attempt,
  ChatStreamItem,
  JsonResult,
  ProviderAdapter,
  ResponsesStreamItem,
  StreamResult,
} from '../providers/types.js'

export interface GatewayOptions {
  registry: ProviderRegistry<ProviderAdapter>
  hooks?: GatewayHook[]
  /** Whether a provider may be called without a key. */
  isKeyless?: (cfg: ProviderConfig) => boolean
  /** Upper bound on upstream attempts per request, across retries, keys and fallbacks. */
  maxTotalAttempts?: number
  /** A Retry-After longer than this moves on to the next fallback instead of waiting. */
  maxRetryAfterMs?: number
  /** Client setting `drop_excess_requests`. */
  dropExcessRequests?: () => boolean
  /** Where `env.VAR` key values are looked up. */
  env?: NodeJS.ProcessEnv
}

/** Headers a caller may not set on the upstream request through `x-bf-eh-*`. */
const DENIED_EXTRA_HEADERS = new Set([
  'authorization',
  'x-api-key',
  'api-key',
  'x-goog-api-key',
  'host',
  'content-length',
  'content-type',
  'cookie',
  'connection',
  'transfer-encoding',
  'proxy-authorization',
])

const KEYLESS_KEY: ProviderKey = {
  id: 'keyless',
  name: 'keyless',
  value: '',
  models: ['*'],
  blacklisted_models: [],
  weight: 1,
  enabled: true,
}

export type Op<R> = (adapter: ProviderAdapter, attempt: Attempt, target: Target) => Promise<R>

/**
 * The request pipeline: resolve the targets (primary, then fallbacks), run the hooks, pick a key,
 * call the provider with retries and backoff, and account usage when the response or the stream
 * ends. It knows nothing of HTTP, the store or the UI.
 */
export class Gateway {
  private readonly registry: ProviderRegistry<ProviderAdapter>
  private readonly hooks: GatewayHook[]
  private readonly isKeyless: (cfg: ProviderConfig) => boolean
  private readonly maxTotalAttempts: number
  private readonly maxRetryAfterMs: number
  private readonly dropExcess: () => boolean
  private readonly env: NodeJS.ProcessEnv
  private readonly limiters = new Map<string, ConcurrencyLimiter>()
  private readonly networks = new WeakMap<ProviderConfig, EffectiveNetwork>()
  readonly lookup: TargetLookup

  constructor(opts: GatewayOptions) {
    this.registry = opts.registry
    this.hooks = opts.hooks ?? []
    this.isKeyless = opts.isKeyless ?? (() => false)
    this.maxTotalAttempts = opts.maxTotalAttempts ?? 10
    this.maxRetryAfterMs = opts.maxRetryAfterMs ?? 60_000
    this.dropExcess = opts.dropExcessRequests ?? (() => false)
    this.env = opts.env ?? process.env
    const registry = this.registry
    this.lookup = {
      isProviderName: (name) => registry.isKnown(name) || registry.has(name),
      providersListing: (model) =>
        registry
          .list()
          .filter((p) => p.config.keys.some((k) => k.enabled && k.models.includes(model)))
          .map((p) => p.config.name),
      configuredProviders: () => registry.list().map((p) => p.config.name),
    }
    registry.onChange((name) => {
      const entry = registry.get(name)
      const limiter = this.limiters.get(name)
      if (entry && limiter) {
        limiter.resize(
          entry.config.concurrency_and_buffer_size.concurrency,
          entry.config.concurrency_and_buffer_size.buffer_size,
        )
      }
    })
  }

  addHook(hook: GatewayHook): void {
    this.hooks.push(hook)
  }

  // ---- chat completions ----

  chat(ctx: GatewayContext, req: ChatRequest, defaultProvider?: string): Promise<JsonResult<ChatResponse>> {
    return this.runJson(ctx, req, defaultProvider, (adapter, a) => adapter.chat(a, req))
  }

  chatStream(
    ctx: GatewayContext,
    req: ChatRequest,
    defaultProvider?: string,
  ): Promise<StreamResult<ChatStreamItem>> {
    return this.runStream(ctx, req, defaultProvider, (adapter, a) => adapter.chatStream(a, req))
  }

  // ---- legacy text completions: natively where the provider has them, else through chat ----

  textCompletion(
    ctx: GatewayContext,
    req: TextCompletionRequest,
  ): Promise<JsonResult<TextCompletionResponse>> {
    return this.runJson(ctx, req, undefined, async (adapter, a) => {
      if (adapter.textCompletion) return adapter.textCompletion(a, req)
      const r = await adapter.chat(a, textCompletionToChat(req))
      return { body: chatResponseToTextCompletion(r.body), usage: r.usage, headers: r.headers }
    })
  }

  textCompletionStream(
    ctx: GatewayContext,
    req: TextCompletionRequest,
  ): Promise<StreamResult<ChatStreamItem>> {
    return this.runStream(ctx, req, undefined, async (adapter, a) => {
      if (adapter.textCompletionStream) return adapter.textCompletionStream(a, req)
      // Converted chunk by chunk, so no raw frames.
      const r = await adapter.chatStream({ ...a, passthrough: false }, textCompletionToChat(req))
      return { items: chatStreamToTextCompletion(r.items), headers: r.headers }
    })
  }

  // ---- Responses API: natively where the provider has it, else through chat ----

  responses(
    ctx: GatewayContext,
    req: ResponsesRequest,
    defaultProvider?: string,
  ): Promise<JsonResult<ResponsesResponse>> {
    return this.runJson(ctx, req, defaultProvider, async (adapter, a) => {
      if (adapter.responses) return adapter.responses(a, req)
      const r = await adapter.chat(a, responsesRequestToChat(req))
      return { body: chatResponseToResponses(r.body, req), usage: r.usage, headers: r.headers }
    })
  }

  responsesStream(
    ctx: GatewayContext,
    req: ResponsesRequest,
    defaultProvider?: string,
  ): Promise<StreamResult<ResponsesStreamItem>> {
    return this.runStream(ctx, req, defaultProvider, async (adapter, a) => {
      if (adapter.responsesStream) return adapter.responsesStream(a, req)
      const r = await adapter.chatStream({ ...a, passthrough: false }, responsesRequestToChat(req))
      return { items: chatStreamToResponses(r.items, req), headers: r.headers }
    })
  }

  // ---- embeddings ----

  embeddings(
    ctx: GatewayContext,
    req: EmbeddingRequest,
    defaultProvider?: string,
  ): Promise<JsonResult<EmbeddingResponse>> {
    return this.runJson(ctx, req, defaultProvider, (adapter, a, target) => {
      if (!adapter.embeddings) {
        throw new GatewayError(
          'unsupported_operation',
          `provider ${target.provider} does not serve embeddings`,
          {
            retryable: false,
          },
        )
      }
      return adapter.embeddings(a, req)
    })
  }

  // ---- any other operation: the same pipeline (hooks, keys, retries, fallbacks) around an adapter call ----

  /** A non-streamed operation of the adapter (images, speech, rerank, count tokens ...). */
  operation<R extends JsonResult<unknown>>(
    ctx: GatewayContext,
    req: { model: string; fallbacks?: unknown },
    defaultProvider: string | undefined,
    op: Op<R>,
  ): Promise<R> {
    return this.runJson(ctx, req, defaultProvider, op)
  }

  /** A streamed operation of the adapter; resolved once its first item arrived, like chat streams. */
  streamOperation<T extends { usage?: Usage }>(
    ctx: GatewayContext,
    req: { model: string; fallbacks?: unknown },
    defaultProvider: string | undefined,
    op: Op<StreamResult<T>>,
  ): Promise<StreamResult<T>> {
    return this.runStream(ctx, req, defaultProvider, op)
  }

  // ---- models ----

  /** The models of every configured provider, as `provider/model`; a provider that fails is left out. */
  async listModels(ctx: GatewayContext, only?: string): Promise<ModelEntry[]> {
    // The same authentication as inference; then only what the caller may use is listed.
    for (const hook of this.hooks) if (hook.beforeRequest) await hook.beforeRequest(ctx, { model: '' })
    const filters = this.hooks.filter((h) => h.admitsModel)
    const entries = this.registry.list().filter((p) => only === undefined || p.config.name === only)
    const lists = await Promise.all(
      entries.map(async ({ config, adapter }) => {
        const declared = declaredModels(config)
        if (!adapter.listModels) return declared
        const key = selectKey(config.keys, '*', new Set()) ?? config.keys.find((k) => k.enabled)
        if (!key && !this.isKeyless(config)) return declared
        try {
          const net = this.network(config)
          const models = await adapter.listModels(
            this.attempt(ctx, config, key ?? KEYLESS_KEY, '', {
              ...net,
              timeoutMs: Math.min(net.timeoutMs, 10_000),
            }),
          )
          const seen = new Set(models.map((m) => m.id))
          return [...models, ...declared.filter((m) => !seen.has(m.id))]
        } catch {
          return declared
        }
      }),
    )
    const all = lists.flat()
    if (filters.length === 0) return all
    return all.filter((m) => {
      const slash = m.id.indexOf('/')
      const provider = m.id.slice(0, slash)
      const model = m.id.slice(slash + 1)
      return filters.every((h) => h.admitsModel!(ctx, provider, model))
    })
  }

  // ---- the pipeline ----

  private async runJson<R extends JsonResult<unknown>>(
    ctx: GatewayContext,
    req: { model: string; fallbacks?: unknown },
    defaultProvider: string | undefined,
    op: Op<R>,
  ): Promise<R> {
    try {
      const result = await this.run(ctx, req, defaultProvider, async (adapter, a, target) => {
        const release = await this.limiter(a.provider).acquire(ctx.signal, target.provider)
        try {
          return await op(adapter, a, target)
        } finally {
          release()
        }
      })
      ctx.usage = result.usage
      ctx.result = result
      return result
    } catch (err) {
      ctx.error = asGatewayError(err)
      throw ctx.error
    } finally {
      ctx.ended = true
      await this.end(ctx)
    }
  }

  /**
   * Streams are resolved once their first event has arrived, so that a failure before the first
   * byte reaches the client can still be retried or fall back. Usage is read on the way through;
   * the hooks' end runs when the stream is finished, cut, or abandoned by the client.
   */
  private async runStream<T extends { usage?: Usage }>(
    ctx: GatewayContext,
    req: { model: string; fallbacks?: unknown },
    defaultProvider: string | undefined,
    op: Op<StreamResult<T>>,
  ): Promise<StreamResult<T>> {
    let release: (() => void) | undefined
    let opened: { result: StreamResult<T>; first: IteratorResult<T>; it: AsyncIterator<T> }
    try {
      opened = await this.run(ctx, req, defaultProvider, async (adapter, a, target) => {
        const rel = await this.limiter(a.provider).acquire(ctx.signal, target.provider)
        try {
          const result = await op(adapter, a, target)
          const it = result.items[Symbol.asyncIterator]()
          const first = await it.next()
          ctx.firstChunkNs = process.hrtime.bigint()
          release = rel
          return { result, first, it }
        } catch (err) {
          rel()
          throw err
        }
      })
    } catch (err) {
      ctx.error = asGatewayError(err)
      ctx.ended = true
      await this.end(ctx)
      throw ctx.error
    }
    const { result, first, it } = opened
    const streamStart = process.hrtime.bigint()
    const end = () => this.end(ctx)
    const observers: ((item: unknown) => void)[] = []
    for (const hook of this.hooks) {
      const observe = hook.observeStream?.(ctx)
      if (observe) observers.push(observe)
    }
    async function* relay(): AsyncGenerator<T> {
      let finished = false
      // For unparsed OpenAI-format chunks: the size of a chunk with no content (the first one,
      // which only names the role), so that the rest of each chunk counts as content.
      const envelope = { bytes: -1 }
      try {
        let step = first
        while (!step.done) {
          const item = step.value
          if (item.usage) ctx.usage = item.usage
          else ctx.streamedChars += contentChars(item, envelope)
          for (const observe of observers) observe(item)
          yield item
          step = await it.next()
        }
        finished = true
      } catch (err) {
        ctx.error = ctx.signal.aborted
          ? new GatewayError('request_cancelled', 'the client went away', { retryable: false })
          : asGatewayError(err)
        throw ctx.error
      } finally {
        if (!finished && !ctx.error) {
          ctx.error = new GatewayError('request_cancelled', 'the client stopped reading the stream', {
            retryable: false,
          })
          await it.return?.()
        }
        ctx.upstreamNs += process.hrtime.bigint() - streamStart
        ctx.ended = true
        release?.()
        await end()
      }
    }
    return { items: relay(), headers: result.headers }
  }

  private async run<R>(
    ctx: GatewayContext,
    req: { model: string; fallbacks?: unknown },
    defaultProvider: string | undefined,
    op: Op<R>,
  ): Promise<R> {
    // `x-bf-eh-<name>` forwards a header: one without a name is the caller's mistake, not the provider's.
    if (ctx.headers['x-bf-eh-'] !== undefined) {
      throw new GatewayError(
        'invalid_request',
        'header x-bf-eh- names no header to forward (x-bf-eh-<name>)',
        {
          param: 'x-bf-eh-',
          retryable: false,
        },
      )
    }
    let routed: Target[] | undefined
    for (const hook of this.hooks) {
      if (!hook.beforeRequest) continue
      const r = await hook.beforeRequest(ctx, req as Record<string, unknown>)
      if (r) routed = r
    }
    const targets = routed ?? resolveTargets(req.model, req.fallbacks, this.lookup, defaultProvider)
    let primaryError: GatewayError | undefined
    for (const target of targets) {
      ctx.fallbackIndex = target.index
      ctx.provider = target.provider
      ctx.model = target.model
      try {
        for (const hook of this.hooks)
          if (hook.beforeTarget) await hook.beforeTarget(ctx, target, req as Record<string, unknown>)
        return await this.tryTarget(ctx, target, req, op)
      } catch (err) {
        const e = asGatewayError(err)
        for (const hook of this.hooks)
          if (hook.afterTargetFailed) await hook.afterTargetFailed(ctx, target, e)
        if (ctx.signal.aborted) throw cancelled(ctx)
        primaryError ??= e
        // The caller's own mistakes, and refusals, do not fall back.
        if (!e.retryable || ctx.attempts >= this.maxTotalAttempts) break
      }
    }
    // The caller hears about the primary: its error, its provider and model.
    ctx.fallbackIndex = 0
    ctx.provider = targets[0].provider
    ctx.model = targets[0].model
    throw primaryError ?? new GatewayError('internal', 'no target was tried')
  }

  private async tryTarget<R>(
    ctx: GatewayContext,
    target: Target,
    req: { model: string },
    op: Op<R>,
  ): Promise<R> {
    const entry = this.registry.get(target.provider)
    if (!entry) {
      throw new GatewayError(
        'provider_not_configured',
        `provider ${target.provider} is not configured (add it in config.json or with POST /api/providers)`,
        { param: target.index === 0 ? 'model' : `fallbacks[${target.index - 1}]`, retryable: true },
      )
    }
    const { config, adapter } = entry
    const net = this.network(config)
    const dead = new Set<string>()
    let avoid: string | undefined
    let retries = 0
    let lastKeyError: GatewayError | undefined
    for (;;) {
      if (ctx.attempts >= this.maxTotalAttempts) {
        throw lastKeyError ?? new GatewayError('attempts_exhausted', `gave up after ${ctx.attempts} attempts`)
      }
      const key = this.pickKey(ctx, config, target.model, dead, avoid)
      if (!key) {
        if (dead.size > 0) {
          throw new GatewayError(
            'upstream_credentials_exhausted',
            `every key of ${config.name} was refused: ${lastKeyError?.message ?? 'unauthorized'}`,
            { retryable: true },
          )
        }
        throw new GatewayError(
          'no_key_for_model',
          `no key of provider ${config.name} may serve model ${target.model}`,
          {
            param: 'model',
            retryable: true,
          },
        )
      }
      let attempt: Attempt
      try {
        attempt = this.attempt(ctx, config, key, target.model, net)
      } catch (err) {
        // A key whose env.VAR is unset cannot be used; another key may be.
        dead.add(key.id)
        lastKeyError = asGatewayError(err)
        continue
      }
      ctx.attempts++
      const t0 = process.hrtime.bigint()
      const record: AttemptRecord = {
        provider: target.provider,
        model: attempt.model,
        keyId: key.id,
        keyName: key.name,
        fallbackIndex: target.index,
        startNs: t0,
      }
      ctx.attemptLog.push(record)
      try {
        const result = await op(adapter, attempt, target)
        const t1 = process.hrtime.bigint()
        record.endNs = t1
        ctx.upstreamNs += t1 - t0
        ctx.upstreamLatencyMs = Number(t1 - t0) / 1e6
        return result
      } catch (err) {
        record.endNs = process.hrtime.bigint()
        ctx.upstreamNs += record.endNs - t0
        const e = scrubSecret(asGatewayError(err), attempt.secret)
        record.error = e
        if (ctx.signal.aborted) throw cancelled(ctx)
        // A refused key moves on to the next key whatever the status (Gemini refuses keys with a 400).
        if (e.keyDead) {
          dead.add(key.id)
          lastKeyError = e
          continue
        }
        if (!e.retryable) throw e
        if (retries >= net.maxRetries) throw e
        if (e.retryAfterMs !== undefined && e.retryAfterMs > this.maxRetryAfterMs) throw e
        // A rate-limited key is avoided on the next try when another key can serve.
        avoid = e.status === 429 ? key.id : undefined
        const wait = Math.max(backoffMs(retries, net.backoffInitialMs, net.backoffMaxMs), e.retryAfterMs ?? 0)
        retries++
        await sleep(wait, ctx.signal).catch(() => {
          throw cancelled(ctx)
        })
      }
    }
  }

  private pickKey(
    ctx: GatewayContext,
    config: ProviderConfig,
    model: string,
    dead: Set<string>,
    avoid: string | undefined,
  ): ProviderKey | undefined {
    if (ctx.directKey !== undefined) {
      return dead.has('direct')
        ? undefined
        : { ...KEYLESS_KEY, id: 'direct', name: 'direct', value: ctx.directKey }
    }
    if (config.keys.length === 0 && this.isKeyless(config) && !dead.has(KEYLESS_KEY.id)) return KEYLESS_KEY
    const allowed = ctx.allowedKeyIds
    const keys = allowed ? config.keys.filter((k) => allowed.has(k.id)) : config.keys
    if (avoid !== undefined) {
      const exclude = new Set(dead).add(avoid)
      const other = selectKey(keys, model, exclude)
      if (other) return other
    }
    return selectKey(keys, model, dead)
  }

  private attempt(
    ctx: GatewayContext,
    config: ProviderConfig,
    key: ProviderKey,
    model: string,
    net: EffectiveNetwork,
  ): Attempt {
    return {
      provider: config,
      key,
      secret: key.id === 'direct' ? key.value : key.value ? resolveSecret(key.value, this.env) : '',
      model: modelForKey(key, model),
      signal: ctx.signal,
      timeoutMs: net.timeoutMs,
      idleTimeoutMs: net.idleTimeoutMs,
      requestId: ctx.requestId,
      extraHeaders: extraHeaders(config, ctx.headers),
      passthrough: ctx.passthrough,
    }
  }

  private network(config: ProviderConfig): EffectiveNetwork {
    let net = this.networks.get(config)
    if (!net) {
      net = effectiveNetwork(config)
      this.networks.set(config, net)
    }
    return net
  }

  private limiter(config: ProviderConfig): ConcurrencyLimiter {
    let l = this.limiters.get(config.name)
    if (!l) {
      l = new ConcurrencyLimiter(
        config.concurrency_and_buffer_size.concurrency,
        config.concurrency_and_buffer_size.buffer_size,
        this.dropExcess,
      )
      this.limiters.set(config.name, l)
    }
    return l
  }

  private async end(ctx: GatewayContext): Promise<void> {
    for (const hook of this.hooks) {
      if (!hook.onEnd) continue
      try {
        await hook.onEnd(ctx)
      } catch {
        // A hook's failure at the end must not turn a served request into an error.
      }
    }
  }
}

/** Providers echo the key they were given in some error messages; it must not reach the caller. */
function scrubSecret(err: GatewayError, secret: string): GatewayError {
  if (secret.length >= 6 && err.message.includes(secret))
    err.message = err.message.split(secret).join('[redacted]')
  return err
}

function cancelled(ctx: GatewayContext): GatewayError {
  const reason: unknown = ctx.signal.reason
  if (reason instanceof GatewayError) return reason
  return new GatewayError('request_cancelled', 'the client went away', { retryable: false })
}

/** network_config.extra_headers, then the caller's `x-bf-eh-<name>` headers (security headers denied). */
function extraHeaders(config: ProviderConfig, headers: GatewayContext['headers']): Record<string, string> {
  const out: Record<string, string> = { ...config.network_config.extra_headers }
  for (const name in headers) {
    if (name.charCodeAt(0) !== 120 /* x */ && name !== 'anthropic-beta') continue
    const value = headers[name]
    if (value === undefined) continue
    if (name === 'anthropic-beta') {
      out[name] = Array.isArray(value) ? value.join(',') : value
    } else if (name.startsWith('x-bf-eh-')) {
      const upstream = name.slice(8)
      if (upstream && !DENIED_EXTRA_HEADERS.has(upstream))
        out[upstream] = Array.isArray(value) ? value.join(',') : value
    }
  }
  return out
}

/**
 * Characters of generated content in one stream item (chat, text-completion or Responses shape),
 * used only to estimate usage when a stream ends without the provider's figures. A chunk relayed
 * unparsed counts its size beyond the envelope of the first chunk that had text.
 */
function contentChars(item: unknown, envelope: { bytes: number }): number {
  const {
    chunk,
    event,
    data,
    contentChars: known,
  } = item as {
    chunk?: { choices?: unknown[] }
    event?: { delta?: unknown }
    data?: string
    contentChars?: number
  }
  if (known !== undefined) return known
  if (event) return typeof event.delta === 'string' ? event.delta.length : 0
  if (!chunk && data !== undefined) {
    if (envelope.bytes >= 0) return Math.max(0, data.length - envelope.bytes)
    // The first chunk with text shows what a chunk costs besides its text (the role chunk is longer).
    const n = contentFieldLength(data)
    if (n > 0) envelope.bytes = data.length - n
    return Math.max(0, n)
  }
  let n = 0
  for (const c of chunk?.choices ?? []) {
    const { delta, text } = c as {
      delta?: { content?: unknown; reasoning?: unknown; tool_calls?: unknown[] }
      text?: unknown
    }
    if (typeof text === 'string') n += text.length
    if (!delta) continue
    if (typeof delta.content === 'string') n += delta.content.length
    if (typeof delta.reasoning === 'string') n += delta.reasoning.length
    for (const t of delta.tool_calls ?? []) {
      const args = (t as { function?: { arguments?: unknown } }).function?.arguments
      if (typeof args === 'string') n += args.length
    }
  }
  return n
}

/** Models named explicitly by a provider's keys, listed even when the provider's catalogue is unreachable. */
function declaredModels(config: ProviderConfig): ModelEntry[] {
  const names = new Set<string>()
  for (const k of config.keys) {
    if (!k.enabled) continue
    for (const m of k.models) if (m !== '*') names.add(m)
    for (const alias of Object.keys(k.aliases ?? {})) names.add(alias)
  }
  return [...names].map((m) => ({
    id: `${config.name}/${m}`,
    object: 'model',
    created: 0,
    owned_by: config.name,
  }))
}
