import { GatewayError } from '../../core/errors.js'
import type {
  ImageFormRequest,
  ImageGenerationRequest,
  ImageGenerationResponse,
  SpeechRequest,
  Usage,
} from '../../core/schemas/index.js'
import type { Attempt, JsonResult, PayloadResult, ProviderAdapter } from '../../core/provider-adapter.js'
import type { GeminiResponse } from './response.js'

/** How the media operations reach the Gemini API: a model method, its JSON answer. */
export type GeminiCall = <T>(a: Attempt, method: string, body: unknown) => Promise<T>

interface GeminiPart {
  text?: string
  inlineData?: { mimeType?: string; data?: string }
}

interface ImagenResponse {
  predictions?: { bytesBase64Encoded?: string; mimeType?: string }[]
}

type MediaOps = Pick<ProviderAdapter, 'speech' | 'imageGeneration' | 'imageEdit'>

/** Gemini TTS answers raw PCM: signed 16-bit little-endian, mono, 24 kHz unless the MIME type says. */
const PCM_RATE = 24000

/**
 * Speech and images as Bifrost serves them from Gemini: speech through generateContent with
 * `responseModalities: ["AUDIO"]` (PCM wrapped as WAV, or raw for `pcm`), images through Imagen's
 * `predict` for `imagen-*` models and generateContent with `["IMAGE"]` for Gemini image models.
 */
export function geminiMediaOperations(name: string, call: GeminiCall): MediaOps {
  return {
    async speech(a: Attempt, req: SpeechRequest): Promise<PayloadResult> {
      const format = req.response_format ?? 'wav'
      if (format !== 'wav' && format !== 'pcm') {
        throw invalid(
          `provider ${name} answers speech as wav or pcm, not ${format}`,
          'response_format',
          'unsupported_operation',
        )
      }
      const voice = typeof req.voice === 'string' ? req.voice : req.voice.id
      const text = req.instructions ? `${req.instructions}\n\n${req.input}` : req.input
      const res = await call<GeminiResponse>(a, 'generateContent', {
        contents: [{ role: 'user', parts: [{ text }] }],
        generationConfig: {
          responseModalities: ['AUDIO'],
          speechConfig: { voiceConfig: { prebuiltVoiceConfig: { voiceName: voice } } },
        },
      })
      const audio = partsOf(res).filter((p) => p.inlineData?.mimeType?.startsWith('audio/'))
      if (!audio.length) throw noOutput(name, 'audio', res)
      const pcm = Buffer.concat(audio.map((p) => Buffer.from(p.inlineData?.data ?? '', 'base64')))
      const rate = Number(/rate=(\d+)/.exec(audio[0].inlineData?.mimeType ?? '')?.[1]) || PCM_RATE
      const payload = format === 'wav' ? wavOf(pcm, rate) : pcm
      const contentType = format === 'wav' ? 'audio/wav' : 'audio/pcm'
      return {
        payload,
        contentType,
        body: { content_type: contentType, bytes: payload.length },
        usage: usageOf(res),
      }
    },

    async imageGeneration(
      a: Attempt,
      req: ImageGenerationRequest,
    ): Promise<JsonResult<ImageGenerationResponse>> {
      if (isImagen(a.model)) {
        const parameters: Record<string, unknown> = { sampleCount: req.n ?? 1 }
        const ratio = aspectRatioOf(req.size)
        if (ratio) parameters.aspectRatio = ratio
        const res = await call<ImagenResponse>(a, 'predict', {
          instances: [{ prompt: req.prompt }],
          parameters,
        })
        const images = (res.predictions ?? []).flatMap((p) =>
          p.bytesBase64Encoded ? [{ data: p.bytesBase64Encoded, mimeType: p.mimeType }] : [],
        )
        if (!images.length) throw noOutput(name, 'images', res)
        return { body: imagesBody(images, req.response_format) }
      }
      return generateImages(a, [{ text: req.prompt }], req.n ?? 1, req.response_format)
    },

    async imageEdit(a: Attempt, req: ImageFormRequest): Promise<JsonResult<ImageGenerationResponse>> {
      if (isImagen(a.model))
        throw invalid(
          `provider ${name} edits images with Gemini image models; ${a.model} only generates`,
          'model',
          'unsupported_operation',
        )
      if (req.form.get('mask') !== null)
        throw invalid(`provider ${name} edits images from the prompt; it takes no mask`, 'mask')
      const prompt = req.form.get('prompt')
      if (typeof prompt !== 'string' || !prompt) throw invalid('prompt is required', 'prompt')
      const files = [...req.form.getAll('image'), ...req.form.getAll('image[]')].filter(
        (f): f is File => typeof f !== 'string',
      )
      if (!files.length) throw invalid('image is required', 'image')
      const parts: GeminiPart[] = [{ text: prompt }]
      for (const f of files) {
        const data = Buffer.from(await f.arrayBuffer()).toString('base64')
        parts.push({ inlineData: { mimeType: f.type || 'image/png', data } })
      }
      const n = Number(req.form.get('n') ?? 1)
      const format = req.form.get('response_format') === 'url' ? 'url' : 'b64_json'
      return generateImages(a, parts, Number.isInteger(n) && n > 0 ? n : 1, format)
    },
  }

  async function generateImages(
    a: Attempt,
    parts: GeminiPart[],
    n: number,
    format: string | undefined,
  ): Promise<JsonResult<ImageGenerationResponse>> {
    const generationConfig: Record<string, unknown> = { responseModalities: ['IMAGE'] }
    if (n > 1) generationConfig.candidateCount = n
    const res = await call<GeminiResponse>(a, 'generateContent', {
      contents: [{ role: 'user', parts }],
      generationConfig,
    })
    const images = partsOf(res).flatMap((p) =>
      p.inlineData?.data && p.inlineData.mimeType?.startsWith('image/')
        ? [{ data: p.inlineData.data, mimeType: p.inlineData.mimeType }]
        : [],
    )
    if (!images.length) throw noOutput(name, 'images', res)
    const usage = usageOf(res)
    const body = imagesBody(images, format)
    // Token usage as OpenAI's gpt-image models report it.
    if (usage)
      body.usage = {
        input_tokens: usage.prompt_tokens,
        output_tokens: usage.completion_tokens,
        total_tokens: usage.total_tokens,
      }
    return { body, usage }
  }
}

const isImagen = (model: string) => /(^|\/)imagen-/.test(model)

function partsOf(res: GeminiResponse): GeminiPart[] {
  return (res.candidates ?? []).flatMap((c) => (c.content?.parts ?? []) as GeminiPart[])
}

/** Gemini has no image URLs: `url` gets the image as a data URL. */
function imagesBody(
  images: { data: string; mimeType?: string }[],
  format: string | undefined,
): ImageGenerationResponse {
  return {
    created: Math.floor(Date.now() / 1000),
    data: images.map((img) =>
      format === 'url'
        ? { url: `data:${img.mimeType ?? 'image/png'};base64,${img.data}` }
        : { b64_json: img.data },
    ),
  }
}

/** OpenAI's sizes as Imagen's aspect ratios. */
function aspectRatioOf(size: string | undefined): string | undefined {
  const m = /^(\d+)x(\d+)$/.exec(size ?? '')
  if (!m) return undefined
  const ratio = Number(m[1]) / Number(m[2])
  const known: [number, string][] = [
    [1, '1:1'],
    [3 / 4, '3:4'],
    [4 / 3, '4:3'],
    [9 / 16, '9:16'],
    [16 / 9, '16:9'],
  ]
  return known.find(([r]) => Math.abs(r - ratio) < 0.05)?.[1]
}

function usageOf(res: GeminiResponse): Usage | undefined {
  const u = res.usageMetadata
  if (!u) return undefined
  const prompt = u.promptTokenCount ?? 0
  const completion = u.candidatesTokenCount ?? 0
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion }
}

/** A canonical 44-byte WAV header before the PCM samples (16-bit mono). */
export function wavOf(pcm: Buffer, rate: number): Buffer {
  const header = Buffer.alloc(44)
  header.write('RIFF', 0, 'ascii')
  header.writeUInt32LE(36 + pcm.length, 4)
  header.write('WAVE', 8, 'ascii')
  header.write('fmt ', 12, 'ascii')
  header.writeUInt32LE(16, 16)
  header.writeUInt16LE(1, 20)
  header.writeUInt16LE(1, 22)
  header.writeUInt32LE(rate, 24)
  header.writeUInt32LE(rate * 2, 28)
  header.writeUInt16LE(2, 32)
  header.writeUInt16LE(16, 34)
  header.write('data', 36, 'ascii')
  header.writeUInt32LE(pcm.length, 40)
  return Buffer.concat([header, pcm])
}

function noOutput(name: string, what: string, res: unknown): GatewayError {
  const candidate = (res as { candidates?: { finishReason?: string }[] }).candidates?.[0]
  const reason = candidate?.finishReason ? ` (finishReason ${candidate.finishReason})` : ''
  return new GatewayError('upstream_bad_response', `provider ${name} answered without ${what}${reason}`, {
    retryable: false,
  })
}

function invalid(
  message: string,
  param: string,
  code: 'invalid_request' | 'unsupported_operation' = 'invalid_request',
): GatewayError {
  return new GatewayError(code, message, { param, retryable: false })
}
