import { createContext, type GatewayContext } from '../../core/context.js'
import { GatewayError } from '../../core/errors.js'
import type { JsonResult } from '../../core/provider-adapter.js'
import type { EmbeddingRequest, EmbeddingResponse } from '../../core/schemas/index.js'
import { timeOrderedId } from '../../core/time-ordered-id.js'
import type { EmbedText } from './plugin.js'

interface Embedder {
  embeddings(ctx: GatewayContext, req: EmbeddingRequest): Promise<JsonResult<EmbeddingResponse>>
}

/**
 * The embedding call of a lookup by meaning: a request of its own through the gateway, under the
 * caller's headers, so that it is authenticated, charged to the caller's key and logged like any other.
 */
export function embedThrough(gateway: Embedder): EmbedText {
  return async (caller, model, text, signal) => {
    const ctx = createContext({
      requestId: timeOrderedId(),
      requestType: 'embedding',
      signal,
      headers: caller.headers,
      modelRequested: model,
    })
    ctx.facts.semanticCacheInternal = true
    ctx.route = '/v1/embeddings'
    const r = await gateway.embeddings(ctx, { model, input: text })
    const vector = r.body.data[0]?.embedding
    if (!Array.isArray(vector)) {
      throw new GatewayError('upstream_error', `embedding model ${model} sent no float vector`, {
        retryable: false,
      })
    }
    return { vector, tokens: r.usage?.prompt_tokens ?? r.body.usage?.prompt_tokens ?? 0 }
  }
}
