import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { GatewayError } from '../../core/errors.js'
import type { GatewayContext } from '../../core/context.js'
import type { Gateway } from '../../core/gateway.js'
import {
  ImageGenerationRequestSchema,
  SpeechRequestSchema,
  type TranscriptionRequest,
} from '../../core/schemas/index.js'
import type { JsonResult, PayloadResult, ProviderAdapter } from '../../providers/types.js'
import { compileValidator } from '../validate.js'
import { beginRequest, failed, responseHeaders, sendJson } from './inference.js'

const validateImage = compileValidator(ImageGenerationRequestSchema)
const validateSpeech = compileValidator(SpeechRequestSchema)

export interface ModalityDeps {
  gateway: Gateway
  allowDirectKeys: () => boolean
}

export type ModalityHandler = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>

export interface ModalityHandlers {
  images: ModalityHandler
  speech: ModalityHandler
  transcription: ModalityHandler
}

/** A model the route itself names (an Azure deployment path), overriding the form's `model`. */
export const MODEL_OVERRIDE = Symbol('heimdall.modelOverride')

declare module 'fastify' {
  interface FastifyRequest {
    [MODEL_OVERRIDE]?: string
  }
}

/** Lets a scope take multipart bodies (audio uploads), kept as bytes until a route parses them. */
export function acceptMultipart(scope: FastifyInstance): void {
  scope.addContentTypeParser('multipart/form-data', { parseAs: 'buffer' }, (_req, body, done) =>
    done(null, body),
  )
}

/** The optional adapter operations these routes call, once the gateway picked provider, key and model. */
type MediaOp = 'imageGeneration' | 'speech' | 'transcription'

const OPERATION_NAMES: Record<MediaOp, string> = {
  imageGeneration: 'image generation',
  speech: 'speech',
  transcription: 'transcriptions',
}

function adapterOperation<K extends MediaOp>(
  adapter: ProviderAdapter,
  op: K,
  provider: string,
): NonNullable<ProviderAdapter[K]> {
  const fn = adapter[op]
  if (!fn) {
    throw new GatewayError(
      'unsupported_operation',
      `provider ${provider} does not serve ${OPERATION_NAMES[op]}`,
      {
        retryable: false,
      },
    )
  }
  return fn.bind(adapter) as NonNullable<ProviderAdapter[K]>
}

function sendResult(
  reply: FastifyReply,
  ctx: GatewayContext,
  result: JsonResult<unknown> | PayloadResult,
): FastifyReply {
  if ('payload' in result) {
    return reply.headers(responseHeaders(ctx, result.headers)).type(result.contentType).send(result.payload)
  }
  return sendJson(reply, ctx, result)
}

/** A multipart form as the web platform parses it; a broken form is the caller's mistake. */
async function parseForm(body: Buffer, contentType: string): Promise<FormData> {
  try {
    return await new Response(body, { headers: { 'content-type': contentType } }).formData()
  } catch {
    throw new GatewayError('invalid_request', 'the body is not valid multipart/form-data')
  }
}

function transcriptionRequest(form: FormData): TranscriptionRequest {
  const model = form.get('model')
  if (typeof model !== 'string' || !model) {
    throw new GatewayError(
      'model_required',
      'model is required, as "provider/model" (e.g. openai/whisper-1)',
      {
        param: 'model',
      },
    )
  }
  const file = form.get('file')
  if (!file || typeof file === 'string') {
    throw new GatewayError('invalid_request', 'file is required: the audio to transcribe, as a file field', {
      param: 'file',
    })
  }
  if (form.get('stream') === 'true') {
    throw new GatewayError('invalid_request', 'streamed transcriptions are not supported; omit stream', {
      param: 'stream',
    })
  }
  const format = form.get('response_format')
  const fallbacks = form.getAll('fallbacks').filter((f): f is string => typeof f === 'string' && f !== '')
  return {
    model,
    form,
    response_format: typeof format === 'string' && format ? format : 'json',
    ...(fallbacks.length > 0 && { fallbacks }),
  }
}

/** What the logs keep of a transcription request: its fields, and of the audio only its name and size. */
function describeForm(form: FormData): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [field, value] of form) {
    out[field] = typeof value === 'string' ? value : { name: value.name, type: value.type, bytes: value.size }
  }
  return out
}

/**
 * Image generation, speech and transcription in OpenAI's format under `prefix` (`/v1`, `/openai`,
 * `/openai/v1` ...), run through the gateway like every other request (governance, keys,
 * retries, fallbacks, logs) and passed to providers that serve them.
 */
export function registerModalityRoutes(
  app: FastifyInstance,
  deps: ModalityDeps,
  prefix: string,
): ModalityHandlers {
  const { gateway } = deps
  const handlers = {} as ModalityHandlers
  const begin = (
    request: FastifyRequest,
    reply: FastifyReply,
    type: GatewayContext['requestType'],
    model: string,
  ) => beginRequest(request, reply, type, model, deps.allowDirectKeys())

  app.post(
    `${prefix}/images/generations`,
    (handlers.images = async (request, reply) => {
      const body = validateImage(request.body)
      if ((body as { stream?: unknown }).stream === true) {
        throw new GatewayError('invalid_request', 'streamed image generation is not supported; omit stream', {
          param: 'stream',
        })
      }
      const ctx = begin(request, reply, 'image_generation', body.model)
      try {
        const result = await gateway.operation(ctx, body, undefined, (adapter, a, target) =>
          adapterOperation(adapter, 'imageGeneration', target.provider)(a, body),
        )
        return sendResult(reply, ctx, result)
      } catch (err) {
        return failed(request, reply, ctx, err)
      }
    }),
  )

  app.post(
    `${prefix}/audio/speech`,
    (handlers.speech = async (request, reply) => {
      const body = validateSpeech(request.body)
      if ((body as { stream_format?: unknown }).stream_format === 'sse') {
        throw new GatewayError('invalid_request', 'streamed speech (stream_format: sse) is not supported', {
          param: 'stream_format',
        })
      }
      const ctx = begin(request, reply, 'speech', body.model)
      try {
        const result = await gateway.operation(ctx, body, undefined, (adapter, a, target) =>
          adapterOperation(adapter, 'speech', target.provider)(a, body),
        )
        return sendResult(reply, ctx, result)
      } catch (err) {
        return failed(request, reply, ctx, err)
      }
    }),
  )

  // The audio arrives as multipart form data: parsed only on this route, in its own scope.
  handlers.transcription = async (request, reply) => {
    const contentType = request.headers['content-type'] ?? ''
    if (!contentType.startsWith('multipart/form-data') || !Buffer.isBuffer(request.body)) {
      throw new GatewayError('unsupported_media_type', 'send the audio as multipart/form-data')
    }
    const form = await parseForm(request.body, contentType)
    const override = request[MODEL_OVERRIDE]
    if (override) form.set('model', override)
    const req = transcriptionRequest(form)
    const ctx = begin(request, reply, 'transcription', req.model)
    ctx.input = describeForm(req.form)
    try {
      const result = await gateway.operation(ctx, req, undefined, (adapter, a, target) =>
        adapterOperation(adapter, 'transcription', target.provider)(a, req),
      )
      return sendResult(reply, ctx, result)
    } catch (err) {
      return failed(request, reply, ctx, err)
    }
  }
  app.register(async (scope) => {
    acceptMultipart(scope)
    scope.post(`${prefix}/audio/transcriptions`, handlers.transcription)
  })
  return handlers
}
