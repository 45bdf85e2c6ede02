import type { FastifyReply, FastifyRequest } from 'fastify'
import type { GatewayContext } from '../../../core/context.js'
import { GatewayError } from '../../../core/errors.js'
import type { ImageGenerationRequest } from '../../../core/schemas/media.js'
import { beginRequest, responseHeaders } from '../inference.js'
import { defaultProviderFor } from './anthropic.js'
import type { IntegrationDeps } from './index.js'

/** Imagen's aspect ratios as OpenAI's sizes, which every image provider reads. */
const SIZES: Record<string, string> = {
  '1:1': '1024x1024',
  '3:4': '768x1024',
  '4:3': '1024x768',
  '9:16': '576x1024',
  '16:9': '1024x576',
}

function refuse(message: string, param: string): GatewayError {
  return new GatewayError('invalid_request', message, { param, retryable: false })
}

/**
 * Imagen's `:predict` body (`{instances: [{prompt}], parameters: {sampleCount, aspectRatio}}`) as
 * a unified image generation request, so any provider that generates images answers it.
 */
export function predictToImageRequest(body: unknown, model: string): ImageGenerationRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw refuse('the body must be a JSON object with instances', 'instances')
  const { instances, parameters } = body as { instances?: unknown; parameters?: unknown }
  if (!Array.isArray(instances) || instances.length !== 1)
    throw refuse('instances must hold exactly one {prompt}', 'instances')
  const prompt = (instances[0] as { prompt?: unknown } | null)?.prompt
  if (typeof prompt !== 'string' || prompt === '')
    throw refuse('instances[0].prompt must be a non-empty string', 'instances[0].prompt')
  const req: ImageGenerationRequest = { model, prompt, response_format: 'b64_json' }
  if (parameters !== undefined) {
    if (typeof parameters !== 'object' || parameters === null || Array.isArray(parameters))
      throw refuse('parameters must be an object', 'parameters')
    const { sampleCount, aspectRatio } = parameters as { sampleCount?: unknown; aspectRatio?: unknown }
    if (sampleCount !== undefined) {
      if (!Number.isInteger(sampleCount) || (sampleCount as number) < 1 || (sampleCount as number) > 10)
        throw refuse('parameters.sampleCount must be an integer from 1 to 10', 'parameters.sampleCount')
      req.n = sampleCount as number
    }
    if (aspectRatio !== undefined) {
      const size =
        typeof aspectRatio === 'string' && Object.hasOwn(SIZES, aspectRatio) ? SIZES[aspectRatio] : undefined
      if (!size)
        throw refuse(
          `parameters.aspectRatio must be one of ${Object.keys(SIZES).join(', ')}`,
          'parameters.aspectRatio',
        )
      req.size = size
    }
  }
  return req
}

/** `POST /genai/v1beta/models/{model}:predict`: Imagen's image generation, answered as `{predictions}`. */
export async function predict(
  deps: IntegrationDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  model: string,
  sendError: (reply: FastifyReply, err: unknown, ctx?: GatewayContext) => FastifyReply,
): Promise<unknown> {
  const req = predictToImageRequest(request.body, model)
  const ctx = beginRequest(request, reply, 'image_generation', model, deps.allowDirectKeys())
  try {
    const result = await deps.gateway.operation(
      ctx,
      req,
      defaultProviderFor(deps, model, 'gemini'),
      (adapter, a, t) => {
        if (!adapter.imageGeneration)
          throw new GatewayError(
            'unsupported_operation',
            `provider ${t.provider} does not serve image generation`,
            {
              retryable: false,
            },
          )
        return adapter.imageGeneration(a, req)
      },
    )
    const predictions = result.body.data
      .filter((d) => typeof d.b64_json === 'string')
      .map((d) => ({ bytesBase64Encoded: d.b64_json, mimeType: 'image/png' }))
    return reply
      .headers(responseHeaders(ctx, result.headers))
      .type('application/json; charset=utf-8')
      .send(JSON.stringify({ predictions }))
  } catch (err) {
    return sendError(reply, err, ctx)
  }
}
