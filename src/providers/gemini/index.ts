import { pathSegment } from '../../core/path-segment.js'
import type { ModelEntry, ProviderConfig } from '../../core/schemas/index.js'
import * as http from '../http.js'
import type { Attempt, ProviderAdapter } from '../../core/provider-adapter.js'
import { fromGeminiEmbedResponse, toGeminiEmbedCall } from './embeddings.js'
import { geminiError } from './errors.js'
import { geminiMediaOperations } from './media.js'
import { toGeminiRequest } from './request.js'
import { fromGeminiResponse, type GeminiResponse } from './response.js'
import { translateGeminiStream } from './stream.js'

export { geminiError } from './errors.js'

const DEFAULT_BASE_URL = 'https://generativelanguage.googleapis.com'

/** Model listing follows nextPageToken, but not forever. */
const MAX_MODEL_PAGES = 20

interface GeminiModel {
  name?: string
  displayName?: string
  description?: string
  inputTokenLimit?: number
  outputTokenLimit?: number
  supportedGenerationMethods?: string[]
}

/**
 * Where a host other than Google AI Studio serves the generateContent API (Vertex AI). Auth is the
 * caller's: it sends the attempt with an empty secret and its own header in `extraHeaders`.
 */
export interface GeminiEndpoint {
  /** The URL of a model method (`generateContent`, `streamGenerateContent`), `query` appended. */
  url(a: Attempt, method: string, query: string): string
}

/** The adapter for Google AI Studio's Gemini API (generativelanguage v1beta), or another endpoint of it. */
export function createGeminiAdapter(cfg: ProviderConfig, endpoint?: GeminiEndpoint): ProviderAdapter {
  const name = cfg.name

  /** `{base}/v1beta`, whether or not the configured base URL already ends with the version. */
  function apiRoot(): string {
    let url = cfg.network_config.base_url || DEFAULT_BASE_URL
    while (url.endsWith('/')) url = url.slice(0, -1)
    return /\/v1(beta\d*)?$/.test(url) ? url : `${url}/v1beta`
  }

  /** `models/gemini-2.5-flash`, or a tuned model's `tunedModels/{id}`: the resource name in a body. */
  function modelName(model: string): string {
    return /^(models|tunedModels)\/[^/]+$/.test(model) ? model : `models/${model}`
  }

  /** The resource name as it goes in the URL: the caller's name is one encoded segment. */
  function modelPath(model: string): string {
    const name = modelName(model)
    const slash = name.indexOf('/')
    return `${name.slice(0, slash)}/${pathSegment(name.slice(slash + 1))}`
  }

  function headers(a: Attempt, json: boolean): Record<string, string> {
    const h: Record<string, string> = { ...a.extraHeaders }
    if (json) h['content-type'] = 'application/json'
    if (a.secret) h['x-goog-api-key'] = a.secret
    return h
  }

  async function post(a: Attempt, method: string, body: unknown, query = ''): Promise<http.UpstreamResponse> {
    const url = endpoint
      ? endpoint.url(a, method, query)
      : `${apiRoot()}/${modelPath(a.model)}:${method}${query}`
    const res = await http.sendUpstream(
      a,
      { url, headers: headers(a, true), body: JSON.stringify(body) },
      name,
    )
    if (res.statusCode >= 400) {
      const text = await http.readText(res, name, a.signal)
      throw geminiError(name, res.statusCode, text, res.headers)
    }
    return res
  }

  async function postJson<T>(a: Attempt, method: string, body: unknown): Promise<T> {
    const res = await post(a, method, body)
    return http.parseJsonBody<T>(name, await http.readText(res, name, a.signal))
  }

  const adapter: ProviderAdapter = {
    format: 'gemini',

    async chat(a, req) {
      const res = await postJson<GeminiResponse>(a, 'generateContent', toGeminiRequest(req))
      const body = fromGeminiResponse(res, a.model, name)
      return { body, usage: body.usage }
    },

    async chatStream(a, req) {
      const res = await post(a, 'streamGenerateContent', toGeminiRequest(req), '?alt=sse')
      http.expectEventStream(res, name)
      return { items: translateGeminiStream(res.body, name, a.model) }
    },

    async embeddings(a, req) {
      const call = toGeminiEmbedCall(req, modelName(a.model))
      const res = await postJson<unknown>(a, call.method, call.body)
      const body = fromGeminiEmbedResponse(res, call, req, a.model, name)
      return { body, usage: { ...body.usage, completion_tokens: 0 } }
    },

    ...geminiMediaOperations(name, postJson),

    ...(!endpoint && {
      async countTokens(a, req) {
        const generateContentRequest = { model: modelName(a.model), ...toGeminiRequest(req) }
        const res = await postJson<{ totalTokens?: number }>(a, 'countTokens', { generateContentRequest })
        return { body: { input_tokens: res.totalTokens ?? 0 } }
      },
    }),

    async listModels(a) {
      const out: ModelEntry[] = []
      let pageToken: string | undefined
      for (let page = 0; page < MAX_MODEL_PAGES; page++) {
        const query = `?pageSize=1000${pageToken ? `&pageToken=${encodeURIComponent(pageToken)}` : ''}`
        const res = await http.sendUpstream(
          a,
          { url: `${apiRoot()}/models${query}`, method: 'GET', headers: headers(a, false) },
          name,
        )
        const text = await http.readText(res, name, a.signal)
        if (res.statusCode >= 400) throw geminiError(name, res.statusCode, text, res.headers)
        const parsed = http.parseJsonBody<{ models?: GeminiModel[]; nextPageToken?: string }>(name, text)
        for (const m of parsed.models ?? []) {
          if (!m.name) continue
          const entry: ModelEntry = {
            id: `${name}/${m.name.replace(/^models\//, '')}`,
            object: 'model',
            created: 0,
            owned_by: 'google',
          }
          if (m.displayName) entry.name = m.displayName
          if (m.description) entry.description = m.description
          if (m.inputTokenLimit) entry.context_length = m.inputTokenLimit
          if (m.outputTokenLimit) entry.max_output_tokens = m.outputTokenLimit
          if (m.supportedGenerationMethods) entry.supported_methods = m.supportedGenerationMethods
          out.push(entry)
        }
        pageToken = parsed.nextPageToken
        if (!pageToken) break
      }
      return out
    },
  }
  return adapter
}
