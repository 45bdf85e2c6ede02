import { Type, type Static } from '@sinclair/typebox'

/**
 * Provider configuration in Bifrost's config.json / management API format. Secrets may be literal
 * or `env.VAR_NAME` references; the reference is what is stored and shown, the value is resolved
 * when the provider is used.
 */

const Open = { additionalProperties: true } as const

/** Durations in Bifrost's JSON: integer milliseconds or a Go-style string such as "500ms" or "2s". */
export const DurationSchema = Type.Union([Type.Integer({ minimum: 0 }), Type.String({ minLength: 1 })])

export const NetworkConfigSchema = Type.Object(
  {
    base_url: Type.Optional(Type.String()),
    extra_headers: Type.Optional(Type.Record(Type.String(), Type.String())),
    default_request_timeout_in_seconds: Type.Optional(Type.Integer({ minimum: 1 })),
    stream_idle_timeout_in_seconds: Type.Optional(Type.Integer({ minimum: 1 })),
    max_retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 20 })),
    retry_backoff_initial: Type.Optional(DurationSchema),
    retry_backoff_max: Type.Optional(DurationSchema),
    max_conns_per_host: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000 })),
  },
  Open,
)
export type NetworkConfig = Static<typeof NetworkConfigSchema>

export const ConcurrencySchema = Type.Object(
  {
    concurrency: Type.Optional(Type.Integer({ minimum: 1 })),
    buffer_size: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  Open,
)
export type ConcurrencyAndBufferSize = Static<typeof ConcurrencySchema>

/**
 * A key's alias: the provider's model id, or Bifrost's object form naming it (`model_id`) with
 * overrides (region, endpoint ...) that Heimdall keeps but does not apply.
 */
export const KeyAliasSchema = Type.Union([
  Type.String(),
  Type.Object({ model_id: Type.String({ minLength: 1 }) }, Open),
])
export type KeyAlias = Static<typeof KeyAliasSchema>

export const ProviderKeySchema = Type.Object(
  {
    id: Type.Optional(Type.String()),
    name: Type.Optional(Type.String()),
    value: Type.Optional(Type.String()),
    models: Type.Optional(Type.Array(Type.String())),
    blacklisted_models: Type.Optional(Type.Array(Type.String())),
    weight: Type.Optional(Type.Number({ minimum: 0 })),
    enabled: Type.Optional(Type.Boolean()),
    aliases: Type.Optional(Type.Record(Type.String(), KeyAliasSchema)),
    use_for_batch_api: Type.Optional(Type.Boolean()),
    azure_key_config: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    vertex_key_config: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    bedrock_key_config: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    vllm_key_config: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    ollama_key_config: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    sgl_key_config: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    description: Type.Optional(Type.String()),
  },
  Open,
)
export type ProviderKeyInput = Static<typeof ProviderKeySchema>

export const CustomProviderConfigSchema = Type.Object(
  {
    base_provider_type: Type.String(),
    is_key_less: Type.Optional(Type.Boolean()),
    allowed_requests: Type.Optional(Type.Record(Type.String(), Type.Boolean())),
    request_path_overrides: Type.Optional(Type.Record(Type.String(), Type.String())),
  },
  Open,
)
export type CustomProviderConfig = Static<typeof CustomProviderConfigSchema>

/**
 * Heimdall: the circuit breaker of a provider's (key, model) targets. Off unless `enabled`; the
 * other fields have defaults (DEFAULT_CIRCUIT_BREAKER in router/health.ts).
 */
export const CircuitBreakerSchema = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean()),
    /** Consecutive failures that open the circuit. */
    failure_threshold: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    /** Share of failed requests in the window (with at least `min_requests`) that opens it. */
    error_rate_threshold: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1 })),
    min_requests: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
    /** The sliding window the error rate is measured over. */
    window_seconds: Type.Optional(Type.Number({ minimum: 0.1, maximum: 3600 })),
    /** How long an open circuit stays open before a probe request is let through (at least Retry-After). */
    open_seconds: Type.Optional(Type.Number({ minimum: 0.05, maximum: 3600 })),
    /** Successful probes in a row that close it again. */
    half_open_probes: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  },
  { additionalProperties: false },
)
export type CircuitBreakerConfig = Static<typeof CircuitBreakerSchema>

/** Heimdall: key weights (and virtual keys' weights of this provider) scaled by observed latency and errors. */
export const AdaptiveLoadBalancingSchema = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean()),
    /** The least share of its configured weight a slow or failing target keeps (so it is still measured). */
    min_weight_ratio: Type.Optional(Type.Number({ minimum: 0.01, maximum: 1 })),
    /** How often the weights are recomputed from what was observed. */
    recompute_seconds: Type.Optional(Type.Number({ minimum: 0.05, maximum: 300 })),
  },
  { additionalProperties: false },
)
export type AdaptiveLoadBalancingConfig = Static<typeof AdaptiveLoadBalancingSchema>

export const ProviderConfigSchema = Type.Object(
  {
    keys: Type.Optional(Type.Array(ProviderKeySchema)),
    network_config: Type.Optional(NetworkConfigSchema),
    concurrency_and_buffer_size: Type.Optional(ConcurrencySchema),
    proxy_config: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    send_back_raw_request: Type.Optional(Type.Boolean()),
    send_back_raw_response: Type.Optional(Type.Boolean()),
    store_raw_request_response: Type.Optional(Type.Boolean()),
    custom_provider_config: Type.Optional(CustomProviderConfigSchema),
    circuit_breaker: Type.Optional(CircuitBreakerSchema),
    adaptive_load_balancing: Type.Optional(AdaptiveLoadBalancingSchema),
  },
  Open,
)
export type ProviderConfigInput = Static<typeof ProviderConfigSchema>

/** A provider key with defaults applied, as the router uses it. */
export interface ProviderKey {
  id: string
  name: string
  /** The stored value: a literal secret or an `env.VAR` reference. */
  value: string
  models: string[]
  blacklisted_models: string[]
  weight: number
  enabled: boolean
  aliases?: Record<string, KeyAlias>
  use_for_batch_api?: boolean
  azure_key_config?: Record<string, unknown>
  vertex_key_config?: Record<string, unknown>
  bedrock_key_config?: Record<string, unknown>
  vllm_key_config?: Record<string, unknown>
  ollama_key_config?: Record<string, unknown>
  sgl_key_config?: Record<string, unknown>
  description?: string
}

/** A provider with defaults applied, as the router uses it. */
export interface ProviderConfig {
  name: string
  keys: ProviderKey[]
  network_config: NetworkConfig
  concurrency_and_buffer_size: { concurrency: number; buffer_size: number }
  proxy_config?: Record<string, unknown>
  send_back_raw_request?: boolean
  send_back_raw_response?: boolean
  store_raw_request_response?: boolean
  custom_provider_config?: CustomProviderConfig
  circuit_breaker?: CircuitBreakerConfig
  adaptive_load_balancing?: AdaptiveLoadBalancingConfig
  config_hash?: string
}

export const DEFAULT_NETWORK = {
  default_request_timeout_in_seconds: 30,
  stream_idle_timeout_in_seconds: 60,
  max_retries: 0,
  retry_backoff_initial_ms: 500,
  retry_backoff_max_ms: 5000,
} as const

export const DEFAULT_CONCURRENCY = { concurrency: 1000, buffer_size: 5000 } as const
