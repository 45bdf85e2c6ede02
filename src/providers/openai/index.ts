import type {
  ChatResponse,
  EmbeddingResponse,
  ModelEntry,
  ProviderConfig,
  ResponsesRequest,
  ResponsesResponse,
  ResponsesStreamEvent,
  TextCompletionResponse,
  Usage,
} from '../../core/schemas/index.js'
import * as http from '../http.js'
import { openAIBaseUrl, type OpenAICompatibleSpec } from '../openai-compatible.js'
import { eventJson, malformedEvent, parseSse, streamBroken } from '../sse.js'
import type {
  Attempt,
  JsonResult,
  ProviderAdapter,
  ResponsesStreamItem,
} from '../../core/provider-adapter.js'
import { parseOpenAIError } from './errors.js'
import { openAIMediaOperations } from './media.js'
import { toOpenAIBody } from './request.js'
import { relayOpenAIFrames, relayOpenAIStream } from './stream.js'

/** Headers from the provider worth passing back to the caller. */
const FORWARDED_HEADERS = [
  'x-request-id',
  'openai-processing-ms',
  'x-ratelimit-remaining-requests',
  'x-ratelimit-remaining-tokens',
]

/** The adapter for OpenAI and every OpenAI-compatible provider: the body passes through, model renamed. */
/** Where an OpenAI-format provider's operations live, when not at `{base_url}{prefix}{path}` (Azure). */
export interface OpenAIWire {
  url(a: Attempt, path: string, op: string): string
}

export function createOpenAIAdapter(
  cfg: ProviderConfig,
  spec: OpenAICompatibleSpec,
  wire?: OpenAIWire,
): ProviderAdapter {
  const name = cfg.name

  function baseUrlFor(a: Attempt): string {
    const url = openAIBaseUrl(a, cfg, spec)
    return url.endsWith('/') ? url.slice(0, -1) : url
  }

  function headers(a: Attempt, json: boolean): Record<string, string> {
    const h: Record<string, string> = { ...a.extraHeaders }
    if (json) h['content-type'] = 'application/json'
    if (a.secret) h.authorization = `Bearer ${a.secret}`
    return h
  }

  function pathFor(op: string): string {
    const override = cfg.custom_provider_config?.request_path_overrides?.[op]
    if (override) return override
    return spec.pathPrefix + defaultPaths[op]
  }

  function urlFor(a: Attempt, op: string): string {
    return wire ? wire.url(a, pathFor(op), op) : baseUrlFor(a) + pathFor(op)
  }

  /** A streamed operation's answer, its body not read yet. */
  async function post(a: Attempt, op: string, body: string): Promise<http.UpstreamStream> {
    const res = await http.streamUpstream(a, { url: urlFor(a, op), headers: headers(a, true), body }, name)
    if (res.statusCode >= 400)
      throw http.upstreamError(name, res.statusCode, await res.text(), res.headers, parseOpenAIError)
    return res
  }

  async function json<T>(a: Attempt, op: string, body: string): Promise<JsonResult<T>> {
    const res = await http.fetchUpstreamText(a, { url: urlFor(a, op), headers: headers(a, true), body }, name)
    if (res.statusCode >= 400)
      throw http.upstreamError(name, res.statusCode, res.text, res.headers, parseOpenAIError)
    return http.jsonResult<T>(name, res.text, http.forwardedHeaders(res, FORWARDED_HEADERS))
  }

  const adapter: ProviderAdapter = {
    format: 'openai',

    chat(a, req) {
      return json<ChatResponse>(a, 'chat_completion', toOpenAIBody(req, a.model, spec, false))
    },

    async chatStream(a, req) {
      const res = await post(a, 'chat_completion_stream', toOpenAIBody(req, a.model, spec, true))
      http.expectEventStream(res, name)
      return {
        items: (a.passthrough ? relayOpenAIFrames : relayOpenAIStream)(res.body, name),
        headers: http.forwardedHeaders(res, FORWARDED_HEADERS),
      }
    },

    async listModels(a) {
      const res = await http.sendUpstream(
        a,
        { url: urlFor(a, 'list_models'), method: 'GET', headers: headers(a, false) },
        name,
      )
      const text = await http.readText(res, name, a.signal)
      if (res.statusCode >= 400)
        throw http.upstreamError(name, res.statusCode, text, res.headers, parseOpenAIError)
      const parsed = http.parseJsonBody<{ data?: ModelEntry[] }>(name, text)
      return (parsed.data ?? []).map((m) => ({ ...m, id: `${name}/${m.id}` }))
    },
  }

  if (spec.embeddings) {
    adapter.embeddings = (a, req) =>
      json<EmbeddingResponse>(a, 'embedding', toOpenAIBody(req, a.model, spec, false))
  }

  if (spec.textCompletions) {
    adapter.textCompletion = (a, req) =>
      json<TextCompletionResponse>(a, 'text_completion', toOpenAIBody(req, a.model, spec, false))
    adapter.textCompletionStream = async (a, req) => {
      const res = await post(a, 'text_completion_stream', toOpenAIBody(req, a.model, spec, true))
      http.expectEventStream(res, name)
      return {
        items: (a.passthrough ? relayOpenAIFrames : relayOpenAIStream)(res.body, name),
        headers: http.forwardedHeaders(res, FORWARDED_HEADERS),
      }
    }
  }

  if (spec.responses) {
    adapter.responses = async (a, req) => {
      const result = await json<ResponsesResponse>(a, 'responses', toResponsesBody(req, a.model, false))
      // The Responses API names its usage fields its own way.
      const usage = responsesUsageToUsage(result.usage as ResponsesResponse['usage'])
      return {
        raw: result.raw,
        headers: result.headers,
        usage,
        get body() {
          return result.body
        },
      }
    }
    adapter.responsesStream = async (a, req) => {
      const res = await post(a, 'responses_stream', toResponsesBody(req, a.model, true))
      http.expectEventStream(res, name)
      return {
        items: relayResponsesStream(res.body, name),
        headers: http.forwardedHeaders(res, FORWARDED_HEADERS),
      }
    }
  }

  Object.assign(
    adapter,
    openAIMediaOperations({
      name,
      media: spec.media ?? [],
      url: urlFor,
      headers,
      pick: (res) => http.forwardedHeaders(res, FORWARDED_HEADERS),
    }),
  )
  return adapter
}

const defaultPaths: Record<string, string> = {
  chat_completion: '/chat/completions',
  chat_completion_stream: '/chat/completions',
  text_completion: '/completions',
  text_completion_stream: '/completions',
  responses: '/responses',
  responses_stream: '/responses',
  embedding: '/embeddings',
  list_models: '/models',
  image_generation: '/images/generations',
  speech: '/audio/speech',
  transcription: '/audio/transcriptions',
}

function toResponsesBody(req: ResponsesRequest, model: string, stream: boolean): string {
  const body: Record<string, unknown> = { ...req, model }
  delete body.fallbacks
  if (stream) body.stream = true
  else delete body.stream
  return JSON.stringify(body)
}

export function responsesUsageToUsage(u: ResponsesResponse['usage']): Usage | undefined {
  if (!u) return undefined
  const usage: Usage = {
    prompt_tokens: u.input_tokens ?? 0,
    completion_tokens: u.output_tokens ?? 0,
    total_tokens: u.total_tokens ?? (u.input_tokens ?? 0) + (u.output_tokens ?? 0),
  }
  if (u.input_tokens_details) usage.prompt_tokens_details = { ...u.input_tokens_details }
  if (u.output_tokens_details) usage.completion_tokens_details = { ...u.output_tokens_details }
  return usage
}

async function* relayResponsesStream(
  body: AsyncIterable<Buffer>,
  provider: string,
): AsyncGenerator<ResponsesStreamItem> {
  let finished = false
  for await (const ev of parseSse(body, provider)) {
    if (ev.data === '[DONE]') continue
    let event = eventJson<ResponsesStreamEvent>(provider, ev.data)
    if (Array.isArray(event)) throw malformedEvent(provider, ev.data)
    // An event whose data names no type is named by its SSE `event:` line; one with neither is not relayable.
    if (typeof event.type !== 'string' || !event.type) {
      if (!ev.event) continue
      event = { ...event, type: ev.event }
    }
    if (event.type === 'error') {
      throw streamBroken(
        provider,
        new Error(String((event as { message?: unknown }).message ?? 'error event')),
      )
    }
    const terminal =
      event.type === 'response.completed' ||
      event.type === 'response.incomplete' ||
      event.type === 'response.failed'
    if (terminal) {
      finished = true
      const response = event.response as ResponsesResponse | undefined
      yield { event, usage: responsesUsageToUsage(response?.usage) }
      continue
    }
    yield { event }
  }
  if (!finished) throw streamBroken(provider, new Error('the stream ended before response.completed'))
}
