import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { responsesRequestToChat } from '../../core/convert/index.js'
import { GatewayError } from '../../core/errors.js'
import type { Gateway } from '../../core/gateway.js'
import {
  CountTokensRequestSchema,
  type CountTokensRequest,
  type CountTokensResponse,
} from '../../core/schemas/files.js'
import type { ChatRequest, ResponsesRequest } from '../../core/schemas/index.js'
import { estimateTokens } from '../../governance/index.js'
import type { JsonResult } from '../../core/provider-adapter.js'
import { compileValidator } from '../validate.js'
import { beginRequest, failed, responseHeaders } from './inference.js'

const validateCountTokens = compileValidator(CountTokensRequestSchema)

/** The prompt as a chat request: `input` (OpenAI's field) or `messages` (Bifrost's), with instructions and tools. */
function promptOf(body: CountTokensRequest): ChatRequest {
  const { messages, ...rest } = body
  const input = body.input ?? messages
  if (input === undefined) {
    throw new GatewayError('invalid_request', 'input (or messages) is required for count tokens', {
      param: 'input',
    })
  }
  return responsesRequestToChat({ ...rest, input } as ResponsesRequest)
}

/**
 * `POST {prefix}/count_tokens` and `{prefix}/responses/input_tokens`: the prompt's input tokens as the
 * target provider counts them (Anthropic, Gemini); for a provider without a counting endpoint an
 * estimate, said so in `x-heimdall-token-count`. Answers in Bifrost's count-tokens shape, whose
 * `object` and `input_tokens` are also OpenAI's.
 */
export function registerCountTokensRoutes(
  app: FastifyInstance,
  deps: { gateway: Gateway; allowDirectKeys: () => boolean },
  prefix = '/v1',
): void {
  const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const body = validateCountTokens(request.body)
    const prompt = promptOf(body)
    const ctx = beginRequest(request, reply, 'count_tokens', body.model, deps.allowDirectKeys())
    let how = 'provider'
    try {
      const result = await deps.gateway.operation(ctx, body, undefined, (adapter, a) => {
        if (adapter.countTokens) return adapter.countTokens(a, prompt)
        how = 'estimated'
        return Promise.resolve<JsonResult<{ input_tokens: number }>>({
          body: { input_tokens: estimateTokens(prompt).prompt },
        })
      })
      const tokens = result.body.input_tokens
      const answer: CountTokensResponse = {
        object: 'response.input_tokens',
        model: ctx.model ?? body.model,
        input_tokens: tokens,
        total_tokens: tokens,
        tokens: [],
        extra_fields: {
          request_type: 'count_tokens',
          provider: ctx.provider,
          model_requested: body.model,
          ...(ctx.upstreamLatencyMs !== undefined && { latency: Math.round(ctx.upstreamLatencyMs) }),
        },
      }
      return reply
        .headers(responseHeaders(ctx, result.headers))
        .header('x-heimdall-token-count', how)
        .type('application/json; charset=utf-8')
        .send(JSON.stringify(answer))
    } catch (err) {
      return failed(request, reply, ctx, err)
    }
  }
  app.post(`${prefix}/count_tokens`, handler)
  app.post(`${prefix}/responses/input_tokens`, handler)
}
