import { GatewayError } from '../../core/errors.js'
import type { EmbeddingRequest, EmbeddingResponse } from '../../core/schemas/index.js'

export interface VertexEmbedCall {
  body: { instances: Record<string, unknown>[]; parameters: Record<string, unknown> }
  inputs: string[]
}

interface VertexPrediction {
  embeddings?: { values?: number[]; statistics?: { token_count?: number } }
}

/**
 * An OpenAI embeddings request as Vertex's `predict` body: one instance per text, `task_type` and
 * `title` when the caller adds them, `dimensions` as `outputDimensionality`.
 */
export function toVertexEmbedRequest(req: EmbeddingRequest): VertexEmbedCall {
  const input = req.input
  const inputs = typeof input === 'string' ? [input] : Array.isArray(input) ? input : []
  if (inputs.length === 0 || !inputs.every((x): x is string => typeof x === 'string')) {
    throw new GatewayError(
      'invalid_request',
      'Vertex embeds text only: input must be a string or a non-empty list of strings',
      { param: 'input', retryable: false },
    )
  }
  const extra = req as Record<string, unknown>
  const taskType = extra.task_type ?? extra.taskType
  const instances = inputs.map((content) => ({
    content,
    ...(typeof taskType === 'string' && { task_type: taskType }),
    ...(typeof extra.title === 'string' && { title: extra.title }),
  }))
  const parameters: Record<string, unknown> = {
    autoTruncate: typeof extra.autoTruncate === 'boolean' ? extra.autoTruncate : true,
  }
  if (req.dimensions !== undefined) parameters.outputDimensionality = req.dimensions
  return { body: { instances, parameters }, inputs }
}

/** Vertex's predictions as OpenAI's list; usage from each prediction's token_count. */
export function fromVertexEmbedResponse(
  json: unknown,
  inputs: string[],
  req: EmbeddingRequest,
  model: string,
  provider: string,
): EmbeddingResponse {
  const predictions = (json as { predictions?: VertexPrediction[] } | null)?.predictions ?? []
  if (predictions.length !== inputs.length || predictions.some((p) => !Array.isArray(p.embeddings?.values))) {
    throw new GatewayError(
      'upstream_bad_response',
      `${provider} answered with ${predictions.length} embeddings for ${inputs.length} inputs`,
      { retryable: true },
    )
  }
  let tokens = 0
  const data = predictions.map((p, index) => {
    const values = p.embeddings?.values ?? []
    tokens += p.embeddings?.statistics?.token_count ?? 0
    const embedding =
      req.encoding_format === 'base64'
        ? Buffer.from(new Float32Array(values).buffer).toString('base64')
        : values
    return { object: 'embedding' as const, index, embedding }
  })
  return { object: 'list', data, model, usage: { prompt_tokens: tokens, total_tokens: tokens } }
}
