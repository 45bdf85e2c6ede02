import type { ConfigFile } from '../../src/core/schemas/index.js'
import { fakeProvider } from './heimdall.js'

/** Bifrost's `extra_fields.cache_debug`, as a caller reads it. */
export interface CacheDebug {
  cache_hit: boolean
  cache_id?: string
  hit_type?: string
  similarity?: number
  threshold?: number
  provider_used?: string
  model_used?: string
  input_tokens?: number
}

export const debugOf = (body: unknown): CacheDebug | undefined =>
  (body as { extra_fields?: { cache_debug?: CacheDebug } }).extra_fields?.cache_debug

/** config.json of a gateway with the cache on: the OpenAI fake for chat, the bag-of-words fake for embeddings. */
export function cacheConfig(
  chatUrl: string,
  embedUrl: string,
  cache: Record<string, unknown> = {},
): ConfigFile {
  return {
    providers: {
      openai: fakeProvider(chatUrl),
      embedder: fakeProvider(embedUrl, { custom_provider_config: { base_provider_type: 'openai' } }),
    },
    plugins: [
      {
        name: 'semantic_cache',
        enabled: true,
        config: {
          provider: 'embedder',
          embedding_model: 'bag-of-words',
          dimension: 64,
          threshold: 0.8,
          ttl: '5m',
          ...cache,
        },
      },
    ],
  } as ConfigFile
}

/** Repeats a call until it is answered from the cache (writes are off the request path), at most 5 s. */
export async function untilHit<T>(
  call: () => Promise<T>,
  debug: (r: T) => CacheDebug | undefined,
): Promise<T> {
  const end = Date.now() + 5000
  for (;;) {
    const r = await call()
    if (debug(r)?.cache_hit || Date.now() > end) return r
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}
