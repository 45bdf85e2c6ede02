import {
  context as otelContext,
  defaultTextMapGetter,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type HrTime,
  type Span,
  type Tracer,
} from '@opentelemetry/api'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { resolveSecret } from '../core/config.js'
import { overheadNs, type AttemptRecord, type GatewayContext, type GatewayHook } from '../core/context.js'
import type { RequestType } from '../core/errors.js'
import type { StandaloneToolCall, ToolCallRecord } from '../core/tool-calls.js'
import type { ObservabilityDeps, ObservabilityPart } from './index.js'
import { pluginConfig } from './metrics.js'

/** config.json's `plugins` entry named `otel`, in Bifrost's format. */
export interface OtelConfig {
  service_name?: string
  /** The OTLP/HTTP endpoint; a bare origin gets `/v1/traces`. A literal or `env.VAR`. */
  collector_url?: string
  /** Only `genai_extension` (the OpenTelemetry GenAI conventions). */
  trace_type?: string
  /** Only `http` (OTLP/HTTP with JSON bodies). */
  protocol?: string
  /** Sent with every export (an API key ...); values may be `env.VAR`. */
  headers?: Record<string, string>
}

/** ctx.state key: the request span's context, so that later agent rounds join the same trace. */
const SPAN_STATE = 'tracing.span'

/** `gen_ai.provider.name` values of the GenAI conventions, for the providers that have one. */
const GENAI_PROVIDER: Record<string, string> = {
  openai: 'openai',
  anthropic: 'anthropic',
  gemini: 'gcp.gemini',
  vertex: 'gcp.vertex_ai',
  bedrock: 'aws.bedrock',
  azure: 'azure.ai.openai',
  cohere: 'cohere',
  groq: 'groq',
  mistral: 'mistral_ai',
  xai: 'x_ai',
  deepseek: 'deepseek',
  perplexity: 'perplexity',
}

/** The OpenTelemetry name of a provider; a caller's name such as `constructor` is only itself. */
function genaiProvider(name: string): string {
  return Object.hasOwn(GENAI_PROVIDER, name) ? GENAI_PROVIDER[name] : name
}

function operationName(type: RequestType): string {
  switch (type) {
    case 'chat_completion':
    case 'chat_completion_stream':
    case 'responses':
    case 'responses_stream':
      return 'chat'
    case 'text_completion':
    case 'text_completion_stream':
      return 'text_completion'
    case 'embedding':
      return 'embeddings'
    default:
      return type
  }
}

/** The endpoint to export to: the plugin's `collector_url`, else the standard OTEL_* variables. */
function endpointOf(cfg: OtelConfig | undefined, env: NodeJS.ProcessEnv): string | undefined {
  const url = cfg?.collector_url ? resolveSecret(cfg.collector_url, env) : undefined
  if (url) {
    const parsed = new URL(url.includes('://') ? url : `http://${url}`)
    if (parsed.pathname === '/' || parsed.pathname === '') parsed.pathname = '/v1/traces'
    return parsed.toString()
  }
  if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT
  return base ? `${base.replace(/\/+$/, '')}/v1/traces` : undefined
}

/** `k=v,k2=v2` (OTEL_EXPORTER_OTLP_HEADERS, OTEL_RESOURCE_ATTRIBUTES), values percent-decoded. */
function keyValues(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const part of (text ?? '').split(',')) {
    const eq = part.indexOf('=')
    if (eq <= 0) continue
    try {
      out[part.slice(0, eq).trim()] = decodeURIComponent(part.slice(eq + 1).trim())
    } catch {
      out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim()
    }
  }
  return out
}

function numberOf(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined
}

/** Nanoseconds on the process clock to the wall-clock time OTel wants. */
type Clock = (ns: bigint) => HrTime

function wallClock(): Clock {
  const offsetNs =
    BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6)) - process.hrtime.bigint()
  return (ns) => {
    const wall = ns + offsetNs
    return [Number(wall / 1_000_000_000n), Number(wall % 1_000_000_000n)]
  }
}

/**
 * OpenTelemetry traces over OTLP/HTTP, with a tracer provider of this instance's own (nothing
 * registered globally). Each request becomes a span when it ends, with a child span per provider
 * attempt and per MCP tool call, at their real times, after the GenAI semantic conventions.
 * Without a collector configured there is no hook at all.
 */
export function createTracing(deps: ObservabilityDeps): ObservabilityPart {
  const cfg = pluginConfig(deps.config, 'otel') as OtelConfig | undefined
  const env = deps.env
  if (env.OTEL_SDK_DISABLED === 'true' || env.OTEL_TRACES_EXPORTER === 'none')
    return { close: async () => undefined }
  if (cfg?.protocol !== undefined && cfg.protocol !== 'http') {
    deps.logger.warn({ protocol: cfg.protocol }, 'otel: only protocol "http" is supported; traces are off')
    return { close: async () => undefined }
  }
  if (cfg?.trace_type !== undefined && cfg.trace_type !== 'genai_extension')
    deps.logger.warn(
      { trace_type: cfg.trace_type },
      'otel: only trace_type "genai_extension" is supported; using it',
    )
  const url = endpointOf(cfg, env)
  if (!url) return { close: async () => undefined }

  const headers: Record<string, string> = { ...keyValues(env.OTEL_EXPORTER_OTLP_HEADERS) }
  for (const [k, v] of Object.entries(cfg?.headers ?? {})) headers[k] = resolveSecret(v, env)
  const serviceName = cfg?.service_name || env.OTEL_SERVICE_NAME || 'heimdall'
  const delay = Number(env.OTEL_BSP_SCHEDULE_DELAY)
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      ...keyValues(env.OTEL_RESOURCE_ATTRIBUTES),
      'service.name': serviceName,
    }),
    spanProcessors: [
      new BatchSpanProcessor(new OTLPTraceExporter({ url, headers }), {
        ...(Number.isFinite(delay) && delay > 0 && { scheduledDelayMillis: delay }),
      }),
    ],
  })
  const tracer = provider.getTracer('heimdall')
  const propagator = new W3CTraceContextPropagator()
  deps.logger.info({ url, service: serviceName }, 'otel: exporting traces')

  /** The caller's span (W3C `traceparent`), or the first agent round's span. */
  function parentOf(ctx: GatewayContext): Context {
    const first = ctx.facts.mcpAgentFirst
    const firstSpan = first?.state.get(SPAN_STATE) as Span | undefined
    if (firstSpan) return trace.setSpan(ROOT_CONTEXT, firstSpan)
    if (ctx.headers.traceparent === undefined) return ROOT_CONTEXT
    return propagator.extract(ROOT_CONTEXT, ctx.headers, defaultTextMapGetter)
  }

  const hook: GatewayHook = {
    name: 'tracing',
    onEnd(ctx) {
      const clock = wallClock()
      const end = process.hrtime.bigint()
      const op = operationName(ctx.requestType)
      const requestModel = ctx.model ?? ctx.modelRequested
      const span = tracer.startSpan(
        `${op} ${requestModel}`.trim(),
        { kind: SpanKind.SERVER, startTime: clock(ctx.startNs), attributes: requestAttributes(ctx, op) },
        parentOf(ctx),
      )
      ctx.state.set(SPAN_STATE, span)
      const parent = trace.setSpan(otelContext.active(), span)
      for (const attempt of ctx.attemptLog) attemptSpan(tracer, clock, parent, op, attempt, end)
      const tools = ctx.facts.mcpToolCalls
      for (const call of tools ?? []) toolSpan(tracer, clock, parent, call)
      if (ctx.error) {
        span.setAttribute('error.type', ctx.error.code)
        span.setStatus({ code: SpanStatusCode.ERROR, message: ctx.error.message })
      }
      span.end(clock(end))
    },
  }

  /** POST /v1/mcp/tool/execute: the tool call is the request, a span of its own (in the caller's trace, if any). */
  const onStandaloneToolCall = (call: StandaloneToolCall) => {
    const parent =
      call.headers.traceparent === undefined
        ? ROOT_CONTEXT
        : propagator.extract(ROOT_CONTEXT, call.headers, defaultTextMapGetter)
    const attributes: Attributes = {}
    if (call.virtualKey) {
      attributes['heimdall.virtual_key.id'] = call.virtualKey.id
      attributes['heimdall.virtual_key.name'] = call.virtualKey.name
    }
    toolSpan(tracer, wallClock(), parent, call.record, SpanKind.SERVER, attributes)
  }

  return {
    hook,
    onStandaloneToolCall,
    async close() {
      await provider.forceFlush().catch(() => undefined)
      await provider.shutdown()
    },
  }
}

/** The caller's `x-request-id`; an agent round has it from the request that started it. */
function clientRequestIdOf(ctx: GatewayContext): string | undefined {
  return ctx.clientRequestId ?? ctx.facts.mcpAgentFirst?.clientRequestId
}

function requestAttributes(ctx: GatewayContext, op: string): Attributes {
  const providerName = ctx.provider ? genaiProvider(ctx.provider) : undefined
  const a: Attributes = {
    'gen_ai.operation.name': op,
    'gen_ai.request.model': ctx.model ?? ctx.modelRequested,
    // What the caller knows the request by; the log entry's id is heimdall.log_id.
    'heimdall.request_id': clientRequestIdOf(ctx) ?? ctx.requestId,
    'heimdall.log_id': ctx.requestId,
    'heimdall.model_requested': ctx.modelRequested,
    'heimdall.stream': ctx.stream,
    'heimdall.attempts': ctx.attempts,
    'heimdall.fallback_index': ctx.fallbackIndex,
    'heimdall.overhead_ms': Number(overheadNs(ctx)) / 1e6,
  }
  if (providerName) {
    a['gen_ai.provider.name'] = providerName
    a['gen_ai.system'] = providerName
    a['heimdall.provider'] = ctx.provider
  }
  if (ctx.route) a['http.route'] = ctx.route
  const input = ctx.input as Record<string, unknown> | undefined
  if (input && typeof input === 'object') {
    const temperature = numberOf(input.temperature)
    const topP = numberOf(input.top_p)
    const maxTokens =
      numberOf(input.max_completion_tokens) ?? numberOf(input.max_tokens) ?? numberOf(input.max_output_tokens)
    if (temperature !== undefined) a['gen_ai.request.temperature'] = temperature
    if (topP !== undefined) a['gen_ai.request.top_p'] = topP
    if (maxTokens !== undefined) a['gen_ai.request.max_tokens'] = maxTokens
  }
  if (!ctx.error) {
    const body = ctx.result?.body as
      { id?: unknown; model?: unknown; choices?: { finish_reason?: unknown }[] } | undefined
    a['gen_ai.response.model'] =
      typeof body?.model === 'string' ? body.model : (ctx.model ?? ctx.modelRequested)
    if (typeof body?.id === 'string') a['gen_ai.response.id'] = body.id
    const reasons = (body?.choices ?? []).flatMap((c) =>
      typeof c.finish_reason === 'string' ? [c.finish_reason] : [],
    )
    if (reasons.length) a['gen_ai.response.finish_reasons'] = reasons
  }
  const usage = ctx.usage ?? ctx.result?.usage
  if (usage) {
    a['gen_ai.usage.input_tokens'] = usage.prompt_tokens
    a['gen_ai.usage.output_tokens'] = usage.completion_tokens
  }
  if (ctx.firstChunkNs !== undefined)
    a['heimdall.time_to_first_token_ms'] = Number(ctx.firstChunkNs - ctx.startNs) / 1e6
  const cost = ctx.facts.cost
  if (cost?.cost !== undefined) a['heimdall.cost_usd'] = cost.cost
  const vk = ctx.facts.virtualKey
  if (vk) {
    a['heimdall.virtual_key.id'] = vk.id
    a['heimdall.virtual_key.name'] = vk.name
    if (vk.team_id) a['heimdall.team.id'] = vk.team_id
  }
  return a
}

function attemptSpan(
  tracer: Tracer,
  clock: Clock,
  parent: Context,
  op: string,
  attempt: AttemptRecord,
  fallbackEnd: bigint,
): void {
  const providerName = genaiProvider(attempt.provider)
  const span = tracer.startSpan(
    `${op} ${attempt.model}`,
    {
      kind: SpanKind.CLIENT,
      startTime: clock(attempt.startNs),
      attributes: {
        'gen_ai.operation.name': op,
        'gen_ai.provider.name': providerName,
        'gen_ai.system': providerName,
        'gen_ai.request.model': attempt.model,
        'heimdall.provider': attempt.provider,
        'heimdall.key_id': attempt.keyId,
        'heimdall.fallback_index': attempt.fallbackIndex,
      },
    },
    parent,
  )
  if (attempt.error) {
    span.setAttribute('error.type', attempt.error.upstreamCode ?? attempt.error.code)
    span.setAttribute('http.response.status_code', attempt.error.status)
    span.setStatus({ code: SpanStatusCode.ERROR, message: attempt.error.message })
  }
  span.end(clock(attempt.endNs ?? fallbackEnd))
}

function toolSpan(
  tracer: Tracer,
  clock: Clock,
  parent: Context,
  call: ToolCallRecord,
  kind = SpanKind.INTERNAL,
  extra: Attributes = {},
): void {
  const span = tracer.startSpan(
    `execute_tool ${call.name}`,
    {
      kind,
      startTime: clock(call.startNs),
      attributes: {
        ...extra,
        'gen_ai.operation.name': 'execute_tool',
        'gen_ai.tool.name': call.name,
        'gen_ai.tool.type': 'extension',
        ...(call.callId && { 'gen_ai.tool.call.id': call.callId }),
        'heimdall.mcp.client': call.client,
      },
    },
    parent,
  )
  if (call.error !== undefined) {
    span.setAttribute('error.type', 'tool_error')
    span.setStatus({ code: SpanStatusCode.ERROR, message: call.error })
  }
  span.end(clock(call.endNs))
}
