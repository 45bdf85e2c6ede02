import { readText, jsonResult, sendUpstream } from '../http.js'
import type { Attempt, JsonResult } from '../../core/provider-adapter.js'
import { cohereError } from './errors.js'

const DEFAULT_BASE_URL = 'https://api.cohere.com'

/** Cohere's `POST /v1/tokenize` answer: the ids and the text of each token. */
export interface CohereTokenizeResponse {
  tokens: number[]
  token_strings: string[]
  meta?: unknown
}

/**
 * Cohere's `POST /v1/tokenize` with one of the provider's keys: `{text, model}` in, Cohere's own
 * answer out, byte for byte.
 */
export async function cohereTokenize(a: Attempt, text: string): Promise<JsonResult<CohereTokenizeResponse>> {
  const cfg = a.provider
  const base = (cfg.network_config.base_url ?? DEFAULT_BASE_URL).replace(/\/+$/, '')
  const path = cfg.custom_provider_config?.request_path_overrides?.count_tokens ?? '/v1/tokenize'
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(a.extraHeaders)) headers[k.toLowerCase()] = v
  headers['content-type'] = 'application/json'
  headers.accept = 'application/json'
  if (a.secret) headers.authorization = `Bearer ${a.secret}`
  const name = cfg.name
  const res = await sendUpstream(
    a,
    { url: base + path, headers, body: JSON.stringify({ text, model: a.model }) },
    name,
  )
  const body = await readText(res, name, a.signal)
  if (res.statusCode >= 400) throw cohereError(name, res.statusCode, body, res.headers)
  return jsonResult<CohereTokenizeResponse>(name, body)
}
