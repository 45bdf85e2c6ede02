import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { GatewayError, type RequestType } from '../../core/errors.js'
import type { GatewayContext } from '../../core/context.js'
import type { Gateway } from '../../core/gateway.js'
import {
  ImageGenerationRequestSchema,
  SpeechRequestSchema,
  type ImageFormRequest,
  type TranscriptionRequest,
} from '../../core/schemas/index.js'
import type { Attempt, JsonResult, PayloadResult, ProviderAdapter } from '../../core/provider-adapter.js'
import { carriesExtraFields, StreamExtraFields } from '../extra-fields.js'
import { relaySse } from '../sse.js'
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
  imageEdit: ModalityHandler
  imageVariation: ModalityHandler
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

/** Lets a scope take multipart bodies (audio and image uploads), kept as bytes until a route parses them. */
export function acceptMultipart(scope: FastifyInstance): void {
  scope.addContentTypeParser('multipart/form-data', { parseAs: 'buffer' }, (_req, body, done) =>
    done(null, body),
  )
}

/** The optional adapter operations these routes call, once the gateway picked provider, key and model. */
type PlainOp = 'imageGeneration' | 'imageEdit' | 'imageVariation' | 'speech' | 'transcription'
type StreamedOp = 'imageGenerationStream' | 'imageEditStream' | 'speechStream'
type MediaOp = PlainOp | StreamedOp

const OPERATION_NAMES: Record<MediaOp, string> = {
  imageGeneration: 'image generation',
  imageGenerationStream: 'streamed image generation',
  imageEdit: 'image edits',
  imageEditStream: 'streamed image edits',
  imageVariation: 'image variations',
  speech: 'speech',
  speechStream: 'streamed speech',
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

/** A streamed image or speech answer as the adapters give it (OpenAI's events, each with its JSON text). */
type MediaEvents = Awaited<ReturnType<NonNullable<ProviderAdapter[StreamedOp]>>>

/**
 * Relays a streamed image or speech answer as OpenAI's server-sent events, event by event; an
 * error after the first byte ends it with an `error` event, which the SDKs raise.
 */
async function relayMediaStream(
  reply: FastifyReply,
  ctx: GatewayContext,
  result: MediaEvents,
): Promise<void> {
  const extra = carriesExtraFields(ctx) ? new StreamExtraFields(ctx) : undefined
  await relaySse(reply, ctx, responseHeaders(ctx, result.headers), result.items, {
    frames(item) {
      const data = extra ? extra.chunk(item.data, item.usage !== undefined) : item.data
      return `event: ${item.event.type}\ndata: ${data}\n\n`
    },
    failure(e) {
      const error = {
        type: e.type,
        code: e.upstreamCode ?? e.code,
        message: e.message,
        param: e.param ?? null,
      }
      return `event: error\ndata: ${JSON.stringify({ type: 'error', error })}\n\n`
    },
  })
}

/** The request's multipart form (model set from an Azure deployment path); a broken form is the caller's mistake. */
export async function readForm(request: FastifyRequest, what: string): Promise<FormData> {
  const contentType = request.headers['content-type'] ?? ''
  if (!contentType.startsWith('multipart/form-data') || !Buffer.isBuffer(request.body)) {
    throw new GatewayError('unsupported_media_type', `send the ${what} as multipart/form-data`)
  }
  let form: FormData
  try {
    form = await new Response(request.body, { headers: { 'content-type': contentType } }).formData()
  } catch {
    throw new GatewayError('invalid_request', 'the body is not valid multipart/form-data')
  }
  const override = request[MODEL_OVERRIDE]
  if (override) form.set('model', override)
  return form
}

function formModel(form: FormData, example: string): string {
  const model = form.get('model')
  if (typeof model !== 'string' || !model) {
    throw new GatewayError('model_required', `model is required, as "provider/model" (e.g. ${example})`, {
      param: 'model',
    })
  }
  return model
}

function formFallbacks(form: FormData): { fallbacks?: string[] } {
  const fallbacks = form.getAll('fallbacks').filter((f): f is string => typeof f === 'string' && f !== '')
  return fallbacks.length > 0 ? { fallbacks } : {}
}

function isFile(value: ReturnType<FormData['get']>): value is File {
  return value !== null && typeof value !== 'string'
}

/** `n`, when given, is a whole number of images from 1 to 10, as OpenAI takes it. */
function checkImageCount(form: FormData): void {
  const n = form.get('n')
  if (n === null || n === '') return
  const count = typeof n === 'string' && /^\d+$/.test(n) ? Number(n) : NaN
  if (!(count >= 1 && count <= 10)) {
    throw new GatewayError('invalid_request', 'n must be a whole number from 1 to 10', { param: 'n' })
  }
}

function transcriptionRequest(form: FormData): TranscriptionRequest {
  const model = formModel(form, 'openai/whisper-1')
  const file = form.get('file')
  if (!isFile(file)) {
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
  return {
    model,
    form,
    response_format: typeof format === 'string' && format ? format : 'json',
    ...formFallbacks(form),
  }
}

/** An edit takes one image (`image`) or several (`image[]`), a prompt, and optionally a mask. */
function imageEditRequest(form: FormData): ImageFormRequest {
  const model = formModel(form, 'openai/gpt-image-1')
  const images = [...form.getAll('image'), ...form.getAll('image[]')]
  if (images.length === 0 || !images.every(isFile)) {
    throw new GatewayError(
      'invalid_request',
      'image is required: the image to edit, as a file field (image, or image[] for several)',
      { param: 'image' },
    )
  }
  const prompt = form.get('prompt')
  if (typeof prompt !== 'string' || !prompt.trim()) {
    throw new GatewayError('invalid_request', 'prompt is required: a text description of the edit', {
      param: 'prompt',
    })
  }
  const mask = form.get('mask')
  if (mask !== null && !isFile(mask)) {
    throw new GatewayError(
      'invalid_request',
      'mask must be a file: a PNG whose transparent areas are edited',
      {
        param: 'mask',
      },
    )
  }
  checkImageCount(form)
  return { model, form, ...formFallbacks(form) }
}

function imageVariationRequest(form: FormData): ImageFormRequest {
  const model = formModel(form, 'openai/dall-e-2')
  if (!isFile(form.get('image'))) {
    throw new GatewayError('invalid_request', 'image is required: the image to vary, as a file field', {
      param: 'image',
    })
  }
  if (form.get('stream') === 'true') {
    throw new GatewayError('invalid_request', 'image variations are not streamed; omit stream', {
      param: 'stream',
    })
  }
  checkImageCount(form)
  return { model, form, ...formFallbacks(form) }
}

/** What the logs keep of a multipart request: its fields, and of each file only its name, type and size. */
function describeForm(form: FormData): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const field of new Set(form.keys())) {
    const values = form
      .getAll(field)
      .map((v) => (typeof v === 'string' ? v : { name: v.name, type: v.type, bytes: v.size }))
    out[field] = values.length === 1 ? values[0] : values
  }
  return out
}

/**
 * Image generation, edits and variations, speech and transcription in OpenAI's format under
 * `prefix` (`/v1`, `/openai`, `/openai/v1` ...), run through the gateway like every other request
 * (governance, keys, retries, fallbacks, logs) and passed to providers that serve them. Image
 * generation and edits, and speech, stream as server-sent events when asked to.
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

  type GatewayRequest = { model: string; fallbacks?: unknown }
  type Call<T> = (adapter: ProviderAdapter, a: Attempt, provider: string) => Promise<T>

  /** One request through the gateway to an adapter operation, answered as JSON or as bytes. */
  async function answer(
    request: FastifyRequest,
    reply: FastifyReply,
    ctx: GatewayContext,
    req: GatewayRequest,
    call: Call<JsonResult<unknown> | PayloadResult>,
  ): Promise<unknown> {
    try {
      const result = await gateway.operation(ctx, req, undefined, (adapter, a, t) =>
        call(adapter, a, t.provider),
      )
      return sendResult(reply, ctx, result)
    } catch (err) {
      return failed(request, reply, ctx, err)
    }
  }

  /** One request through the gateway to a streamed adapter operation, relayed as server-sent events. */
  async function answerStream(
    request: FastifyRequest,
    reply: FastifyReply,
    ctx: GatewayContext,
    req: GatewayRequest,
    call: Call<MediaEvents>,
  ): Promise<unknown> {
    try {
      const result = await gateway.streamOperation(ctx, req, undefined, (adapter, a, t) =>
        call(adapter, a, t.provider),
      )
      return await relayMediaStream(reply, ctx, result)
    } catch (err) {
      return failed(request, reply, ctx, err)
    }
  }

  /**
   * Begins one request and answers it with the adapter's operation, or with its streamed form
   * (`streamed`) when the caller asked for a stream; `input` is what the logs show of a form.
   */
  function serve(
    request: FastifyRequest,
    reply: FastifyReply,
    req: GatewayRequest,
    plain: readonly [RequestType, PlainOp],
    streamed: readonly [RequestType, StreamedOp] | false,
    input?: unknown,
  ): Promise<unknown> {
    const [type, op] = streamed || plain
    const ctx = begin(request, reply, type, req.model)
    if (input !== undefined) ctx.input = input
    // The route's validator made the request its operation takes.
    const call = (adapter: ProviderAdapter, a: Attempt, provider: string) =>
      (adapterOperation(adapter, op, provider) as (a: Attempt, req: GatewayRequest) => Promise<never>)(a, req)
    return streamed ? answerStream(request, reply, ctx, req, call) : answer(request, reply, ctx, req, call)
  }

  app.post(
    `${prefix}/images/generations`,
    (handlers.images = async (request, reply) => {
      const body = validateImage(request.body)
      const stream = body.stream === true && (['image_generation_stream', 'imageGenerationStream'] as const)
      return serve(request, reply, body, ['image_generation', 'imageGeneration'], stream)
    }),
  )

  app.post(
    `${prefix}/audio/speech`,
    (handlers.speech = async (request, reply) => {
      const body = validateSpeech(request.body)
      const asked = body.stream === true || body.stream_format === 'sse'
      return serve(
        request,
        reply,
        body,
        ['speech', 'speech'],
        asked && (['speech_stream', 'speechStream'] as const),
      )
    }),
  )

  // Audio and images arrive as multipart form data: parsed only on these routes, in their own scope.
  handlers.transcription = async (request, reply) => {
    const req = transcriptionRequest(await readForm(request, 'audio'))
    return serve(request, reply, req, ['transcription', 'transcription'], false, describeForm(req.form))
  }
  handlers.imageEdit = async (request, reply) => {
    const req = imageEditRequest(await readForm(request, 'image'))
    const stream = req.form.get('stream') === 'true' && (['image_edit_stream', 'imageEditStream'] as const)
    return serve(request, reply, req, ['image_edit', 'imageEdit'], stream, describeForm(req.form))
  }
  handlers.imageVariation = async (request, reply) => {
    const req = imageVariationRequest(await readForm(request, 'image'))
    return serve(request, reply, req, ['image_variation', 'imageVariation'], false, describeForm(req.form))
  }
  app.register(async (scope) => {
    acceptMultipart(scope)
    scope.post(`${prefix}/audio/transcriptions`, handlers.transcription)
    scope.post(`${prefix}/images/edits`, handlers.imageEdit)
    scope.post(`${prefix}/images/variations`, handlers.imageVariation)
  })
  return handlers
}
