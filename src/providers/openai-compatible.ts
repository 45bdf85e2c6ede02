import { GatewayError } from '../core/errors.js'
import type { Attempt } from '../core/provider-adapter.js'
import type { ProviderConfig } from '../core/schemas/index.js'

/**
 * The OpenAI-compatible providers as data: one row each. A row names the default base URL (without
 * the `/v1` part, as Bifrost's `network_config.base_url`), the path prefix its API lives under, and
 * its quirks. Adding such a provider is one row here.
 */
export interface OpenAICompatibleSpec {
  /** Default base URL; `undefined` means the user must configure one (self-hosted engines). */
  baseUrl: string | undefined
  /** Prefix before `/chat/completions`, `/embeddings`, ... */
  pathPrefix: string
  /** How the provider reports streamed usage: asked for with stream_options, or sent unasked. */
  streamUsage: 'stream_options' | 'always'
  /** Whether the provider serves the Responses API natively (otherwise it is served through chat). */
  responses: boolean
  /** Whether the provider serves embeddings. */
  embeddings: boolean
  /** Whether the provider serves legacy text completions. */
  textCompletions: boolean
  /** Engines that usually run without an API key. */
  keyless: boolean
  /** Parameters the provider rejects; they are removed and reported, never silently. */
  rejects: readonly string[]
  /** Image and audio operations the provider serves (none when absent). */
  media?: readonly MediaOperation[]
  /** Whether Anthropic-style `cache_control` breakpoints go through (OpenRouter hands them to Claude); else they are removed. */
  cacheControl?: boolean
}

export type MediaOperation = 'image_generation' | 'speech' | 'transcription'

const base: Omit<OpenAICompatibleSpec, 'baseUrl'> = {
  pathPrefix: '/v1',
  streamUsage: 'stream_options',
  responses: false,
  embeddings: false,
  textCompletions: false,
  keyless: false,
  rejects: [],
}

export const OPENAI_COMPATIBLE: Record<string, OpenAICompatibleSpec> = {
  openai: {
    ...base,
    baseUrl: 'https://api.openai.com',
    responses: true,
    embeddings: true,
    textCompletions: true,
    media: ['image_generation', 'speech', 'transcription'],
  },
  groq: {
    ...base,
    baseUrl: 'https://api.groq.com/openai',
    responses: true,
    media: ['speech', 'transcription'],
  },
  mistral: { ...base, baseUrl: 'https://api.mistral.ai', streamUsage: 'always', embeddings: true },
  xai: { ...base, baseUrl: 'https://api.x.ai', responses: true },
  cerebras: { ...base, baseUrl: 'https://api.cerebras.ai' },
  openrouter: {
    ...base,
    baseUrl: 'https://openrouter.ai/api',
    responses: true,
    embeddings: true,
    cacheControl: true,
  },
  perplexity: { ...base, baseUrl: 'https://api.perplexity.ai', pathPrefix: '', streamUsage: 'always' },
  deepseek: { ...base, baseUrl: 'https://api.deepseek.com', textCompletions: true },
  fireworks: {
    ...base,
    baseUrl: 'https://api.fireworks.ai/inference',
    embeddings: true,
    textCompletions: true,
  },
  nebius: { ...base, baseUrl: 'https://api.studio.nebius.com', embeddings: true, textCompletions: true },
  parasail: { ...base, baseUrl: 'https://api.parasail.io' },
  huggingface: { ...base, baseUrl: 'https://router.huggingface.co', embeddings: false },
  ollama: {
    ...base,
    baseUrl: 'http://localhost:11434',
    keyless: true,
    embeddings: true,
    textCompletions: true,
  },
  vllm: { ...base, baseUrl: undefined, keyless: true, embeddings: true, textCompletions: true },
  sgl: { ...base, baseUrl: undefined, keyless: true, embeddings: true, textCompletions: true },
}

/** The row of a provider type; a name such as `constructor` or `__proto__` has none. */
export function openAICompatibleSpec(type: string): OpenAICompatibleSpec | undefined {
  return Object.hasOwn(OPENAI_COMPATIBLE, type) ? OPENAI_COMPATIBLE[type] : undefined
}

/**
 * Where an OpenAI-format attempt is sent: its key's own URL (vLLM, Ollama, SGLang keys carry one),
 * else the provider's `network_config.base_url`, else the table's default; as configured, slashes and all.
 */
export function openAIBaseUrl(a: Attempt, cfg: ProviderConfig, spec: OpenAICompatibleSpec): string {
  const k = a.key
  const perKey =
    (k.vllm_key_config?.url as string | undefined) ??
    (k.ollama_key_config?.url as string | undefined) ??
    (k.sgl_key_config?.url as string | undefined)
  const url = perKey ?? cfg.network_config.base_url ?? spec.baseUrl
  if (!url) {
    throw new GatewayError('provider_not_configured', `provider ${cfg.name} needs network_config.base_url`, {
      retryable: false,
    })
  }
  return url
}
