import { Type, type Static } from '@sinclair/typebox'

/** Bifrost's semantic_cache config (plugins/semanticcache Config), plus Heimdall's `shared_cache_keys`. */
export const SemanticCacheConfigSchema = Type.Object({
  /** The embedding provider (a configured provider of this gateway); absent: exact (direct) lookups only. */
  provider: Type.Optional(Type.String()),
  /** Bifrost lists the embedding provider's keys here; Heimdall uses the provider's own configured keys. */
  keys: Type.Optional(Type.Array(Type.Unknown())),
  embedding_model: Type.Optional(Type.String()),
  dimension: Type.Optional(Type.Integer({ minimum: 1, maximum: 65536 })),
  /** Seconds, or a Go duration string ("5m", "1h30m", "90s"). Default 5 minutes. */
  ttl: Type.Optional(Type.Union([Type.Number({ exclusiveMinimum: 0 }), Type.String()])),
  threshold: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  conversation_history_threshold: Type.Optional(Type.Integer({ minimum: 0 })),
  exclude_system_prompt: Type.Optional(Type.Boolean()),
  cache_by_model: Type.Optional(Type.Boolean()),
  cache_by_provider: Type.Optional(Type.Boolean()),
  vector_store_namespace: Type.Optional(Type.String()),
  default_cache_key: Type.Optional(Type.String()),
  cleanup_on_shutdown: Type.Optional(Type.Boolean()),
  /**
   * Heimdall: cache keys whose entries every virtual key may receive. Any other key's entries are
   * kept apart per virtual key, so that one key never receives another's cached answer.
   */
  shared_cache_keys: Type.Optional(Type.Array(Type.String())),
  /**
   * Heimdall: where entries are kept. `config_store` (default): the config store's database, SQLite
   * under the app dir or the PostgreSQL every node shares. `redis`: Redis (`redis_url`, else the
   * cluster's `cluster.redis_url`), shared by every node.
   */
  store: Type.Optional(Type.Union([Type.Literal('config_store'), Type.Literal('redis')])),
  /** Heimdall: the Redis of `store: "redis"` when it is not the cluster's. */
  redis_url: Type.Optional(Type.String({ minLength: 1 })),
  /** Heimdall: how long a lookup (store read, embedding, search) may take before the request goes on as a miss. */
  lookup_timeout_ms: Type.Optional(Type.Integer({ minimum: 1, maximum: 60_000 })),
})

export type SemanticCacheConfig = Static<typeof SemanticCacheConfigSchema>

/** The config with Bifrost's defaults applied. */
export interface CacheSettings {
  provider?: string
  embeddingModel?: string
  dimension: number
  ttlMs: number
  threshold: number
  conversationHistoryThreshold: number
  excludeSystemPrompt: boolean
  cacheByModel: boolean
  cacheByProvider: boolean
  namespace: string
  defaultCacheKey: string
  sharedCacheKeys: ReadonlySet<string>
  lookupTimeoutMs: number
  store: 'config_store' | 'redis'
  /** Whether lookups by meaning are possible (an embedding provider and model are set). */
  semantic: boolean
}

export const DEFAULT_NAMESPACE = 'BifrostSemanticCachePlugin'

export function cacheSettings(c: SemanticCacheConfig): CacheSettings {
  const semantic = Boolean(c.provider && c.embedding_model)
  if (semantic && !c.dimension) throw new Error('dimension is required with provider and embedding_model')
  return {
    provider: c.provider || undefined,
    embeddingModel: c.embedding_model || undefined,
    dimension: c.dimension ?? 1,
    ttlMs: c.ttl === undefined ? 5 * 60_000 : parseTtlMs(c.ttl, 'ttl'),
    threshold: c.threshold || 0.8,
    conversationHistoryThreshold: c.conversation_history_threshold || 3,
    excludeSystemPrompt: c.exclude_system_prompt ?? false,
    cacheByModel: c.cache_by_model ?? true,
    cacheByProvider: c.cache_by_provider ?? true,
    namespace: c.vector_store_namespace || DEFAULT_NAMESPACE,
    defaultCacheKey: c.default_cache_key ?? '',
    sharedCacheKeys: new Set(c.shared_cache_keys ?? []),
    lookupTimeoutMs: c.lookup_timeout_ms ?? 500,
    store: c.store ?? 'config_store',
    semantic,
  }
}

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
}

/** Seconds (a number or a numeric string) or a Go duration ("1h30m", "90s"), in milliseconds. Throws naming `what`. */
export function parseTtlMs(v: number | string, what: string): number {
  if (typeof v === 'number') {
    if (v > 0 && Number.isFinite(v)) return v * 1000
  } else if (/^\d+(\.\d+)?$/.test(v.trim())) {
    const n = Number(v.trim())
    if (n > 0) return n * 1000
  } else if (/^((\d+(\.\d+)?)(ns|us|µs|ms|s|m|h))+$/.test(v.trim())) {
    let total = 0
    for (const m of v.trim().matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g))
      total += Number(m[1]) * UNIT_MS[m[2]]
    if (total > 0) return total
  }
  throw new Error(`${what} must be a positive number of seconds or a duration such as "30s", "5m" or "1h"`)
}
