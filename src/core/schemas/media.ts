import { Type, type Static } from '@sinclair/typebox'
import { FallbacksSchema } from './chat.js'

/** `POST /v1/images/generations`, in OpenAI's format; unknown fields pass through to the provider. */
export const ImageGenerationRequestSchema = Type.Object(
  {
    model: Type.String({ minLength: 1 }),
    prompt: Type.String({ minLength: 1 }),
    n: Type.Optional(Type.Integer({ minimum: 1, maximum: 10 })),
    size: Type.Optional(Type.String()),
    quality: Type.Optional(Type.String()),
    style: Type.Optional(Type.String()),
    response_format: Type.Optional(Type.Union([Type.Literal('url'), Type.Literal('b64_json')])),
    user: Type.Optional(Type.String()),
    /** Partial images as server-sent events (gpt-image models), with `partial_images` of them. */
    stream: Type.Optional(Type.Boolean()),
    partial_images: Type.Optional(Type.Integer({ minimum: 0, maximum: 3 })),
    fallbacks: Type.Optional(FallbacksSchema),
  },
  { additionalProperties: true },
)
export type ImageGenerationRequest = Static<typeof ImageGenerationRequestSchema>

export interface ImageGenerationResponse {
  created: number
  data: { url?: string; b64_json?: string; revised_prompt?: string }[]
  [k: string]: unknown
}

/** `POST /v1/audio/speech`: text in, audio bytes out. */
export const SpeechRequestSchema = Type.Object(
  {
    model: Type.String({ minLength: 1 }),
    input: Type.String({ minLength: 1 }),
    voice: Type.Union([Type.String({ minLength: 1 }), Type.Object({ id: Type.String() })]),
    response_format: Type.Optional(
      Type.Union(['mp3', 'opus', 'aac', 'flac', 'wav', 'pcm'].map((f) => Type.Literal(f))),
    ),
    speed: Type.Optional(Type.Number({ minimum: 0.25, maximum: 4 })),
    instructions: Type.Optional(Type.String()),
    /** `sse` streams the audio as base64 deltas in server-sent events; Bifrost's `stream: true` does too. */
    stream_format: Type.Optional(Type.Union([Type.Literal('sse'), Type.Literal('audio')])),
    stream: Type.Optional(Type.Boolean()),
    fallbacks: Type.Optional(FallbacksSchema),
  },
  { additionalProperties: true },
)
export type SpeechRequest = Static<typeof SpeechRequestSchema>

/**
 * `POST /v1/audio/transcriptions`, sent as multipart form data: the form as received (the audio
 * file included), and its model. The provider gets the form with the model renamed.
 */
export interface TranscriptionRequest {
  model: string
  form: FormData
  /** The `response_format` field: `json` (default), `verbose_json`, `text`, `srt` or `vtt`. */
  response_format: string
  fallbacks?: string[]
}

/**
 * `POST /v1/images/edits` and `POST /v1/images/variations`, sent as multipart form data: the form as
 * received (images and mask included), and its model. The provider gets the form with the model renamed.
 */
export interface ImageFormRequest {
  model: string
  form: FormData
  fallbacks?: string[]
}

/** One server-sent event of a streamed image or speech answer, in OpenAI's format. */
export interface MediaStreamEvent {
  /** `image_generation.partial_image`, `image_edit.completed`, `speech.audio.delta` ... */
  type: string
  [k: string]: unknown
}
