import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { GatewayContext } from '../../../core/context.js'
import {
  CohereStreamWriter,
  cohereThinkingToEffort,
  parseCohereChat,
  parseCohereEmbed,
  parseCohereRerank,
  parseCohereTokenize,
  sseFrame,
  standInCallSignatures,
  toCohereChatResponse,
  toCohereEmbedResponse,
  toCohereError,
  toCohereRerankResponse,
} from '../../../integrations/index.js'
import type { ChatRequest } from '../../../core/schemas/index.js'
import { estimateTokens } from '../../../governance/index.js'
import { cohereTokenize } from '../../../providers/index.js'
import type {
  ChatStreamItem,
  JsonResult,
  ProviderAdapter,
  StreamResult,
} from '../../../core/provider-adapter.js'
import { relaySse } from '../../sse.js'
import { beginRequest, responseHeaders } from '../inference.js'
import { checkRerank, runRerank } from '../rerank.js'
import { setErrorHeaders, toGatewayError } from '../../errors.js'
import type { IntegrationDeps } from './index.js'

/** A model without a provider prefix is Cohere's, as the SDK sends it. */
const DEFAULT_PROVIDER = 'cohere'

/**
 * The request as one target should see it: Cohere's `thinking` goes only to Cohere (Anthropic
 * would read it as its own and refuse it); another target gets it as reasoning_effort.
 */
function forTarget(req: ChatRequest, adapter: ProviderAdapter, model: string): ChatRequest {
  if (adapter.format === 'cohere') return req
  const { thinking, ...rest } = req as ChatRequest & { thinking?: unknown }
  const effort = cohereThinkingToEffort(thinking)
  const out: ChatRequest =
    effort && rest.reasoning_effort == null ? { ...rest, reasoning_effort: effort } : rest
  // Cohere's tool calls have no place for Gemini's signature: Gemini gets Google's stand-in.
  const geminiTarget = adapter.format === 'gemini' || adapter.format === 'vertex'
  return geminiTarget ? standInCallSignatures(out, model) : out
}

/**
 * `/cohere/v2/chat` (streamed too), `/cohere/v2/embed`, `/cohere/v2/rerank` and `/cohere/v1/tokenize`: Cohere's v2 API
 * for the Cohere SDKs, routed to any configured provider and governed like `/v1`. Errors leave in
 * Cohere's shape (`{id, message}`) with the status the SDK maps to its error classes.
 */
export function registerCohereIntegration(app: FastifyInstance, deps: IntegrationDeps): void {
  const { gateway } = deps
  app.register(async (scope) => {
    scope.setErrorHandler((error, request, reply) => sendCohereError(reply, request, undefined, error))

    scope.post('/cohere/v2/chat', async (request, reply) => {
      const body = parseCohereChat(request.body)
      const stream = body.stream === true
      const ctx = begin(request, reply, stream ? 'chat_completion_stream' : 'chat_completion', body.model)
      try {
        if (stream) {
          const result = await gateway.streamOperation(ctx, body, DEFAULT_PROVIDER, (adapter, a) =>
            adapter.chatStream(a, forTarget(body, adapter, a.model)),
          )
          return await relay(reply, ctx, result)
        }
        const result = await gateway.operation(ctx, body, DEFAULT_PROVIDER, (adapter, a) =>
          adapter.chat(a, forTarget(body, adapter, a.model)),
        )
        return send(reply, ctx, toCohereChatResponse(result.body), result.headers)
      } catch (err) {
        return sendCohereError(reply, request, ctx, err)
      }
    })

    scope.post('/cohere/v2/embed', async (request, reply) => {
      const { request: body, types } = parseCohereEmbed(request.body)
      const ctx = begin(request, reply, 'embedding', body.model)
      try {
        const result = await gateway.embeddings(ctx, body, DEFAULT_PROVIDER)
        return send(
          reply,
          ctx,
          toCohereEmbedResponse(result.body, body.input as string[], types),
          result.headers,
        )
      } catch (err) {
        return sendCohereError(reply, request, ctx, err)
      }
    })

    scope.post('/cohere/v2/rerank', async (request, reply) => {
      const body = checkRerank(parseCohereRerank(request.body))
      const ctx = begin(request, reply, 'rerank', body.model)
      try {
        const result = await runRerank(gateway, ctx, body, DEFAULT_PROVIDER)
        return send(reply, ctx, toCohereRerankResponse(result.body), result.headers)
      } catch (err) {
        return sendCohereError(reply, request, ctx, err)
      }
    })

    // Cohere's own tokenizer for a Cohere model; for another provider's, its count (Bifrost's shape),
    // counted by the provider where it can (Anthropic, Gemini), else estimated.
    scope.post('/cohere/v1/tokenize', async (request, reply) => {
      const body = parseCohereTokenize(request.body)
      const ctx = begin(request, reply, 'count_tokens', body.model)
      const prompt: ChatRequest = { model: body.model, messages: [{ role: 'user', content: body.text }] }
      try {
        const result = await gateway.operation<JsonResult<unknown>>(
          ctx,
          body,
          DEFAULT_PROVIDER,
          (adapter, a) => {
            if (adapter.format === 'cohere') return cohereTokenize(a, body.text)
            const counted = adapter.countTokens
              ? adapter.countTokens(a, prompt)
              : Promise.resolve({ body: { input_tokens: estimateTokens(prompt).prompt } })
            return counted.then((r) => ({
              ...r,
              raw: undefined,
              body: {
                object: 'response.input_tokens',
                model: a.model,
                input_tokens: r.body.input_tokens,
                total_tokens: r.body.input_tokens,
                // Empty, so that Cohere's SDK still reads the answer: only Cohere's tokenizer names tokens.
                tokens: [],
                token_strings: [],
              },
            }))
          },
        )
        return send(reply, ctx, result.body, result.headers)
      } catch (err) {
        return sendCohereError(reply, request, ctx, err)
      }
    })
  })

  function begin(
    request: FastifyRequest,
    reply: FastifyReply,
    type: Parameters<typeof beginRequest>[2],
    model: string,
  ) {
    const ctx = beginRequest(request, reply, type, model, deps.allowDirectKeys())
    // Translated chunk by chunk into Cohere's events: no raw OpenAI frames.
    ctx.passthrough = false
    return ctx
  }
}

function send(
  reply: FastifyReply,
  ctx: GatewayContext,
  body: unknown,
  upstream: Record<string, string> | undefined,
): FastifyReply {
  return reply
    .headers(responseHeaders(ctx, upstream))
    .type('application/json; charset=utf-8')
    .send(JSON.stringify(body))
}

async function relay(
  reply: FastifyReply,
  ctx: GatewayContext,
  result: StreamResult<ChatStreamItem>,
): Promise<void> {
  const writer = new CohereStreamWriter(ctx.requestId)
  await relaySse(reply, ctx, responseHeaders(ctx, result.headers), result.items, {
    frames: (item) => writer.push(item).map(sseFrame),
    closing: () => writer.end().map(sseFrame).join(''),
    failure: (e) => sseFrame(writer.fail(e.message)),
  })
}

/** Any failure as Cohere's error body, with the gateway's status (the SDK picks its error class by it). */
function sendCohereError(
  reply: FastifyReply,
  request: FastifyRequest,
  ctx: GatewayContext | undefined,
  error: unknown,
): FastifyReply {
  const err = toGatewayError(error)
  if (err.code === 'internal') request.log.error({ err: error }, 'internal error')
  setErrorHeaders(reply, err)
  const incoming = request.headers['x-request-id']
  const id = ctx?.requestId ?? (typeof incoming === 'string' && incoming ? incoming : randomUUID())
  return reply
    .code(err.status)
    .header('x-request-id', id)
    .type('application/json; charset=utf-8')
    .send(JSON.stringify(toCohereError(err, id)))
}
