import { randomUUID } from 'node:crypto'
import { GatewayError } from './errors.js'
import type { TSchema } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import {
  AdaptiveLoadBalancingSchema,
  CircuitBreakerSchema,
  DEFAULT_CONCURRENCY,
  DEFAULT_NETWORK,
  type ProviderConfig,
  type ProviderConfigInput,
  type ProviderKey,
  type ProviderKeyInput,
} from './schemas/index.js'

/** `env.VAR_NAME` references are kept as written and resolved only when the secret is used. */
export function isEnvRef(value: string): boolean {
  return value.startsWith('env.') && value.length > 4
}

export function resolveSecret(value: string, env: NodeJS.ProcessEnv = process.env): string {
  if (!isEnvRef(value)) return value
  const name = value.slice(4)
  // Only the environment's own variables: `env.constructor` names no variable.
  const resolved = Object.hasOwn(env, name) ? env[name] : undefined
  if (resolved === undefined) {
    throw new GatewayError('provider_not_configured', `environment variable ${name} is not set`)
  }
  return resolved
}

/**
 * Parses Bifrost's duration forms into milliseconds: an integer (milliseconds) or a Go-style
 * string ("500ms", "2s", "1m30s", "1h").
 */
export function parseDurationMs(value: number | string | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value === 'number') return value
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed)
  const re = /(\d+(?:\.\d+)?)(ms|us|µs|ns|s|m|h)/g
  let total = 0
  let consumed = 0
  for (const m of trimmed.matchAll(re)) {
    const n = Number(m[1])
    const unit = m[2]
    total +=
      unit === 'h'
        ? n * 3_600_000
        : unit === 'm'
          ? n * 60_000
          : unit === 's'
            ? n * 1000
            : unit === 'ms'
              ? n
              : n / 1000
    consumed += m[0].length
  }
  if (consumed !== trimmed.length || consumed === 0) {
    throw new GatewayError(
      'invalid_request',
      `invalid duration "${value}" (use milliseconds or e.g. "500ms", "2s")`,
    )
  }
  return Math.round(total)
}

/** The `*_key_config` objects a provider key may carry. */
export const KEY_CONFIG_FIELDS = [
  'azure_key_config',
  'vertex_key_config',
  'bedrock_key_config',
  'vllm_key_config',
  'ollama_key_config',
  'sgl_key_config',
] as const

export function normalizeKey(input: ProviderKeyInput, index: number): ProviderKey {
  const key: ProviderKey = {
    id: input.id ?? randomUUID(),
    name: input.name ?? `key-${index + 1}`,
    value: input.value ?? '',
    // An omitted list means every model; an explicit [] allows none (Bifrost >= 1.5).
    models: input.models ?? ['*'],
    blacklisted_models: input.blacklisted_models ?? [],
    weight: input.weight ?? 1,
    enabled: input.enabled ?? true,
  }
  for (const field of ['aliases', 'use_for_batch_api', ...KEY_CONFIG_FIELDS, 'description'] as const) {
    if (input[field] !== undefined) (key as unknown as Record<string, unknown>)[field] = input[field]
  }
  return key
}

export function normalizeProvider(name: string, input: ProviderConfigInput): ProviderConfig {
  const cfg: ProviderConfig = {
    name,
    keys: (input.keys ?? []).map(normalizeKey),
    network_config: { ...input.network_config },
    concurrency_and_buffer_size: {
      concurrency: input.concurrency_and_buffer_size?.concurrency ?? DEFAULT_CONCURRENCY.concurrency,
      buffer_size: input.concurrency_and_buffer_size?.buffer_size ?? DEFAULT_CONCURRENCY.buffer_size,
    },
  }
  if (cfg.concurrency_and_buffer_size.concurrency > cfg.concurrency_and_buffer_size.buffer_size) {
    throw new GatewayError(
      'invalid_request',
      'concurrency_and_buffer_size.concurrency must not exceed buffer_size',
      {
        param: 'concurrency_and_buffer_size',
      },
    )
  }
  // config.json's providers reach here unchecked: their resilience settings are checked as the API's are.
  checkSection('circuit_breaker', CircuitBreakerSchema, input.circuit_breaker)
  checkSection('adaptive_load_balancing', AdaptiveLoadBalancingSchema, input.adaptive_load_balancing)
  // Validate durations early so a bad value is a 400 at configuration time, not a failure per request.
  parseDurationMs(input.network_config?.retry_backoff_initial, 0)
  parseDurationMs(input.network_config?.retry_backoff_max, 0)
  for (const field of [
    'proxy_config',
    'send_back_raw_request',
    'send_back_raw_response',
    'store_raw_request_response',
    'custom_provider_config',
    'circuit_breaker',
    'adaptive_load_balancing',
  ] as const) {
    if (input[field] !== undefined) (cfg as unknown as Record<string, unknown>)[field] = input[field]
  }
  return cfg
}

function checkSection(field: string, schema: TSchema, value: unknown): void {
  if (value === undefined || Value.Check(schema, value)) return
  const first = Value.Errors(schema, value).First()
  const path = [field, ...(first?.path.split('/').filter(Boolean) ?? [])].join('.')
  throw new GatewayError('invalid_request', `${path}: ${first?.message.toLowerCase() ?? 'invalid'}`, {
    param: path,
  })
}

/** The network settings of a provider with Bifrost's defaults applied. */
export interface EffectiveNetwork {
  timeoutMs: number
  idleTimeoutMs: number
  maxRetries: number
  backoffInitialMs: number
  backoffMaxMs: number
}

export function effectiveNetwork(cfg: ProviderConfig): EffectiveNetwork {
  const n = cfg.network_config
  return {
    timeoutMs:
      (n.default_request_timeout_in_seconds ?? DEFAULT_NETWORK.default_request_timeout_in_seconds) * 1000,
    idleTimeoutMs:
      (n.stream_idle_timeout_in_seconds ?? DEFAULT_NETWORK.stream_idle_timeout_in_seconds) * 1000,
    maxRetries: n.max_retries ?? DEFAULT_NETWORK.max_retries,
    backoffInitialMs: parseDurationMs(n.retry_backoff_initial, DEFAULT_NETWORK.retry_backoff_initial_ms),
    backoffMaxMs: parseDurationMs(n.retry_backoff_max, DEFAULT_NETWORK.retry_backoff_max_ms),
  }
}
