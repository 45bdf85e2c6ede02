import { GatewayError } from '../../core/errors.js'
import type { EmbeddingRequest, EmbeddingResponse } from '../../core/schemas/index.js'
import { isRecord } from './request.js'

export interface GeminiEmbedCall {
  /** `embedContent` for one text, `batchEmbedContents` for a list. */
  method: 'embedContent' | 'batchEmbedContents'
  body: Record<string, unknown>
  inputs: string[]
}

interface GeminiEmbedResponse {
  embedding?: { values?: number[] }
  embeddings?: { values?: number[] }[]
  usageMetadata?: { promptTokenCount?: number; totalTokenCount?: number }
}

/**
 * An OpenAI embeddings request as embedContent (one string) or batchEmbedContents (a list).
 * `modelPath` is `models/<name>`, which every request of a batch must repeat.
 */
export function toGeminiEmbedCall(req: EmbeddingRequest, modelPath: string): GeminiEmbedCall {
  const input = req.input
  const isText =
    typeof input === 'string' || (Array.isArray(input) && input.every((x) => typeof x === 'string'))
  if (!isText || (Array.isArray(input) && input.length === 0)) {
    throw new GatewayError(
      'invalid_request',
      'Gemini embeds text only: input must be a string or a list of strings',
      {
        param: 'input',
        retryable: false,
      },
    )
  }
  const extra = req as Record<string, unknown>
  const options: Record<string, unknown> = {}
  if (req.dimensions !== undefined) options.outputDimensionality = req.dimensions
  // Gemini-native options a caller may add.
  if (typeof extra.taskType === 'string') options.taskType = extra.taskType
  if (typeof extra.title === 'string') options.title = extra.title
  const one = (text: string) => ({ content: { parts: [{ text }] }, ...options })
  if (typeof input === 'string') return { method: 'embedContent', body: one(input), inputs: [input] }
  const inputs = input as string[]
  return {
    method: 'batchEmbedContents',
    body: { requests: inputs.map((text) => ({ model: modelPath, ...one(text) })) },
    inputs,
  }
}

/** Gemini's vectors as OpenAI's list; usage is estimated (4 characters a token) when Gemini gives none. */
export function fromGeminiEmbedResponse(
  json: unknown,
  call: GeminiEmbedCall,
  req: EmbeddingRequest,
  model: string,
  provider: string,
): EmbeddingResponse {
  const res = (isRecord(json) ? json : {}) as GeminiEmbedResponse
  const vectors = call.method === 'embedContent' ? [res.embedding] : (res.embeddings ?? [])
  if (vectors.length !== call.inputs.length || vectors.some((v) => !Array.isArray(v?.values))) {
    throw new GatewayError(
      'upstream_bad_response',
      `${provider} answered with ${vectors.length} embeddings for ${call.inputs.length} inputs`,
      {
        retryable: true,
      },
    )
  }
  const data = vectors.map((v, index) => {
    const values = v?.values ?? []
    const embedding =
      req.encoding_format === 'base64'
        ? Buffer.from(new Float32Array(values).buffer).toString('base64')
        : values
    return { object: 'embedding' as const, index, embedding }
  })
  const reported = res.usageMetadata?.promptTokenCount
  const tokens = reported ?? call.inputs.reduce((n, t) => n + Math.max(1, Math.ceil(t.length / 4)), 0)
  return {
    object: 'list',
    data,
    model,
    usage: { prompt_tokens: tokens, total_tokens: res.usageMetadata?.totalTokenCount ?? tokens },
  }
}
