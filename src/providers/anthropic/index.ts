import type { ChatRequest, ModelEntry, ProviderConfig } from '../../core/schemas/index.js'
import * as http from '../http.js'
import type { Attempt, ProviderAdapter } from '../../core/provider-adapter.js'
import { anthropicError } from './errors.js'
import { toAnthropicRequest, type AnthropicRequest } from './request.js'
import { fromAnthropicMessage, type AnthropicMessage } from './response.js'
import { translateAnthropicStream } from './stream.js'
import { structuredFormatOf, structuredToolStreamToText, structuredToolToText } from '../structured-output.js'

export { toAnthropicRequest, type AnthropicRequest } from './request.js'
export { fromAnthropicMessage, toUsage as anthropicUsageToUsage } from './response.js'
export { translateAnthropicStream } from './stream.js'

const DEFAULT_BASE_URL = 'https://api.anthropic.com'
const API_VERSION = '2023-06-01'

/** Headers from Anthropic worth passing back to the caller. */
const FORWARDED_HEADERS = [
  'request-id',
  'anthropic-ratelimit-requests-remaining',
  'anthropic-ratelimit-tokens-remaining',
]

const DEFAULT_PATHS: Record<string, string> = {
  chat_completion: '/v1/messages',
  chat_completion_stream: '/v1/messages',
  list_models: '/v1/models',
  count_tokens: '/v1/messages/count_tokens',
}

/** The fields of a Messages body that count_tokens accepts. */
const COUNT_TOKENS_FIELDS = ['model', 'messages', 'system', 'tools', 'tool_choice', 'thinking', 'mcp_servers']

/** Paging through /v1/models stops here, whatever `has_more` says. */
const MAX_MODEL_PAGES = 20

interface AnthropicModelPage {
  data?: { id: string; display_name?: string; created_at?: string }[]
  has_more?: boolean
  last_id?: string | null
}

/**
 * Where a cloud other than Anthropic's serves the Messages API (Vertex AI). Auth is the caller's: it
 * sends the attempt with an empty secret and its own header in `extraHeaders`.
 */
export interface AnthropicEndpoint {
  /** The URL of an operation: `chat_completion`, `chat_completion_stream`. */
  url(a: Attempt, op: string): string
  /** The body as this endpoint takes it (e.g. without `model`, with `anthropic_version`). */
  body(a: Attempt, req: AnthropicRequest): unknown
  /** The endpoint has no structured outputs: `response_format` goes as a forced tool. */
  structuredOutputAsTool?: boolean
}

/** The adapter for Anthropic's Messages API (or another endpoint of it): unified chat in, unified chat out. */
export function createAnthropicAdapter(cfg: ProviderConfig, endpoint?: AnthropicEndpoint): ProviderAdapter {
  const name = cfg.name
  const base = (cfg.network_config.base_url ?? DEFAULT_BASE_URL).replace(/\/+$/, '')
  const opts = { structuredOutputAsTool: endpoint?.structuredOutputAsTool === true }

  /** The structured-output tool of a request built for a tool-only endpoint, if it has one. */
  function structuredTool(req: ChatRequest, out: AnthropicRequest): string | undefined {
    const native = out.output_format ?? (out.output_config as { format?: unknown } | undefined)?.format
    if (!opts.structuredOutputAsTool || native != null) return undefined
    const format = structuredFormatOf(req.response_format)
    return format?.type === 'json_schema' ? format.name : undefined
  }

  function url(a: Attempt, op: string): string {
    if (endpoint) return endpoint.url(a, op)
    return base + (cfg.custom_provider_config?.request_path_overrides?.[op] ?? DEFAULT_PATHS[op])
  }

  function headers(a: Attempt, json: boolean): Record<string, string> {
    // Lower-cased so that a caller's `Anthropic-Beta` cannot go out twice beside ours.
    const h: Record<string, string> = { 'anthropic-version': API_VERSION }
    for (const [k, v] of Object.entries(a.extraHeaders)) h[k.toLowerCase()] = v
    if (json) h['content-type'] = 'application/json'
    if (a.secret) h['x-api-key'] = a.secret
    return h
  }

  async function post(a: Attempt, op: string, req: AnthropicRequest): Promise<http.UpstreamResponse> {
    const body = endpoint ? endpoint.body(a, req) : req
    const res = await http.sendUpstream(
      a,
      { url: url(a, op), headers: headers(a, true), body: JSON.stringify(body) },
      name,
    )
    if (res.statusCode >= 400) {
      const text = await http.readText(res, name, a.signal)
      throw anthropicError(name, res.statusCode, text, res.headers)
    }
    return res
  }

  return {
    format: 'anthropic',

    async chat(a, req) {
      const out = toAnthropicRequest(req, a.model, false, opts)
      const res = await post(a, 'chat_completion', out)
      const text = await http.readText(res, name, a.signal)
      let body = fromAnthropicMessage(http.parseJsonBody<AnthropicMessage>(name, text), name)
      const tool = structuredTool(req, out)
      if (tool) body = structuredToolToText(body, tool)
      return { body, usage: body.usage, headers: http.forwardedHeaders(res, FORWARDED_HEADERS) }
    },

    async chatStream(a, req) {
      const out = toAnthropicRequest(req, a.model, true, opts)
      const res = await post(a, 'chat_completion_stream', out)
      http.expectEventStream(res, name)
      const items = translateAnthropicStream(res.body, name)
      const tool = structuredTool(req, out)
      return {
        items: tool ? structuredToolStreamToText(items, tool) : items,
        headers: http.forwardedHeaders(res, FORWARDED_HEADERS),
      }
    },

    // Only Anthropic's own API is known to serve count_tokens at this path.
    ...(!endpoint && {
      async countTokens(a, req) {
        // count_tokens takes the prompt's fields only; generation settings would be rejected.
        const full = toAnthropicRequest(req, a.model, false) as Record<string, unknown>
        const body: Record<string, unknown> = {}
        for (const k of COUNT_TOKENS_FIELDS) if (full[k] !== undefined) body[k] = full[k]
        const res = await post(a, 'count_tokens', body as AnthropicRequest)
        const parsed = http.parseJsonBody<{ input_tokens?: number }>(
          name,
          await http.readText(res, name, a.signal),
        )
        return {
          body: { input_tokens: parsed.input_tokens ?? 0 },
          headers: http.forwardedHeaders(res, FORWARDED_HEADERS),
        }
      },
    }),

    async listModels(a) {
      const out: ModelEntry[] = []
      let after: string | undefined
      for (let page = 0; page < MAX_MODEL_PAGES; page++) {
        const query = `?limit=1000${after ? `&after_id=${encodeURIComponent(after)}` : ''}`
        const res = await http.sendUpstream(
          a,
          { url: url(a, 'list_models') + query, method: 'GET', headers: headers(a, false) },
          name,
        )
        const text = await http.readText(res, name, a.signal)
        if (res.statusCode >= 400) throw anthropicError(name, res.statusCode, text, res.headers)
        const parsed = http.parseJsonBody<AnthropicModelPage>(name, text)
        for (const m of parsed.data ?? []) {
          const created = m.created_at ? Math.floor(Date.parse(m.created_at) / 1000) : 0
          out.push({
            id: `${name}/${m.id}`,
            object: 'model',
            created: Number.isFinite(created) ? created : 0,
            owned_by: 'anthropic',
            ...(m.display_name !== undefined && { name: m.display_name }),
          })
        }
        if (!parsed.has_more || !parsed.last_id) break
        after = parsed.last_id
      }
      return out
    },
  }
}
