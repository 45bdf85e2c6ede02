import { Cancellation } from '../../core/cancel.js'
import { timeOrderedId } from '../../core/time-ordered-id.js'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { createContext, overheadNs, type GatewayContext } from '../../core/context.js'
import type { RequestType } from '../../core/errors.js'
import { toErrorBody } from '../../core/errors.js'
import type { Gateway } from '../../core/gateway.js'
import {
  chatStreamWithMcpAgent,
  chatWithMcpAgent,
  type McpAgentOptions,
  responsesStreamWithMcpAgent,
  responsesWithMcpAgent,
} from '../../mcp/index.js'
import {
  ChatRequestSchema,
  EmbeddingRequestSchema,
  ResponsesRequestSchema,
  TextCompletionRequestSchema,
  type ChatChunk,
} from '../../core/schemas/index.js'
import type {
  ChatStreamItem,
  JsonResult,
  ResponsesStreamItem,
  StreamResult,
} from '../../core/provider-adapter.js'
import { requestOrigin, sendError } from '../errors.js'
import { arrivalOf } from '../arrival.js'
import { carriesExtraFields, StreamExtraFields, withExtraFields } from '../extra-fields.js'
import { relaySse } from '../sse.js'
import { compileValidator } from '../validate.js'
import { routingInfoHeaders } from '../../governance/index.js'

const validateChat = compileValidator(ChatRequestSchema)
const validateCompletion = compileValidator(TextCompletionRequestSchema)
const validateResponses = compileValidator(ResponsesRequestSchema)
const validateEmbedding = compileValidator(EmbeddingRequestSchema)

export interface InferenceDeps {
  gateway: Gateway
  /** `client.allow_direct_keys`: callers may bring their own provider key with `x-bf-direct-key: true`. */
  allowDirectKeys?: () => boolean
  /** MCP agent mode for chat completions and Responses requests, streamed or not. */
  mcpAgent?: McpAgentOptions
}

/**
 * The caller's own provider key, when direct keys are allowed and the request says
 * `x-bf-direct-key: true`: the first credential header that is not a virtual key.
 */
function directKeyOf(headers: FastifyRequest['headers']): string | undefined {
  if (headers['x-bf-direct-key'] !== 'true') return undefined
  const auth = headers.authorization
  const bearer = typeof auth === 'string' ? /^bearer\s+(\S+)$/i.exec(auth.trim())?.[1] : undefined
  for (const v of [bearer, headers['x-api-key'], headers['x-goog-api-key'], headers['api-key']]) {
    if (typeof v === 'string' && v && !v.toLowerCase().startsWith('sk-bf-')) return v
  }
  return undefined
}

/** Starts a request's context: its id, its cancellation when the client goes away, its clock. */
export function beginRequest(
  request: FastifyRequest,
  reply: FastifyReply,
  requestType: RequestType,
  model: string,
  allowDirectKeys = false,
): GatewayContext {
  const cancellation = new Cancellation()
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) cancellation.abort()
  })
  const incoming = request.headers['x-request-id']
  const ctx = createContext({
    // The caller's id is not unique: it is kept beside ours, never as the log entry's id.
    requestId: timeOrderedId(),
    requestType,
    signal: cancellation,
    headers: request.headers,
    modelRequested: model,
    startNs: arrivalOf(request.raw),
  })
  if (typeof incoming === 'string' && incoming !== '' && incoming.length <= 128)
    ctx.clientRequestId = incoming
  ctx.route = request.routeOptions.url
  ctx.input = request.body
  if (allowDirectKeys) ctx.directKey = directKeyOf(request.headers)
  request.errorContext = { model, requestType }
  return ctx
}

/** Bifrost's response headers, plus our own overhead. */
export function responseHeaders(
  ctx: GatewayContext,
  upstream: Record<string, string> | undefined,
): Record<string, string> {
  const h: Record<string, string> = {
    ...upstream,
    ...ctx.responseHeaders,
    'x-request-id': ctx.clientRequestId ?? ctx.requestId,
  }
  if (ctx.provider) h['x-bifrost-provider'] = ctx.provider
  h['x-bifrost-original-model'] = ctx.modelRequested
  if (ctx.model) h['x-bifrost-resolved-model'] = ctx.model
  if (ctx.fallbackIndex > 0) h['x-bifrost-fallback-index'] = String(ctx.fallbackIndex)
  routingInfoHeaders(ctx, h)
  if (ctx.upstreamLatencyMs !== undefined)
    h['x-bifrost-upstream-latency-ms'] = ctx.upstreamLatencyMs.toFixed(0)
  h['x-heimdall-overhead-ms'] = overheadMs(ctx)
  return h
}

/** The gateway's own time so far (arrival to now, less the waits on providers and the client), in ms. */
export function overheadMs(ctx: GatewayContext): string {
  return (Number(overheadNs(ctx)) / 1e6).toFixed(3)
}

/** Sends a request's error with what the gateway learnt of it (provider, model, request type). */
export function failed(
  request: FastifyRequest,
  reply: FastifyReply,
  ctx: GatewayContext,
  err: unknown,
): FastifyReply {
  request.errorContext = { provider: ctx.provider, model: ctx.modelRequested, requestType: ctx.requestType }
  reply.header('x-heimdall-overhead-ms', overheadMs(ctx))
  return sendError(reply, request, err)
}

export function sendJson<T>(reply: FastifyReply, ctx: GatewayContext, result: JsonResult<T>): FastifyReply {
  const text = result.raw ?? JSON.stringify(result.body)
  // A raw body is the provider's, byte for byte: its lazily parsed `body` is not read for this.
  const extra = carriesExtraFields(ctx) && (result.raw !== undefined || !hasOwnExtraFields(result.body))
  return reply
    .headers(responseHeaders(ctx, result.headers))
    .type('application/json; charset=utf-8')
    .send(extra ? withExtraFields(text, ctx) : text)
}

/** Answers that already say their own `extra_fields` (count tokens, batch results). */
function hasOwnExtraFields(body: unknown): boolean {
  return body !== null && typeof body === 'object' && 'extra_fields' in body
}

/** A chat (or text-completion) stream item as the caller should see it: its frame bytes, or its data text. */
function chatFrame(item: ChatStreamItem, includeUsage: boolean): string | Buffer | undefined {
  if (item.frames) return item.frames
  if (item.usageOnly && !includeUsage) return undefined
  if (item.usage && !item.usageOnly && !includeUsage) {
    const chunk: ChatChunk = item.chunk ?? (JSON.parse(item.data!) as ChatChunk)
    const { usage: _usage, ...rest } = chunk
    return JSON.stringify(rest)
  }
  return item.data ?? JSON.stringify(item.chunk)
}

/** Relays a chat-shaped stream as OpenAI's SSE; an error after the first byte ends it with an error event and no [DONE]. */
export async function relayChatStream(
  reply: FastifyReply,
  ctx: GatewayContext,
  result: StreamResult<ChatStreamItem>,
  includeUsage: boolean,
): Promise<void> {
  const extra = carriesExtraFields(ctx) ? new StreamExtraFields(ctx) : undefined
  await relaySse(reply, ctx, responseHeaders(ctx, result.headers), result.items, {
    frames(item) {
      const data = chatFrame(item, includeUsage)
      if (data === undefined) return undefined
      if (typeof data === 'string')
        return `data: ${extra ? extra.chunk(data, item.usage !== undefined) : data}\n\n`
      return extra ? extra.frames(item.latin1 ?? data.toString('latin1')) : data
    },
    closing: () => 'data: [DONE]\n\n',
    failure: (e) =>
      `data: ${JSON.stringify(toErrorBody(e, { provider: ctx.provider, model: ctx.modelRequested, requestType: ctx.requestType }))}\n\n`,
  })
}

async function relayResponsesStream(
  reply: FastifyReply,
  ctx: GatewayContext,
  result: StreamResult<ResponsesStreamItem>,
): Promise<void> {
  const extra = carriesExtraFields(ctx) ? new StreamExtraFields(ctx) : undefined
  // The error event needs the next sequence number: the SDKs' schemas require one.
  let sequence = 0
  await relaySse(reply, ctx, responseHeaders(ctx, result.headers), result.items, {
    frames(item) {
      const n = item.event.sequence_number
      sequence = (typeof n === 'number' ? n : sequence) + 1
      const json = JSON.stringify(item.event)
      const last = item.event.type === 'response.completed'
      return `event: ${item.event.type}\ndata: ${extra ? extra.chunk(json, last) : json}\n\n`
    },
    failure: (e) =>
      `event: error\ndata: ${JSON.stringify({ type: 'error', code: e.upstreamCode ?? e.code, message: e.message, param: e.param ?? null, sequence_number: sequence })}\n\n`,
  })
}

export type InferenceHandler = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>

/** The handlers of the OpenAI-format routes, for routes that reach them another way (Azure deployment paths). */
export interface InferenceHandlers {
  chat: InferenceHandler
  completions: InferenceHandler
  responses: InferenceHandler
  embeddings: InferenceHandler
  models: InferenceHandler
}

function wantsUsage(body: { stream_options?: { include_usage?: boolean } | null }): boolean {
  return body.stream_options?.include_usage === true
}

/**
 * The OpenAI-format inference routes under `prefix`: `/v1` here, and the drop-in aliases
 * (`/openai/v1`, `/openai`, `/litellm/v1` ...) registered by the integrations with the same handlers.
 */
export function registerInferenceRoutes(
  app: FastifyInstance,
  { gateway, allowDirectKeys = () => false, mcpAgent }: InferenceDeps,
  prefix = '/v1',
): InferenceHandlers {
  const handlers = {} as InferenceHandlers
  const begin = (request: FastifyRequest, reply: FastifyReply, type: RequestType, model: string) => {
    const ctx = beginRequest(request, reply, type, model, allowDirectKeys())
    // Agent mode's tool results may carry login links, made absolute on this origin.
    if (mcpAgent) ctx.facts.requestOrigin = requestOrigin(request)
    return ctx
  }

  app.post(
    `${prefix}/chat/completions`,
    (handlers.chat = async (request, reply) => {
      const body = validateChat(request.body)
      const stream = body.stream === true
      const ctx = begin(request, reply, stream ? 'chat_completion_stream' : 'chat_completion', body.model)
      ctx.passthrough = true
      try {
        if (stream) {
          const items = mcpAgent
            ? await chatStreamWithMcpAgent(gateway, ctx, body, mcpAgent)
            : await gateway.chatStream(ctx, body)
          return await relayChatStream(reply, ctx, items, wantsUsage(body))
        }
        if (mcpAgent) {
          const done = await chatWithMcpAgent(gateway, ctx, body, mcpAgent)
          return sendJson(reply, done.ctx, done.result)
        }
        return sendJson(reply, ctx, await gateway.chat(ctx, body))
      } catch (err) {
        return failed(request, reply, ctx, err)
      }
    }),
  )

  app.post(
    `${prefix}/completions`,
    (handlers.completions = async (request, reply) => {
      const body = validateCompletion(request.body)
      const stream = body.stream === true
      const ctx = begin(request, reply, stream ? 'text_completion_stream' : 'text_completion', body.model)
      ctx.passthrough = true
      try {
        if (stream)
          return await relayChatStream(
            reply,
            ctx,
            await gateway.textCompletionStream(ctx, body),
            wantsUsage(body),
          )
        return sendJson(reply, ctx, await gateway.textCompletion(ctx, body))
      } catch (err) {
        return failed(request, reply, ctx, err)
      }
    }),
  )

  app.post(
    `${prefix}/responses`,
    (handlers.responses = async (request, reply) => {
      const body = validateResponses(request.body)
      const stream = body.stream === true
      const ctx = begin(request, reply, stream ? 'responses_stream' : 'responses', body.model)
      try {
        if (stream) {
          const items = mcpAgent
            ? await responsesStreamWithMcpAgent(gateway, ctx, body, mcpAgent)
            : await gateway.responsesStream(ctx, body)
          return await relayResponsesStream(reply, ctx, items)
        }
        if (mcpAgent) {
          const done = await responsesWithMcpAgent(gateway, ctx, body, mcpAgent)
          return sendJson(reply, done.ctx, done.result)
        }
        return sendJson(reply, ctx, await gateway.responses(ctx, body))
      } catch (err) {
        return failed(request, reply, ctx, err)
      }
    }),
  )

  app.post(
    `${prefix}/embeddings`,
    (handlers.embeddings = async (request, reply) => {
      const body = validateEmbedding(request.body)
      const ctx = begin(request, reply, 'embedding', body.model)
      try {
        return sendJson(reply, ctx, await gateway.embeddings(ctx, body))
      } catch (err) {
        return failed(request, reply, ctx, err)
      }
    }),
  )

  app.get(
    `${prefix}/models`,
    (handlers.models = async (request, reply) => {
      const ctx = begin(request, reply, 'list_models', '')
      const provider = (request.query as { provider?: string }).provider
      const data = await gateway.listModels(ctx, provider)
      reply.header('x-heimdall-overhead-ms', overheadMs(ctx))
      const text = JSON.stringify({ object: 'list', data })
      return reply
        .type('application/json; charset=utf-8')
        .send(carriesExtraFields(ctx) ? withExtraFields(text, ctx) : text)
    }),
  )
  return handlers
}
