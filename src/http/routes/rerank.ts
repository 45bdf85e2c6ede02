import type { FastifyInstance } from 'fastify'
import type { GatewayContext } from '../../core/context.js'
import { GatewayError } from '../../core/errors.js'
import type { Gateway } from '../../core/gateway.js'
import {
  rerankDocument,
  RerankRequestSchema,
  type RerankRequest,
  type RerankResponse,
} from '../../core/schemas/index.js'
import type { JsonResult } from '../../core/provider-adapter.js'
import { compileValidator } from '../validate.js'
import { beginRequest, failed, sendJson } from './inference.js'

const validateRerank = compileValidator(RerankRequestSchema)

/** Bifrost's checks beyond the schema: a query and documents with text. */
export function checkRerank(body: RerankRequest): RerankRequest {
  if (!body.query.trim())
    throw new GatewayError('invalid_request', 'query is required for rerank', { param: 'query' })
  body.documents.forEach((d, i) => {
    if (!rerankDocument(d).text.trim()) {
      throw new GatewayError('invalid_request', `document text is required for rerank at index ${i}`, {
        param: `documents[${i}]`,
      })
    }
  })
  return body
}

/** Runs a rerank through the whole pipeline (governance, keys, retries, fallbacks, logs). */
export function runRerank(
  gateway: Gateway,
  ctx: GatewayContext,
  req: RerankRequest,
  defaultProvider?: string,
): Promise<JsonResult<RerankResponse>> {
  return gateway.operation(ctx, req, defaultProvider, (adapter, a, target) => {
    if (!adapter.rerank) {
      throw new GatewayError('unsupported_operation', `provider ${target.provider} does not serve rerank`, {
        retryable: false,
      })
    }
    return adapter.rerank(a, req)
  })
}

/** `POST /v1/rerank`: documents ordered by relevance to a query, in Bifrost's shape. */
export function registerRerankRoute(
  app: FastifyInstance,
  deps: { gateway: Gateway; allowDirectKeys: () => boolean },
  prefix = '/v1',
): void {
  app.post(`${prefix}/rerank`, async (request, reply) => {
    const body = checkRerank(validateRerank(request.body))
    const ctx = beginRequest(request, reply, 'rerank', body.model, deps.allowDirectKeys())
    try {
      return sendJson(reply, ctx, await runRerank(deps.gateway, ctx, body))
    } catch (err) {
      return failed(request, reply, ctx, err)
    }
  })
}
