import { GatewayError } from '../../core/errors.js'
import type { EmbeddingRequest, EmbeddingResponse } from '../../core/schemas/index.js'

/**
 * Embeddings through InvokeModel: Titan takes one `inputText` per call, Cohere embed takes
 * `texts` (up to 96). `calls` are the bodies to send; `merge` turns their answers into one response.
 */
export interface BedrockEmbedPlan {
  bodies: Record<string, unknown>[]
  merge(answers: unknown[], model: string): EmbeddingResponse
}

function texts(req: EmbeddingRequest): string[] {
  const input = req.input
  if (typeof input === 'string') return [input]
  if (Array.isArray(input) && input.length > 0 && input.every((x) => typeof x === 'string'))
    return input as string[]
  throw new GatewayError(
    'invalid_request',
    'Bedrock embeds text only: input must be a string or a list of strings',
    {
      param: 'input',
      retryable: false,
    },
  )
}

export function planBedrockEmbeddings(req: EmbeddingRequest, modelId: string): BedrockEmbedPlan {
  const inputs = texts(req)
  if (modelId.includes('cohere.')) {
    const extra = req as Record<string, unknown>
    return {
      bodies: [
        {
          texts: inputs,
          input_type: typeof extra.input_type === 'string' ? extra.input_type : 'search_document',
        },
      ],
      merge([answer], model) {
        const a = answer as { embeddings?: number[][] | { float?: number[][] } }
        const vectors = Array.isArray(a.embeddings) ? a.embeddings : (a.embeddings?.float ?? [])
        const tokens = inputs.reduce((n, t) => n + Math.ceil(t.length / 4), 0)
        return {
          object: 'list',
          data: vectors.map((embedding, index) => ({ object: 'embedding', index, embedding })),
          model,
          usage: { prompt_tokens: tokens, total_tokens: tokens },
        }
      },
    }
  }
  if (!modelId.includes('titan-embed')) {
    throw new GatewayError(
      'unsupported_operation',
      `Bedrock embeddings cover Titan and Cohere embed models, not ${modelId}`,
      {
        retryable: false,
      },
    )
  }
  return {
    bodies: inputs.map((inputText) => ({
      inputText,
      ...(req.dimensions != null && modelId.includes('v2') && { dimensions: req.dimensions }),
    })),
    merge(answers, model) {
      let tokens = 0
      const data = answers.map((answer, index) => {
        const a = answer as { embedding?: number[]; inputTextTokenCount?: number }
        tokens += a.inputTextTokenCount ?? 0
        return { object: 'embedding' as const, index, embedding: a.embedding ?? [] }
      })
      return { object: 'list', data, model, usage: { prompt_tokens: tokens, total_tokens: tokens } }
    },
  }
}
