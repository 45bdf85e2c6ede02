import { GatewayError } from '../../core/errors.js'
import type { EmbeddingRequest, EmbeddingResponse, ProviderConfig } from '../../core/schemas/index.js'
import { createAnthropicAdapter } from '../anthropic/index.js'
import { createGeminiAdapter, geminiError } from '../gemini/index.js'
import * as http from '../http.js'
import type { Attempt, JsonResult, ProviderAdapter } from '../../core/provider-adapter.js'
import { fromVertexEmbedResponse, toVertexEmbedRequest } from './embeddings.js'
import { checkVertexKeys, vertexSettings, type VertexKeySettings } from './settings.js'
import { GoogleTokenCache } from './token.js'
import { vertexModelUrl } from './urls.js'

/** Anthropic's models on Vertex take the API version in the body, not in a header. */
const VERTEX_ANTHROPIC_VERSION = 'vertex-2023-10-16'

type Family = 'google' | 'anthropic'

/** A resolved attempt: its key settings, the Vertex model ID and the family that serves it. */
interface Target {
  settings: VertexKeySettings
  deployment: string
  family: Family
  /** `anthropic-beta` values, sent as `anthropic_beta` in the body on Vertex. */
  betas: string[]
}

/** Which wire format serves a model: Claude speaks Anthropic's, Gemini, Gemma and tuned endpoints Google's. */
function familyOf(deployment: string, providerName: string): Family {
  const m = deployment.toLowerCase()
  if (m.startsWith('claude')) return 'anthropic'
  if (/^(gemini|gemma|text-embedding|text-multilingual-embedding)/.test(m) || /^\d+$/.test(m)) return 'google'
  throw new GatewayError(
    'invalid_request',
    `${providerName} serves gemini-* and claude-* models (or a tuned endpoint's numeric ID); ${deployment} is neither`,
    { param: 'model', retryable: false },
  )
}

/**
 * Google Cloud Vertex AI: Gemini models on `publishers/google` (generateContent, predict for
 * embeddings), Claude on `publishers/anthropic` (rawPredict, streamRawPredict), authenticated with an
 * OAuth access token obtained for the key's service account.
 */
export function createVertexAdapter(cfg: ProviderConfig): ProviderAdapter {
  checkVertexKeys(cfg)
  const name = cfg.name
  const tokens = new GoogleTokenCache()
  const targets = new WeakMap<Attempt, Target>()

  function modelUrl(t: Target): string {
    const { region, projectId, projectNumber } = t.settings
    const ref = { region, projectId, projectNumber, deployment: t.deployment, publisher: t.family }
    return vertexModelUrl(ref, cfg.network_config.base_url)
  }

  function targetOf(a: Attempt): Target {
    const t = targets.get(a)
    if (!t) throw new GatewayError('internal', `${name}: attempt used without authorization`)
    return t
  }

  const gemini = createGeminiAdapter(cfg, {
    url: (a, method, query) => `${modelUrl(targetOf(a))}:${method}${query}`,
  })
  const anthropic = createAnthropicAdapter(cfg, {
    // Claude on Vertex has no structured outputs (Bifrost makes them a forced tool too).
    structuredOutputAsTool: true,
    url: (a, op) =>
      `${modelUrl(targetOf(a))}:${op === 'chat_completion_stream' ? 'streamRawPredict' : 'rawPredict'}`,
    body(a, req) {
      const { model: _model, ...rest } = req
      const betas = targetOf(a).betas
      return {
        anthropic_version: VERTEX_ANTHROPIC_VERSION,
        ...rest,
        ...(betas.length > 0 && { anthropic_beta: betas }),
      }
    },
  })

  /**
   * The attempt as the inner adapters should send it: a Bearer token instead of a key, the
   * caller's own authorization and `anthropic-beta` headers taken out.
   */
  async function authorized(a: Attempt): Promise<Attempt> {
    const settings = vertexSettings(cfg, a.key)
    const deployment = settings.deployments[a.model] ?? a.model
    const family = familyOf(deployment, name)
    const where = `key ${a.key.name} of provider ${name}: vertex_key_config.auth_credentials`
    const token = await tokens.token(settings.credentials, where, a.timeoutMs)
    const headers: Record<string, string> = {}
    let betas: string[] = []
    for (const [k, v] of Object.entries(a.extraHeaders)) {
      const lower = k.toLowerCase()
      if (lower === 'authorization' || lower === 'x-goog-api-key') continue
      if (lower === 'anthropic-beta' && family === 'anthropic') {
        betas = v
          .split(',')
          .map((b) => b.trim())
          .filter(Boolean)
        continue
      }
      headers[k] = v
    }
    headers.authorization = `Bearer ${token}`
    const next: Attempt = { ...a, secret: '', model: deployment, extraHeaders: headers }
    targets.set(next, { settings, deployment, family, betas })
    return next
  }

  /** Runs a call with a token; a 401 from Vertex drops the cached token so the next attempt gets a new one. */
  async function withToken<T>(a: Attempt, call: (next: Attempt, family: Family) => Promise<T>): Promise<T> {
    const next = await authorized(a)
    const t = targetOf(next)
    try {
      return await call(next, t.family)
    } catch (err) {
      if (err instanceof GatewayError && err.status === 401) tokens.forget(t.settings.credentials)
      throw err
    }
  }

  return {
    format: 'vertex',
    chat: (a, req) => withToken(a, (next, f) => (f === 'anthropic' ? anthropic : gemini).chat(next, req)),
    chatStream: (a, req) =>
      withToken(a, (next, f) => (f === 'anthropic' ? anthropic : gemini).chatStream(next, req)),

    embeddings: (a, req) =>
      withToken(a, async (next, f): Promise<JsonResult<EmbeddingResponse>> => {
        if (f !== 'google') {
          throw new GatewayError('unsupported_operation', `${name}: ${next.model} does not make embeddings`, {
            param: 'model',
            retryable: false,
          })
        }
        return embed(next, req)
      }),

    // The models a key names (deployments, then its allow-list) are the ones it serves.
    listModels(a) {
      const ids = new Set([
        ...Object.keys(a.key.vertex_key_config?.deployments ?? {}),
        ...a.key.models.filter((m) => m !== '*'),
      ])
      return Promise.resolve(
        [...ids].map((m) => ({ id: `${name}/${m}`, object: 'model', created: 0, owned_by: name })),
      )
    },
  }

  async function embed(a: Attempt, req: EmbeddingRequest): Promise<JsonResult<EmbeddingResponse>> {
    const call = toVertexEmbedRequest(req)
    const res = await http.sendUpstream(
      a,
      {
        url: `${modelUrl(targetOf(a))}:predict`,
        headers: { ...a.extraHeaders, 'content-type': 'application/json' },
        body: JSON.stringify(call.body),
      },
      name,
    )
    const text = await http.readText(res, name, a.signal)
    if (res.statusCode >= 400) throw geminiError(name, res.statusCode, text, res.headers)
    const body = fromVertexEmbedResponse(
      http.parseJsonBody<unknown>(name, text),
      call.inputs,
      req,
      a.model,
      name,
    )
    return { body, usage: { ...body.usage, completion_tokens: 0 } }
  }
}
