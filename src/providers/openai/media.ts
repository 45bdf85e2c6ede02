import { GatewayError } from '../../core/errors.js'
import type {
  ImageFormRequest,
  ImageGenerationRequest,
  ImageGenerationResponse,
  MediaStreamEvent,
  SpeechRequest,
  TranscriptionRequest,
  Usage,
} from '../../core/schemas/index.js'
import {
  expectEventStream,
  headerValue,
  jsonResult,
  readText,
  sendUpstream,
  upstreamError,
  networkError,
  type UpstreamResponse,
} from '../http.js'
import type { MediaOperation } from '../openai-compatible.js'
import { eventJson, malformedEvent, parseSse, streamBroken } from '../sse.js'
import type {
  Attempt,
  JsonResult,
  PayloadResult,
  ProviderAdapter,
  StreamResult,
} from '../../core/provider-adapter.js'
import { parseOpenAIError } from './errors.js'

/** One event of a streamed image or speech answer: the provider's own frame, relayed as it came. */
export interface MediaStreamItem {
  event: MediaStreamEvent
  /** The event's JSON text, unchanged. */
  data: string
  usage?: Usage
  /** Base64 image and audio chunks are not text: nothing to estimate tokens from. */
  contentChars: 0
}

type ImageResult = JsonResult<ImageGenerationResponse>

// The image-edit, image-variation and streamed media operations, next to the ones in core/provider-adapter.ts.
declare module '../../core/provider-adapter.js' {
  interface ProviderAdapter {
    imageGenerationStream?(a: Attempt, req: ImageGenerationRequest): Promise<StreamResult<MediaStreamItem>>
    imageEdit?(a: Attempt, req: ImageFormRequest): Promise<ImageResult>
    imageEditStream?(a: Attempt, req: ImageFormRequest): Promise<StreamResult<MediaStreamItem>>
    imageVariation?(a: Attempt, req: ImageFormRequest): Promise<ImageResult>
    speechStream?(a: Attempt, req: SpeechRequest): Promise<StreamResult<MediaStreamItem>>
  }
}

type MediaOps = Pick<
  ProviderAdapter,
  | 'imageGeneration'
  | 'imageGenerationStream'
  | 'imageEdit'
  | 'imageEditStream'
  | 'imageVariation'
  | 'speech'
  | 'speechStream'
  | 'transcription'
>

/** How the OpenAI adapter reaches its provider, shared with the image and audio operations. */
export interface OpenAIMediaTransport {
  name: string
  media: readonly MediaOperation[]
  url(a: Attempt, op: string): string
  headers(a: Attempt, json: boolean): Record<string, string>
  pick(res: UpstreamResponse): Record<string, string> | undefined
}

/** Transcript formats that are not JSON. */
const PLAIN_TRANSCRIPTS = new Set(['text', 'srt', 'vtt'])

/**
 * Image generation, edits and variations, speech and transcription in OpenAI's wire format: the
 * caller's body (or form) with the model renamed, the provider's answer passed back as received.
 * A provider that generates images in OpenAI's format edits and varies them too.
 */
export function openAIMediaOperations(t: OpenAIMediaTransport): MediaOps {
  async function send(
    a: Attempt,
    url: string,
    body: string | Buffer,
    contentType?: string,
  ): Promise<UpstreamResponse> {
    const headers = t.headers(a, contentType === undefined)
    if (contentType) headers['content-type'] = contentType
    const res = await sendUpstream(a, { url, headers, body }, t.name)
    if (res.statusCode >= 400) {
      const text = await readText(res, t.name, a.signal)
      throw upstreamError(t.name, res.statusCode, text, res.headers, parseOpenAIError)
    }
    return res
  }

  /** Edits and variations live beside generations (`…/images/generations` -> `…/images/edits`). */
  function imagesUrl(a: Attempt, leaf: 'edits' | 'variations'): string {
    const url = t.url(a, 'image_generation')
    const q = url.indexOf('?')
    const path = q < 0 ? url : url.slice(0, q)
    if (!path.endsWith('/images/generations')) {
      throw new GatewayError('unsupported_operation', `provider ${t.name} does not serve image ${leaf}`, {
        retryable: false,
      })
    }
    return path.slice(0, -'generations'.length) + leaf + (q < 0 ? '' : url.slice(q))
  }

  function stream(res: UpstreamResponse): StreamResult<MediaStreamItem> {
    expectEventStream(res, t.name)
    return { items: relayMediaEvents(res.body, t.name), headers: t.pick(res) }
  }

  async function payload(a: Attempt, res: UpstreamResponse, fallbackType: string): Promise<PayloadResult> {
    let bytes: Buffer
    try {
      bytes = Buffer.from(await res.body.arrayBuffer())
    } catch (err) {
      throw networkError(err, t.name, a.signal)
    }
    const contentType = headerValue(res.headers, 'content-type') ?? fallbackType
    return {
      payload: bytes,
      contentType,
      body: { content_type: contentType, bytes: bytes.length },
      headers: t.pick(res),
    }
  }

  async function images(a: Attempt, res: UpstreamResponse): Promise<ImageResult> {
    return withTokenUsage(
      jsonResult<ImageGenerationResponse>(t.name, await readText(res, t.name, a.signal), t.pick(res)),
    )
  }

  const ops: MediaOps = {}
  if (t.media.includes('image_generation')) {
    ops.imageGeneration = async (a, req) => {
      const res = await send(a, t.url(a, 'image_generation'), JSON.stringify(renamed(req, a.model)))
      return images(a, res)
    }
    ops.imageGenerationStream = async (a, req) => {
      const body = { ...renamed(req, a.model), stream: true }
      return stream(await send(a, t.url(a, 'image_generation'), JSON.stringify(body)))
    }
    ops.imageEdit = async (a, req) => {
      const form = await encodeForm(req.form, a.model)
      return images(a, await send(a, imagesUrl(a, 'edits'), form.body, form.contentType))
    }
    ops.imageEditStream = async (a, req) => {
      const form = await encodeForm(req.form, a.model)
      return stream(await send(a, imagesUrl(a, 'edits'), form.body, form.contentType))
    }
    ops.imageVariation = async (a, req) => {
      const form = await encodeForm(req.form, a.model)
      return images(a, await send(a, imagesUrl(a, 'variations'), form.body, form.contentType))
    }
  }
  if (t.media.includes('speech')) {
    ops.speech = async (a, req) => {
      const res = await send(a, t.url(a, 'speech'), JSON.stringify(renamed(req, a.model)))
      return payload(a, res, 'audio/mpeg')
    }
    ops.speechStream = async (a, req) => {
      const body: Record<string, unknown> = { ...renamed(req, a.model), stream_format: 'sse' }
      // Bifrost's `stream: true` is ours to read; OpenAI knows only `stream_format`.
      delete body.stream
      return stream(await send(a, t.url(a, 'speech'), JSON.stringify(body)))
    }
  }
  if (t.media.includes('transcription')) {
    ops.transcription = async (a, req: TranscriptionRequest) => {
      const form = await encodeForm(req.form, a.model)
      const res = await send(a, t.url(a, 'transcription'), form.body, form.contentType)
      if (PLAIN_TRANSCRIPTS.has(req.response_format)) return payload(a, res, 'text/plain; charset=utf-8')
      return withTokenUsage(jsonResult<unknown>(t.name, await readText(res, t.name, a.signal), t.pick(res)))
    }
  }
  return ops
}

/**
 * The caller's form as the provider gets it: its own model name, and no `fallbacks` (ours).
 * Web-standard serialization gives the multipart bytes and their boundary.
 */
async function encodeForm(source: FormData, model: string): Promise<{ body: Buffer; contentType: string }> {
  const form = new FormData()
  for (const [field, value] of source) {
    if (field !== 'fallbacks') form.append(field, field === 'model' ? model : value)
  }
  const encoded = new Response(form)
  return {
    body: Buffer.from(await encoded.arrayBuffer()),
    contentType: encoded.headers.get('content-type')!,
  }
}

/**
 * A streamed image or speech answer, event by event. It must reach its final event
 * (`*.completed`, `speech.audio.done`): a stream cut before it is an error, not a short answer.
 */
async function* relayMediaEvents(
  body: AsyncIterable<Buffer>,
  provider: string,
): AsyncGenerator<MediaStreamItem> {
  let finished = false
  for await (const ev of parseSse(body, provider)) {
    if (ev.data === '[DONE]') continue
    const event = eventJson<MediaStreamEvent>(provider, ev.data)
    if (typeof event.type !== 'string') throw malformedEvent(provider, ev.data)
    if (event.type === 'error') {
      const message = (event as { error?: { message?: unknown } }).error?.message ?? event.message
      throw streamBroken(provider, new Error(String(message ?? 'error event')))
    }
    const last = event.type.endsWith('.completed') || event.type === 'speech.audio.done'
    if (last) finished = true
    yield { event, data: ev.data, usage: last ? tokenUsage(event.usage) : undefined, contentChars: 0 }
  }
  if (!finished) throw streamBroken(provider, new Error('the stream ended before its final event'))
}

function renamed(req: Record<string, unknown>, model: string): Record<string, unknown> {
  const body: Record<string, unknown> = { ...req, model }
  delete body.fallbacks
  return body
}

/**
 * Image and transcription models report usage as `input_tokens`/`output_tokens` (or as seconds of
 * audio, which is not token usage): translated to the unified names so budgets see it.
 */
function withTokenUsage<R extends JsonResult<unknown>>(result: R): R {
  result.usage = tokenUsage(result.usage)
  return result
}

function tokenUsage(value: unknown): Usage | undefined {
  const u = value as
    (Partial<Usage> & { input_tokens?: number; output_tokens?: number; total_tokens?: number }) | undefined
  if (!u || typeof u !== 'object') return undefined
  if (typeof u.input_tokens === 'number' || typeof u.output_tokens === 'number') {
    const prompt = u.input_tokens ?? 0
    const completion = u.output_tokens ?? 0
    return {
      prompt_tokens: prompt,
      completion_tokens: completion,
      total_tokens: u.total_tokens ?? prompt + completion,
    }
  }
  return typeof u.prompt_tokens === 'number' ? (u as Usage) : undefined
}
