import type {
  ImageGenerationRequest,
  ImageGenerationResponse,
  SpeechRequest,
  TranscriptionRequest,
  Usage,
} from '../../core/schemas/index.js'
import {
  headerValue,
  jsonResult,
  readText,
  sendUpstream,
  upstreamError,
  networkError,
  type UpstreamResponse,
} from '../http.js'
import type { MediaOperation } from '../openai-compatible.js'
import type { Attempt, JsonResult, PayloadResult, ProviderAdapter } from '../types.js'
import { parseOpenAIError } from './errors.js'

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
 * Image generation, speech and transcription in OpenAI's wire format: the caller's body (or form)
 * with the model renamed, the provider's answer passed back as received.
 */
export function openAIMediaOperations(
  t: OpenAIMediaTransport,
): Pick<ProviderAdapter, 'imageGeneration' | 'speech' | 'transcription'> {
  async function send(
    a: Attempt,
    op: MediaOperation,
    body: string | Buffer,
    contentType?: string,
  ): Promise<UpstreamResponse> {
    const headers = t.headers(a, contentType === undefined)
    if (contentType) headers['content-type'] = contentType
    const res = await sendUpstream(a, { url: t.url(a, op), headers, body }, t.name)
    if (res.statusCode >= 400) {
      const text = await readText(res, t.name, a.signal)
      throw upstreamError(t.name, res.statusCode, text, res.headers, parseOpenAIError)
    }
    return res
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

  const ops: Pick<ProviderAdapter, 'imageGeneration' | 'speech' | 'transcription'> = {}
  if (t.media.includes('image_generation')) {
    ops.imageGeneration = async (a, req: ImageGenerationRequest) => {
      const res = await send(a, 'image_generation', JSON.stringify(renamed(req, a.model)))
      const result = jsonResult<ImageGenerationResponse>(
        t.name,
        await readText(res, t.name, a.signal),
        t.pick(res),
      )
      return withTokenUsage(result)
    }
  }
  if (t.media.includes('speech')) {
    ops.speech = async (a, req: SpeechRequest) => {
      const res = await send(a, 'speech', JSON.stringify(renamed(req, a.model)))
      return payload(a, res, 'audio/mpeg')
    }
  }
  if (t.media.includes('transcription')) {
    ops.transcription = async (a, req: TranscriptionRequest) => {
      const form = new FormData()
      for (const [field, value] of req.form) {
        if (field === 'fallbacks') continue
        form.append(field, field === 'model' ? a.model : value)
      }
      // Web-standard serialization gives the multipart bytes and their boundary.
      const encoded = new Response(form)
      const body = Buffer.from(await encoded.arrayBuffer())
      const res = await send(a, 'transcription', body, encoded.headers.get('content-type')!)
      if (PLAIN_TRANSCRIPTS.has(req.response_format)) return payload(a, res, 'text/plain; charset=utf-8')
      return withTokenUsage(jsonResult<unknown>(t.name, await readText(res, t.name, a.signal), t.pick(res)))
    }
  }
  return ops
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
  const u = result.usage as
    (Partial<Usage> & { input_tokens?: number; output_tokens?: number; total_tokens?: number }) | undefined
  if (!u) return result
  if (typeof u.input_tokens === 'number' || typeof u.output_tokens === 'number') {
    const prompt = u.input_tokens ?? 0
    const completion = u.output_tokens ?? 0
    result.usage = {
      prompt_tokens: prompt,
      completion_tokens: completion,
      total_tokens: u.total_tokens ?? prompt + completion,
    }
  } else if (typeof u.prompt_tokens !== 'number') {
    result.usage = undefined
  }
  return result
}
