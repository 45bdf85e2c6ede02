import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { GatewayContext } from '../../../core/context.js'
import { asGatewayError, GatewayError, type RequestType } from '../../../core/errors.js'
import { setErrorHeaders } from '../../errors.js'
import type { ChatRequest, ChatResponse } from '../../../core/schemas/index.js'
import {
  anthropicToChat,
  chatToAnthropicMessage,
  estimatePromptTokens,
  standInCallSignatures,
  thinkingToEffort,
  toAnthropicError,
  translateChatToAnthropicStream,
  validateMessagesBody,
} from '../../../integrations/index.js'
import type { ChatStreamItem, JsonResult, ProviderAdapter } from '../../../core/provider-adapter.js'
import { relaySse } from '../../sse.js'
import { beginRequest, overheadMs, responseHeaders } from '../inference.js'
import { complete, listAnthropicModels } from './anthropic-complete.js'
import { registerAnthropicObjectRoutes } from './anthropic-objects.js'
import type { DropInDeps, IntegrationDeps } from './index.js'

/** Fields only Anthropic reads; another target gets reasoning_effort instead of `thinking`. */
const ANTHROPIC_FIELDS = [
  'thinking',
  'container',
  'mcp_servers',
  'context_management',
  'output_config',
  'output_format',
  'service_tier',
]

/** The request as one target should see it: Anthropic-only fields leave for other wire formats. */
export function forTarget(
  req: ChatRequest,
  adapter: ProviderAdapter,
  effort: string | undefined,
  model: string,
): ChatRequest {
  if (adapter.format === 'anthropic') return req
  const copy: Record<string, unknown> = { ...req }
  for (const k of ANTHROPIC_FIELDS) delete copy[k]
  if (adapter.format !== 'gemini') delete copy.top_k
  if (effort && copy.reasoning_effort === undefined) copy.reasoning_effort = effort
  // tool_use has no place for Gemini's signature on a call: Gemini gets Google's stand-in.
  const geminiTarget = adapter.format === 'gemini' || adapter.format === 'vertex'
  return geminiTarget ? standInCallSignatures(copy as ChatRequest, model) : (copy as ChatRequest)
}

/** A request's target when the model names no provider: the provider whose keys list it, else Anthropic. */
export function defaultProviderFor(deps: IntegrationDeps, model: string, fallback: string): string {
  if (model.includes('/')) return fallback
  return deps.gateway.lookup.providersListing(model)[0] ?? fallback
}

/** Any error as the gateway's: Fastify's own (bad JSON, body too large) keep their 4xx status. */
export function nativeError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err
  const f = err as FastifyError
  if (f && typeof f.statusCode === 'number' && f.statusCode >= 400 && f.statusCode < 500)
    return new GatewayError(f.statusCode === 413 ? 'body_too_large' : 'invalid_request', f.message, {
      status: f.statusCode,
    })
  return asGatewayError(err)
}

export function sendAnthropicError(reply: FastifyReply, err: unknown, ctx?: GatewayContext): FastifyReply {
  const e = nativeError(err)
  setErrorHeaders(reply, e)
  if (ctx)
    reply
      .header('x-request-id', ctx.clientRequestId ?? ctx.requestId)
      .header('x-heimdall-overhead-ms', overheadMs(ctx))
  return reply
    .code(e.status)
    .type('application/json; charset=utf-8')
    .send(JSON.stringify(toAnthropicError(e)))
}

/**
 * Anthropic's Messages API under `/anthropic`: the Anthropic SDK works unchanged, while the model
 * may be any provider's (`openai/gpt-4o`, or a bare `claude-...` for Anthropic itself).
 */
export function registerAnthropicIntegration(app: FastifyInstance, deps: DropInDeps): void {
  void app.register(async (scope) => {
    scope.setErrorHandler((err, _request, reply) => sendAnthropicError(reply, err))
    scope.post('/anthropic/v1/messages', (request, reply) => messages(deps, request, reply))
    scope.post('/anthropic/v1/messages/count_tokens', (request, reply) => countTokens(deps, request, reply))
    scope.get('/anthropic/v1/models', (request, reply) => listAnthropicModels(deps, request, reply))
    scope.post('/anthropic/v1/complete', (request, reply) => complete(deps, request, reply))
    registerAnthropicObjectRoutes(scope, deps, '/anthropic')
  })
}

/**
 * The prompt's tokens as the target provider counts them (Anthropic's count_tokens, Gemini's
 * countTokens); for a provider without such an endpoint, an estimate, said so in a header.
 */
async function countTokens(
  deps: IntegrationDeps,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<unknown> {
  const given = request.body as Record<string, unknown> | null
  // count_tokens takes no max_tokens; the translation wants one.
  const body = validateMessagesBody(given && typeof given === 'object' ? { max_tokens: 1, ...given } : given)
  const ctx = beginRequest(request, reply, 'count_tokens', body.model, deps.allowDirectKeys())
  const req = anthropicToChat(body, true)
  const effort = thinkingToEffort(body.thinking)
  let how = 'provider'
  try {
    const result = await deps.gateway.operation(
      ctx,
      req,
      defaultProviderFor(deps, body.model, 'anthropic'),
      (adapter, a) => {
        if (adapter.countTokens) return adapter.countTokens(a, forTarget(req, adapter, effort, a.model))
        how = 'estimated'
        return Promise.resolve<JsonResult<{ input_tokens: number }>>({
          body: { input_tokens: estimatePromptTokens(given ?? {}) },
        })
      },
    )
    return reply
      .headers(responseHeaders(ctx, result.headers))
      .header('x-heimdall-token-count', how)
      .type('application/json; charset=utf-8')
      .send(JSON.stringify({ input_tokens: result.body.input_tokens }))
  } catch (err) {
    return sendAnthropicError(reply, err, ctx)
  }
}

async function messages(
  deps: IntegrationDeps,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<unknown> {
  const body = validateMessagesBody(request.body)
  return answerChat(deps, request, reply, body, ['chat_completion', 'chat_completion_stream'], {
    effort: thinkingToEffort(body.thinking),
    json: (answer) => chatToAnthropicMessage(answer, body.model),
    frames: async function* (items) {
      for await (const event of translateChatToAnthropicStream(items, body.model))
        yield `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`
    },
  })
}

/** How a chat answer leaves an Anthropic-format route: as JSON, or as SSE frames. */
export interface AnthropicAnswer {
  json(answer: ChatResponse): unknown
  frames(items: AsyncIterable<ChatStreamItem>): AsyncIterable<string>
  /** A frame sent before the first translated one. */
  preamble?: string
  /** The reasoning effort a target that does not speak Anthropic gets instead of `thinking`. */
  effort?: string
}

/**
 * A request from an Anthropic-format route, served as a chat by whichever provider the model names
 * (`types`: its request type, then its streamed one): the answer as JSON, or its stream framed by
 * `answer`; a failure after the first byte travels as Anthropic's `error` event, one before it as
 * Anthropic's error body.
 */
export async function answerChat(
  deps: IntegrationDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  body: Parameters<typeof anthropicToChat>[0],
  types: readonly [RequestType, RequestType],
  answer: AnthropicAnswer,
): Promise<FastifyReply> {
  const stream = body.stream === true
  const ctx = beginRequest(request, reply, types[stream ? 1 : 0], body.model, deps.allowDirectKeys())
  ctx.passthrough = false
  const req = anthropicToChat(body, true)
  const effort = answer.effort
  const provider = defaultProviderFor(deps, req.model, 'anthropic')
  try {
    if (!stream) {
      const result = await deps.gateway.operation(ctx, req, provider, (adapter, a) =>
        adapter.chat(a, forTarget(req, adapter, effort, a.model)),
      )
      return reply
        .headers(responseHeaders(ctx, result.headers))
        .type('application/json; charset=utf-8')
        .send(JSON.stringify(answer.json(result.body)))
    }
    const result = await deps.gateway.streamOperation(ctx, req, provider, (adapter, a) =>
      adapter.chatStream({ ...a, passthrough: false }, forTarget(req, adapter, effort, a.model)),
    )
    await relaySse(reply, ctx, responseHeaders(ctx, result.headers), answer.frames(result.items), {
      opening: answer.preamble,
      frames: (frame) => frame,
      // After the first byte the status is sent: the failure travels as Anthropic's `error` event.
      failure: (e) => `event: error\ndata: ${JSON.stringify(toAnthropicError(e))}\n\n`,
    })
    return reply
  } catch (err) {
    return sendAnthropicError(reply, err, ctx)
  }
}
