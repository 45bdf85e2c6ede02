import { GatewayError } from '../../core/errors.js'
import type { EmbeddingRequest, ProviderConfig, RerankResult } from '../../core/schemas/index.js'
import { rerankDocument } from '../../core/schemas/index.js'
import * as http from '../http.js'
import type { Attempt, ProviderAdapter } from '../../core/provider-adapter.js'
import { cohereError } from './errors.js'
import { toCohereRequest } from './request.js'
import { fromCohereResponse } from './response.js'
import { translateCohereStream } from './stream.js'
import type {
  CohereChatResponse,
  CohereEmbedRequest,
  CohereEmbedResponse,
  CohereRerankRequest,
  CohereRerankResponse,
} from './types.js'

export type * from './types.js'
export { toFinishReason as cohereFinishToFinishReason } from './response.js'
export { cohereTokenize, type CohereTokenizeResponse } from './tokenize.js'

const DEFAULT_BASE_URL = 'https://api.cohere.com'

const DEFAULT_PATHS: Record<string, string> = {
  chat_completion: '/v2/chat',
  chat_completion_stream: '/v2/chat',
  embedding: '/v2/embed',
  rerank: '/v2/rerank',
  list_models: '/v1/models',
}

const FORWARDED_HEADERS = ['x-request-id', 'x-ratelimit-remaining']

/** The adapter for Cohere's v2 API: chat (and its stream), embed and rerank. */
export function createCohereAdapter(cfg: ProviderConfig): ProviderAdapter {
  const name = cfg.name
  const base = (cfg.network_config.base_url ?? DEFAULT_BASE_URL).replace(/\/+$/, '')

  const url = (op: string) =>
    base + (cfg.custom_provider_config?.request_path_overrides?.[op] ?? DEFAULT_PATHS[op])

  function headers(a: Attempt, json: boolean): Record<string, string> {
    const h: Record<string, string> = {}
    for (const [k, v] of Object.entries(a.extraHeaders)) h[k.toLowerCase()] = v
    if (json) h['content-type'] = 'application/json'
    h.accept = 'application/json'
    if (a.secret) h.authorization = `Bearer ${a.secret}`
    return h
  }

  async function post(a: Attempt, op: string, body: unknown): Promise<http.UpstreamResponse> {
    const res = await http.sendUpstream(
      a,
      { url: url(op), headers: headers(a, true), body: JSON.stringify(body) },
      name,
    )
    if (res.statusCode >= 400) {
      throw cohereError(name, res.statusCode, await http.readText(res, name, a.signal), res.headers)
    }
    return res
  }

  async function postJson<T>(
    a: Attempt,
    op: string,
    body: unknown,
  ): Promise<{ body: T; res: http.UpstreamResponse }> {
    const res = await post(a, op, body)
    return { body: http.parseJsonBody<T>(name, await http.readText(res, name, a.signal)), res }
  }

  return {
    format: 'cohere',

    async chat(a, req) {
      const { body, res } = await postJson<CohereChatResponse>(
        a,
        'chat_completion',
        toCohereRequest(req, a.model, false),
      )
      const unified = fromCohereResponse(body, a.model, name)
      return { body: unified, usage: unified.usage, headers: http.forwardedHeaders(res, FORWARDED_HEADERS) }
    },

    async chatStream(a, req) {
      const res = await post(a, 'chat_completion_stream', toCohereRequest(req, a.model, true))
      http.expectEventStream(res, name)
      return {
        items: translateCohereStream(res.body, a.model, name),
        headers: http.forwardedHeaders(res, FORWARDED_HEADERS),
      }
    },

    async embeddings(a, req) {
      const { body, res } = await postJson<CohereEmbedResponse>(a, 'embedding', toCohereEmbed(req, a.model))
      const vectors = floatsOf(body)
      if (!vectors) {
        throw new GatewayError('upstream_bad_response', `${name} answered without float embeddings`, {
          retryable: true,
        })
      }
      const tokens = body.meta?.billed_units?.input_tokens ?? body.meta?.tokens?.input_tokens ?? 0
      const usage = { prompt_tokens: tokens, completion_tokens: 0, total_tokens: tokens }
      const base64 = req.encoding_format === 'base64'
      return {
        body: {
          object: 'list',
          data: vectors.map((v, index) => ({
            object: 'embedding' as const,
            index,
            embedding: base64 ? Buffer.from(new Float32Array(v).buffer).toString('base64') : v,
          })),
          model: a.model,
          usage: { prompt_tokens: tokens, total_tokens: tokens },
        },
        usage,
        headers: http.forwardedHeaders(res, FORWARDED_HEADERS),
      }
    },

    async rerank(a, req) {
      const documents = req.documents.map(rerankDocument)
      const upstream: CohereRerankRequest = {
        model: a.model,
        query: req.query,
        documents: documents.map((d) => d.text),
      }
      if (req.top_n !== undefined) upstream.top_n = req.top_n
      if (req.max_tokens_per_doc !== undefined) upstream.max_tokens_per_doc = req.max_tokens_per_doc
      if (req.priority !== undefined) upstream.priority = req.priority
      const { body, res } = await postJson<CohereRerankResponse>(a, 'rerank', upstream)
      if (!Array.isArray(body?.results)) {
        throw new GatewayError('upstream_bad_response', `${name} answered without rerank results`, {
          retryable: true,
        })
      }
      const results: RerankResult[] = body.results
        .map((r) => ({
          index: r.index,
          relevance_score: r.relevance_score,
          ...(req.return_documents && documents[r.index] && { document: documents[r.index] }),
        }))
        .sort((x, y) => y.relevance_score - x.relevance_score || x.index - y.index)
      const billed = body.meta?.billed_units
      const prompt = body.meta?.tokens?.input_tokens ?? billed?.input_tokens ?? 0
      const usage = {
        prompt_tokens: prompt,
        completion_tokens: 0,
        total_tokens: prompt,
        ...(billed?.search_units !== undefined && { search_units: billed.search_units }),
      }
      return {
        body: { ...(body.id && { id: body.id }), results, model: a.model, usage },
        usage,
        headers: http.forwardedHeaders(res, FORWARDED_HEADERS),
      }
    },

    async listModels(a) {
      const res = await http.sendUpstream(
        a,
        { url: url('list_models') + '?page_size=1000', method: 'GET', headers: headers(a, false) },
        name,
      )
      const text = await http.readText(res, name, a.signal)
      if (res.statusCode >= 400) throw cohereError(name, res.statusCode, text, res.headers)
      const parsed = http.parseJsonBody<{ models?: { name: string }[] }>(name, text)
      return (parsed.models ?? []).map((m) => ({
        id: `${name}/${m.name}`,
        object: 'model',
        created: 0,
        owned_by: 'cohere',
      }))
    },
  }
}

function toCohereEmbed(req: EmbeddingRequest, model: string): CohereEmbedRequest {
  const input = typeof req.input === 'string' ? [req.input] : req.input
  if (!input.every((x): x is string => typeof x === 'string')) {
    throw new GatewayError('invalid_request', 'cohere embeds text; token arrays are not accepted', {
      param: 'input',
    })
  }
  const extra = req as Record<string, unknown>
  const out: CohereEmbedRequest = {
    model,
    texts: input,
    input_type: typeof extra.input_type === 'string' ? extra.input_type : 'search_document',
    embedding_types: ['float'],
  }
  if (req.dimensions !== undefined) out.output_dimension = req.dimensions
  if (typeof extra.truncate === 'string') out.truncate = extra.truncate as CohereEmbedRequest['truncate']
  return out
}

/** Float vectors from a v2 answer (`embeddings.float`) or a v1-style one (an array of vectors). */
function floatsOf(body: CohereEmbedResponse): number[][] | undefined {
  const e = body?.embeddings
  if (Array.isArray(e)) return e
  const floats = e?.float
  return Array.isArray(floats) ? (floats as number[][]) : undefined
}
