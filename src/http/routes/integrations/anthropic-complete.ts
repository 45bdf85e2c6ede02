import type { FastifyReply, FastifyRequest } from 'fastify'
import {
  chatToCompletion,
  completeToMessages,
  readModelPaging,
  toAnthropicModelPage,
  translateChatToCompletionStream,
  validateCompleteBody,
} from '../../../integrations/index.js'
import { beginRequest, overheadMs } from '../inference.js'
import { answerChat, sendAnthropicError } from './anthropic.js'
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
  // The body keeps the prompt's `stream`, so it streams when the caller asked.
  const body = completeToMessages(given)
  return answerChat(deps, request, reply, body, ['text_completion', 'text_completion_stream'], {
    json: (answer) => chatToCompletion(answer, given.model),
    preamble: 'event: ping\ndata: {"type": "ping"}\n\n',
    frames: async function* (items) {
      for await (const event of translateChatToCompletionStream(items, given.model))
        yield `event: completion\ndata: ${JSON.stringify(event)}\n\n`
    },
  })
}
