import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { GatewayContext } from '../../../core/context.js'
import { GatewayError } from '../../../core/errors.js'
import { setErrorHeaders } from '../../errors.js'
import type { ChatRequest, EmbeddingResponse } from '../../../core/schemas/index.js'
import {
  chatToGenerateContent,
  estimatePromptTokens,
  GEMINI_ONLY_FIELDS,
  genaiThinkingToEffort,
  genaiToChat,
  genaiToEmbedding,
  toGenAIError,
  translateChatToGenAIStream,
  validateGenerateContentBody,
} from '../../../integrations/index.js'
import type { JsonResult, ProviderAdapter } from '../../../core/provider-adapter.js'
import { relaySse } from '../../sse.js'
import { beginRequest, overheadMs, responseHeaders } from '../inference.js'
import { defaultProviderFor, nativeError } from './anthropic.js'
import { registerGenAIFileRoutes } from './genai-files.js'
import { registerGenAIModelRoutes } from './genai-models.js'
import { predict } from './genai-predict.js'
import type { DropInDeps, IntegrationDeps } from './index.js'

/** The request as one target should see it: Gemini's own settings leave for other wire formats. */
function forTarget(
  req: ChatRequest,
  adapter: ProviderAdapter,
  effort: string | undefined,
  topK?: number,
): ChatRequest {
  if (adapter.format === 'gemini') return req
  const copy: Record<string, unknown> = { ...req }
  for (const k of GEMINI_ONLY_FIELDS) delete copy[k]
  if (effort && effort !== 'none' && copy.reasoning_effort === undefined) copy.reasoning_effort = effort
  if (topK !== undefined && adapter.format === 'anthropic') copy.top_k = topK
  return copy as ChatRequest
}

function sendGenAIError(reply: FastifyReply, err: unknown, ctx?: GatewayContext): FastifyReply {
  const e = nativeError(err)
  setErrorHeaders(reply, e)
  if (ctx) reply.header('x-request-id', ctx.requestId).header('x-heimdall-overhead-ms', overheadMs(ctx))
  return reply
    .code(e.status)
    .type('application/json; charset=utf-8')
    .send(JSON.stringify(toGenAIError(e)))
}

/**
 * `models/{model}:{method}`: the model may itself hold slashes (`openai/gpt-4o`). The router has
 * decoded the path once; a `%` left over (a second encoding), a backslash or a control character
 * names no model and is refused rather than sent upstream.
 */
function modelAndMethod(request: FastifyRequest): { model: string; method: string } {
  const rest = (request.params as { '*': string })['*'] ?? ''
  const colon = rest.lastIndexOf(':')
  if (colon <= 0)
    throw new GatewayError('route_not_found', `no method in models/${rest}; expected {model}:{method}`)
  const model = rest.slice(0, colon)
  if (/[%\\\u0000-\u001f\u007f]/.test(model))
    throw new GatewayError(
      'invalid_request',
      'the model name in the path holds %, \\ or control characters',
      {
        param: 'model',
        retryable: false,
      },
    )
  return { model, method: rest.slice(colon + 1) }
}

/**
 * Google's GenAI (Gemini API) under `/genai`: the `@google/genai` SDK works unchanged, while the
 * model may be any provider's (`anthropic/claude-...`, or a bare `gemini-...` for Gemini itself).
 */
export function registerGenAIIntegration(app: FastifyInstance, deps: DropInDeps): void {
  void app.register(async (scope) => {
    scope.setErrorHandler((err, _request, reply) => sendGenAIError(reply, err))
    for (const version of ['v1beta', 'v1'])
      scope.post(`/genai/${version}/models/*`, async (request, reply) => {
        const { model, method } = modelAndMethod(request)
        switch (method) {
          case 'generateContent':
            return generate(deps, request, reply, model, false)
          case 'streamGenerateContent':
            return generate(deps, request, reply, model, true)
          case 'embedContent':
          case 'batchEmbedContents':
            return embed(deps, request, reply, model, method === 'batchEmbedContents')
          case 'countTokens':
            return countTokens(deps, request, reply, model)
          case 'predict':
            return predict(deps, request, reply, model, sendGenAIError)
        }
        throw new GatewayError('route_not_found', `models/${model}:${method} is not served`)
      })
    registerGenAIModelRoutes(scope, deps, '/genai')
    registerGenAIFileRoutes(scope, deps, '/genai', sendGenAIError)
  })
}

async function generate(
  deps: IntegrationDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  model: string,
  stream: boolean,
): Promise<unknown> {
  const body = validateGenerateContentBody(request.body)
  const ctx = beginRequest(
    request,
    reply,
    stream ? 'chat_completion_stream' : 'chat_completion',
    model,
    deps.allowDirectKeys(),
  )
  ctx.passthrough = false
  const req = genaiToChat(body, model, true)
  const gc = body.generationConfig ?? {}
  const effort = genaiThinkingToEffort(gc.thinkingConfig)
  const topK = typeof gc.topK === 'number' ? gc.topK : undefined
  const provider = defaultProviderFor(deps, model, 'gemini')
  try {
    if (!stream) {
      const result = await deps.gateway.operation(ctx, req, provider, (adapter, a) =>
        adapter.chat(a, forTarget(req, adapter, effort, topK)),
      )
      return reply
        .headers(responseHeaders(ctx, result.headers))
        .type('application/json; charset=utf-8')
        .send(JSON.stringify(chatToGenerateContent(result.body, model)))
    }
    const result = await deps.gateway.streamOperation(ctx, req, provider, (adapter, a) =>
      adapter.chatStream(
        { ...a, passthrough: false },
        forTarget({ ...req, stream: true }, adapter, effort, topK),
      ),
    )
    await relaySse(
      reply,
      ctx,
      responseHeaders(ctx, result.headers),
      translateChatToGenAIStream(result.items, model),
      {
        frames: (res) => `data: ${JSON.stringify(res)}\r\n\r\n`,
        // After the first byte the status is sent: the failure travels as a Google error object.
        failure: (e) => `data: ${JSON.stringify(toGenAIError(e))}\r\n\r\n`,
      },
    )
    return reply
  } catch (err) {
    return sendGenAIError(reply, err, ctx)
  }
}

async function embed(
  deps: IntegrationDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  model: string,
  batch: boolean,
): Promise<unknown> {
  const req = genaiToEmbedding(request.body, model)
  const ctx = beginRequest(request, reply, 'embedding', model, deps.allowDirectKeys())
  try {
    const result = await deps.gateway.embeddings(ctx, req, defaultProviderFor(deps, model, 'gemini'))
    const values = (result.body as EmbeddingResponse).data.map((d) => ({
      values: typeof d.embedding === 'string' ? [] : d.embedding,
    }))
    return reply
      .headers(responseHeaders(ctx, result.headers))
      .type('application/json; charset=utf-8')
      .send(JSON.stringify(batch ? { embeddings: values } : { embedding: values[0] }))
  } catch (err) {
    return sendGenAIError(reply, err, ctx)
  }
}

/**
 * The prompt's tokens as the target provider counts them (Gemini's countTokens, Anthropic's
 * count_tokens); for a provider without such an endpoint, an estimate, said so in a header.
 */
async function countTokens(
  deps: IntegrationDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  model: string,
): Promise<unknown> {
  const given = request.body as Record<string, unknown> | null
  const inner = given && typeof given === 'object' ? (given.generateContentRequest ?? given) : given
  const body = validateGenerateContentBody(inner)
  const ctx = beginRequest(request, reply, 'count_tokens', model, deps.allowDirectKeys())
  const req = genaiToChat(body, model, true)
  const effort = genaiThinkingToEffort(body.generationConfig?.thinkingConfig)
  let how = 'provider'
  try {
    const result = await deps.gateway.operation(
      ctx,
      req,
      defaultProviderFor(deps, model, 'gemini'),
      (adapter, a) => {
        if (adapter.countTokens) return adapter.countTokens(a, forTarget(req, adapter, effort))
        how = 'estimated'
        const { model: _model, ...prompt } = body as Record<string, unknown>
        return Promise.resolve<JsonResult<{ input_tokens: number }>>({
          body: { input_tokens: estimatePromptTokens(prompt) },
        })
      },
    )
    return reply
      .headers(responseHeaders(ctx, result.headers))
      .header('x-heimdall-token-count', how)
      .type('application/json; charset=utf-8')
      .send(JSON.stringify({ totalTokens: result.body.input_tokens }))
  } catch (err) {
    return sendGenAIError(reply, err, ctx)
  }
}
