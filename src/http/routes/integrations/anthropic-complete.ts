import type { FastifyReply, FastifyRequest } from 'fastify'
import { asGatewayError } from '../../../core/errors.js'
import {
  anthropicToChat,
  chatToCompletion,
  completeToMessages,
  readModelPaging,
  toAnthropicError,
  toAnthropicModelPage,
  translateChatToCompletionStream,
  validateCompleteBody,
} from '../../../integrations/anthropic/index.js'
import { SseWriter } from '../../sse.js'
import { beginRequest, overheadMs, responseHeaders } from '../inference.js'
import { defaultProviderFor, forTarget, sendAnthropicError } from './anthropic.js'
import type { IntegrationDeps } from './index.js'

/** `GET /anthropic/v1/models`: the configured providers' models, in Anthropic's paged list. */
export async function listAnthropicModels(
  deps: IntegrationDeps,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<unknown> {
  const paging = readModelPaging(request.query as Record<string, unknown>)
  const ctx = beginRequest(request, reply, 'list_models', '', deps.allowDirectKeys())
  try {
    const models = await deps.gateway.listModels(ctx)
    return reply
      .header('x-heimdall-overhead-ms', overheadMs(ctx))
      .type('application/json; charset=utf-8')
      .send(JSON.stringify(toAnthropicModelPage(models, paging)))
  } catch (err) {
    return sendAnthropicError(reply, err, ctx)
  }
}

/**
 * `POST /anthropic/v1/complete`, Anthropic's legacy Text Completions: the prompt's Human and
 * Assistant turns go to any provider as a chat, and come back as `completion` objects or events.
 */
export async function complete(
  deps: IntegrationDeps,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<unknown> {
  const given = validateCompleteBody(request.body)
  const body = completeToMessages(given)
  const stream = given.stream === true
  const ctx = beginRequest(
    request,
    reply,
    stream ? 'text_completion_stream' : 'text_completion',
    body.model,
    deps.allowDirectKeys(),
  )
  ctx.passthrough = false
  const req = anthropicToChat(body, true)
  const provider = defaultProviderFor(deps, body.model, 'anthropic')
  try {
    if (!stream) {
      const result = await deps.gateway.operation(ctx, req, provider, (adapter, a) =>
        adapter.chat(a, forTarget(req, adapter, undefined, a.model)),
      )
      return reply
        .headers(responseHeaders(ctx, result.headers))
        .type('application/json; charset=utf-8')
        .send(JSON.stringify(chatToCompletion(result.body, given.model)))
    }
    const result = await deps.gateway.streamOperation(ctx, req, provider, (adapter, a) =>
      adapter.chatStream({ ...a, passthrough: false }, forTarget(req, adapter, undefined, a.model)),
    )
    const sse = new SseWriter(reply, responseHeaders(ctx, result.headers))
    try {
      if (!sse.write('event: ping\ndata: {"type": "ping"}\n\n')) await sse.drain()
      for await (const event of translateChatToCompletionStream(result.items, given.model)) {
        if (!sse.write(`event: completion\ndata: ${JSON.stringify(event)}\n\n`)) await sse.drain()
        if (sse.isClosed) break
      }
      sse.end()
    } catch (err) {
      sse.end(`event: error\ndata: ${JSON.stringify(toAnthropicError(asGatewayError(err)))}\n\n`)
    }
    return reply
  } catch (err) {
    return sendAnthropicError(reply, err, ctx)
  }
}
