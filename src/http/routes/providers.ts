import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { normalizeKey, normalizeProvider } from '../../core/config.js'
import { GatewayError } from '../../core/errors.js'
import { isReservedProviderName, type ProviderRegistry } from '../../core/router/registry.js'
import {
  ProviderConfigSchema,
  ProviderKeySchema,
  type ProviderConfig,
  type ProviderConfigInput,
} from '../../core/schemas/index.js'
import type { ProviderAdapter } from '../../providers/index.js'
import { createAdapter, isKeyless } from '../../providers/index.js'
import {
  mergeRedacted,
  mergeRedactedKey,
  redactKey,
  redactProvider,
  type ConfigStore,
} from '../../store/index.js'
import { keyWithoutNulls, providerWithoutNulls } from '../bifrost-shapes.js'
import { compileValidator } from '../validate.js'

export const PROVIDERS_TOPIC = 'providers'

export interface ProviderRouteDeps {
  registry: ProviderRegistry<ProviderAdapter>
  store: ConfigStore | undefined
  /** Tells the other nodes that a provider changed. */
  onChange?: (name: string) => Promise<void>
}

const validateAdd = compileValidator(
  Type.Intersect([
    Type.Object({ provider: Type.String({ minLength: 1, pattern: '^[A-Za-z0-9_.-]+$' }) }),
    ProviderConfigSchema,
  ]),
)
const validateUpdate = compileValidator(ProviderConfigSchema)

const validateKey = compileValidator(ProviderKeySchema)

/**
 * Bifrost's provider management API. Changes reach the in-memory registry at once (no restart)
 * and are persisted in the config store; secrets never leave in clear.
 */
export function registerProviderRoutes(
  app: FastifyInstance,
  { registry, store, onChange }: ProviderRouteDeps,
): void {
  const announce = (name: string) => onChange?.(name).catch(() => undefined)

  function find(name: string): ProviderConfig {
    const entry = registry.get(name)
    if (!entry) throw new GatewayError('not_found', `provider ${name} not found`)
    return entry.config
  }

  /** Validates, persists and applies a provider; the registry changes only once the store has it. */
  async function save(cfg: ProviderConfig): Promise<ProviderConfig> {
    if (isReservedProviderName(cfg.name)) {
      throw new GatewayError('unknown_provider', `unknown provider ${cfg.name}: the name is reserved`, {
        param: 'provider',
      })
    }
    if (!cfg.custom_provider_config && !registry.isKnown(cfg.name)) {
      throw new GatewayError(
        'unknown_provider',
        `unknown provider ${cfg.name}; a new name needs custom_provider_config`,
        {
          param: 'provider',
        },
      )
    }
    createAdapter(cfg) // throws a 400 for an unusable configuration before anything is stored
    const ids = new Set<string>()
    const keyless = isKeyless(cfg)
    for (const [i, k] of cfg.keys.entries()) {
      const configured =
        k.azure_key_config ||
        k.vertex_key_config ||
        k.bedrock_key_config ||
        k.vllm_key_config ||
        k.ollama_key_config ||
        k.sgl_key_config
      if (!k.value && !keyless && !configured) {
        throw new GatewayError('invalid_request', `keys[${i}].value is required and must not be empty`, {
          param: 'value',
        })
      }
      if (ids.has(k.id))
        throw new GatewayError('invalid_request', `duplicate key id ${k.id}`, { param: 'keys' })
      ids.add(k.id)
    }
    if (store) {
      try {
        await store.putProvider(cfg)
      } catch (err) {
        // The store's own answers (a key id taken: 409; unreachable, naming the store: 503) stand.
        if (err instanceof GatewayError) throw err
        throw new GatewayError('store_unavailable', 'the config store did not accept the change', {
          cause: err,
        })
      }
    }
    registry.set(cfg)
    await announce(cfg.name)
    return cfg
  }

  /** A full replace; keys left out of the body are kept (they have their own routes), redacted values keep their secret. */
  function withKeys(
    body: ProviderConfigInput,
    name: string,
    existing: ProviderConfig | undefined,
  ): ProviderConfig {
    const cfg = normalizeProvider(name, mergeRedacted(body, existing))
    if (body.keys === undefined) cfg.keys = existing?.keys ?? []
    return cfg
  }

  app.get('/api/providers', async () => {
    const providers = registry.list().map((p) => redactProvider(p.config))
    return { providers, total: providers.length }
  })

  app.post('/api/providers', async (request) => {
    const { provider, ...body } = validateAdd(providerWithoutNulls(request.body))
    if (registry.has(provider)) throw new GatewayError('conflict', `provider ${provider} already exists`)
    return redactProvider(await save(withKeys(body, provider, undefined)))
  })

  app.get<{ Params: { provider: string } }>('/api/providers/:provider', async (request) => {
    return redactProvider(find(request.params.provider))
  })

  app.put<{ Params: { provider: string } }>('/api/providers/:provider', async (request) => {
    const name = request.params.provider
    const body = validateUpdate(providerWithoutNulls(request.body))
    return redactProvider(await save(withKeys(body, name, registry.get(name)?.config)))
  })

  app.delete<{ Params: { provider: string } }>('/api/providers/:provider', async (request) => {
    const cfg = find(request.params.provider)
    if (store) {
      try {
        await store.deleteProvider(cfg.name)
      } catch (err) {
        if (err instanceof GatewayError) throw err
        throw new GatewayError('store_unavailable', 'the config store did not accept the change', {
          cause: err,
        })
      }
    }
    registry.delete(cfg.name)
    await announce(cfg.name)
    return redactProvider(cfg)
  })

  // ---- keys of one provider ----

  app.get<{ Params: { provider: string } }>('/api/providers/:provider/keys', async (request) => {
    const keys = find(request.params.provider).keys.map(redactKey)
    return { keys, total: keys.length }
  })

  app.post<{ Params: { provider: string } }>('/api/providers/:provider/keys', async (request) => {
    const cfg = find(request.params.provider)
    const input = validateKey(keyWithoutNulls(request.body))
    if (input.id && cfg.keys.some((k) => k.id === input.id))
      throw new GatewayError('conflict', `key ${input.id} already exists`)
    const key = normalizeKey(input, cfg.keys.length)
    await save({ ...cfg, keys: [...cfg.keys, key] })
    return redactKey(key)
  })

  app.get<{ Params: { provider: string; key_id: string } }>(
    '/api/providers/:provider/keys/:key_id',
    async (request) => {
      const key = find(request.params.provider).keys.find((k) => k.id === request.params.key_id)
      if (!key) throw new GatewayError('not_found', `key ${request.params.key_id} not found`)
      return redactKey(key)
    },
  )

  app.put<{ Params: { provider: string; key_id: string } }>(
    '/api/providers/:provider/keys/:key_id',
    async (request) => {
      const cfg = find(request.params.provider)
      const index = cfg.keys.findIndex((k) => k.id === request.params.key_id)
      if (index === -1) throw new GatewayError('not_found', `key ${request.params.key_id} not found`)
      const input = validateKey(keyWithoutNulls(request.body))
      const key = normalizeKey(mergeRedactedKey({ ...input, id: cfg.keys[index].id }, cfg.keys[index]), index)
      const keys = [...cfg.keys]
      keys[index] = key
      await save({ ...cfg, keys })
      return redactKey(key)
    },
  )

  app.delete<{ Params: { provider: string; key_id: string } }>(
    '/api/providers/:provider/keys/:key_id',
    async (request) => {
      const cfg = find(request.params.provider)
      const key = cfg.keys.find((k) => k.id === request.params.key_id)
      if (!key) throw new GatewayError('not_found', `key ${request.params.key_id} not found`)
      await save({ ...cfg, keys: cfg.keys.filter((k) => k !== key) })
      return redactKey(key)
    },
  )

  // Bifrost answers the bare list here.
  app.get('/api/keys', async () =>
    registry.list().flatMap((p) => p.config.keys.map((k) => ({ ...redactKey(k), provider: p.config.name }))),
  )
}
