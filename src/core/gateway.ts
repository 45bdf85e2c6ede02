import { effectiveNetwork, resolveSecret, type EffectiveNetwork } from './config.js'
import type { AttemptRecord, GatewayContext, GatewayHook, Target } from './context.js'
import { cancelled, scrubSecret } from './attempt-errors.js'
import { extraHeaders } from './extra-headers.js'
import {
  isolate,
  PluginPipeline,
  runEnd,
  runPostHooks,
  runPreHooks,
  type GatewayPlugin,
  type PluginRequest,
  type PreHookOutcome,
  type PreHookProgress,
} from './plugins.js'
import { shortCircuitJson, shortCircuitStream } from './short-circuit.js'
import { openStream, relayStream, type OpenedStream } from './stream-relay.js'
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
import { declaredModels, KEYLESS_KEY, pickKey } from './router/pick-key.js'
import { HealthTracker } from './router/health.js'
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
} from './provider-adapter.js'

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

export type Op<R> = (adapter: ProviderAdapter, attempt: Attempt, target: Target) => Promise<R>

/**
 * The request pipeline: resolve the targets (primary, then fallbacks), run the hooks, pick a key,
 * call the provider with retries and backoff, and account usage when the response or the stream
 * ends. It knows nothing of HTTP, the store or the UI.
 */
export class Gateway {
  private readonly registry: ProviderRegistry<ProviderAdapter>
  /** Every plugin, built-in or configured, in the order they run. */
  readonly plugins = new PluginPipeline()
  private readonly isKeyless: (cfg: ProviderConfig) => boolean
  private readonly maxTotalAttempts: number
  private readonly maxRetryAfterMs: number
  private readonly dropExcess: () => boolean
  private readonly env: NodeJS.ProcessEnv
  private readonly limiters = new Map<string, ConcurrencyLimiter>()
  private readonly networks = new WeakMap<ProviderConfig, EffectiveNetwork>()
  /** Health of every (provider, key, model) target: circuit breakers and adaptive weights. */
  readonly health = new HealthTracker()
  readonly lookup: TargetLookup

  constructor(opts: GatewayOptions) {
    this.registry = opts.registry
    for (const hook of opts.hooks ?? []) this.plugins.add(hook)
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
    this.plugins.add(hook)
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
    const plugins = this.plugins.set.list
    for (const p of plugins) if (p.beforeRequest) await p.beforeRequest(ctx, { model: '' })
    const filters = plugins.filter((h) => h.admitsModel)
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
    const set = this.plugins.set
    ctx.plugins = set.list
    const progress = { ran: 0 }
    let result: R | undefined
    let error: GatewayError | undefined
    try {
      const pre = await this.pre(ctx, req, set.list, progress)
      result = pre.shortCircuit
        ? (shortCircuitJson(ctx, req, pre.shortCircuit) as R)
        : await this.route(ctx, req, pre.routed, defaultProvider, async (adapter, a, target) => {
            const release = await this.limiter(a.provider).acquire(ctx.signal, target.provider)
            try {
              return await op(adapter, a, target)
            } finally {
              release()
            }
          })
    } catch (err) {
      error = asGatewayError(err)
    }
    try {
      if (set.anyPostHook && progress.ran > 0) {
        const out = await runPostHooks(
          ctx,
          set.list,
          progress.ran,
          error ? { error } : { response: result!.body },
        )
        if (out.error) error = out.error
        else if (out.response !== undefined && (error || out.response !== result!.body)) {
          // A rewritten (or recovered) answer: its body is sent, never the upstream's raw text.
          result = { ...result, body: out.response, raw: undefined } as R
          error = undefined
        }
      }
      if (error) throw (ctx.error = error)
      ctx.usage = result!.usage
      ctx.result = result
      return result!
    } finally {
      ctx.ended = true
      await this.end(ctx)
    }
  }

  /**
   * Streams are resolved once their first event has arrived, so that a failure before the first
   * byte reaches the client can still be retried or fall back. Usage is read on the way through;
   * the plugins' end runs when the stream is finished, cut, or abandoned by the client.
   */
  private async runStream<T extends { usage?: Usage }>(
    ctx: GatewayContext,
    req: { model: string; fallbacks?: unknown },
    defaultProvider: string | undefined,
    op: Op<StreamResult<T>>,
  ): Promise<StreamResult<T>> {
    const set = this.plugins.set
    ctx.plugins = set.list
    const progress = { ran: 0 }
    let release: (() => void) | undefined
    let opened: OpenedStream<T> | undefined
    try {
      const pre = await this.pre(ctx, req, set.list, progress)
      if (pre.shortCircuit) {
        opened = await openStream(shortCircuitStream(ctx, req, pre.shortCircuit) as StreamResult<T>)
      } else {
        opened = await this.route(ctx, req, pre.routed, defaultProvider, async (adapter, a, target) => {
          const rel = await this.limiter(a.provider).acquire(ctx.signal, target.provider)
          try {
            const result = await openStream(await op(adapter, a, target))
            release = rel
            return result
          } catch (err) {
            rel()
            throw err
          }
        })
      }
    } catch (err) {
      let error = asGatewayError(err)
      if (set.anyPostHook && progress.ran > 0) {
        const out = await runPostHooks(ctx, set.list, progress.ran, { error })
        if (out.response !== undefined) {
          // A plugin recovered the request: its answer is streamed.
          try {
            const answer = shortCircuitStream(ctx, req, { response: out.response }) as StreamResult<T>
            opened = await openStream(answer)
          } catch (e) {
            error = asGatewayError(e)
          }
        } else if (out.error) error = out.error
      }
      if (!opened) {
        ctx.error = error
        ctx.ended = true
        await this.end(ctx)
        throw ctx.error
      }
    }
    ctx.firstChunkNs = process.hrtime.bigint()
    return relayStream(ctx, set, opened, async () => {
      release?.()
      await this.end(ctx)
    })
  }

  /** The checks every request passes, then the plugins' pre-hooks. */
  private pre(
    ctx: GatewayContext,
    req: { model: string; fallbacks?: unknown },
    plugins: readonly GatewayPlugin[],
    progress: PreHookProgress,
  ): Promise<PreHookOutcome> {
    // `x-bf-eh-<name>` forwards a header: one without a name is the caller's mistake, not the provider's.
    if (ctx.headers['x-bf-eh-'] !== undefined) {
      throw new GatewayError(
        'invalid_request',
        'header x-bf-eh- names no header to forward (x-bf-eh-<name>)',
        { param: 'x-bf-eh-', retryable: false },
      )
    }
    return runPreHooks(ctx, plugins, req as PluginRequest, progress)
  }

  /** The targets in turn (the primary, then each fallback) until one serves. */
  private async route<R>(
    ctx: GatewayContext,
    req: { model: string; fallbacks?: unknown },
    routed: Target[] | undefined,
    defaultProvider: string | undefined,
    op: Op<R>,
  ): Promise<R> {
    const plugins = ctx.plugins ?? []
    const targets = routed ?? resolveTargets(req.model, req.fallbacks, this.lookup, defaultProvider)
    let primaryError: GatewayError | undefined
    for (const target of targets) {
      ctx.fallbackIndex = target.index
      ctx.provider = target.provider
      ctx.model = target.model
      try {
        for (const p of plugins) {
          if (!p.beforeTarget) continue
          try {
            await p.beforeTarget(ctx, target, req as Record<string, unknown>)
          } catch (err) {
            isolate(ctx, p, 'beforeTarget', err)
          }
        }
        return await this.tryTarget(ctx, target, req, op)
      } catch (err) {
        const e = asGatewayError(err)
        for (const p of plugins) if (p.afterTargetFailed) await p.afterTargetFailed(ctx, target, e)
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
      const key = pickKey(ctx, config, target.model, dead, avoid, this.isKeyless(config), this.health)
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
        this.health.success(config, key, target.model, ctx.upstreamLatencyMs)
        return result
      } catch (err) {
        record.endNs = process.hrtime.bigint()
        ctx.upstreamNs += record.endNs - t0
        const e = scrubSecret(asGatewayError(err), attempt.secret)
        record.error = e
        if (ctx.signal.aborted) throw cancelled(ctx)
        this.health.failure(config, key, target.model, e)
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
      // Plugins that rewrite stream items need them parsed, not as raw frames.
      passthrough: ctx.passthrough === true && !this.plugins.set.anyStreamRewrite,
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

  private end(ctx: GatewayContext): Promise<void> {
    return runEnd(ctx, ctx.plugins ?? this.plugins.set.list)
  }
}
