import { resolveSecret } from '../../core/config.js'
import { GatewayError } from '../../core/errors.js'
import { pathSegment } from '../../core/path-segment.js'
import type { ModelEntry, ProviderConfig } from '../../core/schemas/index.js'
import { createOpenAIAdapter } from '../openai/index.js'
import type { OpenAICompatibleSpec } from '../openai-compatible.js'
import type { Attempt, ProviderAdapter } from '../../core/provider-adapter.js'
import { DEFAULT_AUTHORITY_HOST, DEFAULT_SCOPE, EntraTokenCache, type ClientCredentials } from './entra.js'

/** Bifrost's default `api-version` when a key does not set one. */
export const AZURE_API_VERSION_DEFAULT = '2024-10-21'
/** Image edits (gpt-image-1) need a newer `api-version`; Bifrost's default for them. */
export const AZURE_IMAGE_EDIT_API_VERSION_DEFAULT = '2025-04-01-preview'

/** Azure OpenAI speaks OpenAI's wire format under per-deployment paths. */
const AZURE_SPEC: OpenAICompatibleSpec = {
  baseUrl: undefined,
  pathPrefix: '',
  streamUsage: 'stream_options',
  responses: false,
  embeddings: true,
  textCompletions: true,
  keyless: false,
  rejects: [],
  media: ['image_generation', 'speech', 'transcription'],
}

/**
 * A key's `azure_key_config`, as Bifrost has it: `endpoint`, `deployments` (model -> deployment),
 * `api_version`, and for Entra ID `client_id`, `client_secret`, `tenant_id` (optionally `scopes`).
 * Each string may be an `env.VAR` reference. `authority_host` (ours, also read from
 * AZURE_AUTHORITY_HOST) points the token request at another Entra ID host (sovereign clouds, tests).
 */
interface AzureKeySettings {
  endpoint: string
  deployments: Record<string, string>
  apiVersion: string
  credentials?: ClientCredentials
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v ? resolveSecret(v) : undefined
}

function settingsOf(
  a: Attempt,
  cfg: ProviderConfig,
  apiVersionDefault = AZURE_API_VERSION_DEFAULT,
): AzureKeySettings {
  const c = a.key.azure_key_config ?? {}
  const endpoint = str(c.endpoint) ?? cfg.network_config.base_url
  if (!endpoint) {
    throw new GatewayError(
      'provider_not_configured',
      `key ${a.key.name} of provider ${cfg.name} needs azure_key_config.endpoint`,
      { retryable: false },
    )
  }
  // Keyed by model names callers choose: no prototype, so `constructor` maps to nothing.
  const deployments: Record<string, string> = Object.create(null) as Record<string, string>
  if (c.deployments && typeof c.deployments === 'object') {
    for (const [model, dep] of Object.entries(c.deployments as Record<string, unknown>)) {
      const d = str(dep)
      if (d) deployments[model] = d
    }
  }
  const tenantId = str(c.tenant_id)
  const clientId = str(c.client_id)
  const clientSecret = str(c.client_secret)
  const scopes = Array.isArray(c.scopes) ? c.scopes.filter((s): s is string => typeof s === 'string') : []
  return {
    endpoint: endpoint.replace(/\/+$/, ''),
    deployments,
    apiVersion: str(c.api_version) ?? apiVersionDefault,
    credentials:
      tenantId && clientId && clientSecret
        ? {
            tenantId,
            clientId,
            clientSecret,
            scopes: scopes.length ? scopes : [DEFAULT_SCOPE],
            authorityHost:
              str(c.authority_host) ?? process.env.AZURE_AUTHORITY_HOST ?? DEFAULT_AUTHORITY_HOST,
          }
        : undefined,
  }
}

/**
 * Azure OpenAI: the OpenAI adapter at `{endpoint}/openai/deployments/{deployment}/...?api-version=`,
 * authenticated with the key's `api-key`, or with an Entra ID token (client credentials) when the
 * key has `client_id`, `client_secret` and `tenant_id`.
 */
export function createAzureAdapter(cfg: ProviderConfig): ProviderAdapter {
  const name = cfg.name
  const tokens = new EntraTokenCache()
  const settings = new WeakMap<Attempt, AzureKeySettings>()
  const settingsFor = (a: Attempt) => {
    let s = settings.get(a)
    if (!s) settings.set(a, (s = settingsOf(a, cfg)))
    return s
  }

  const inner = createOpenAIAdapter(cfg, AZURE_SPEC, {
    url(a, path, op) {
      const s = settingsFor(a)
      const version = `api-version=${encodeURIComponent(s.apiVersion)}`
      if (op === 'list_models') return `${s.endpoint}/openai/models?${version}`
      const deployment = s.deployments[a.model] ?? a.model
      return `${s.endpoint}/openai/deployments/${pathSegment(deployment)}${path}?${version}`
    },
  })

  /** The attempt as the OpenAI adapter should send it: Azure's auth header instead of a bearer key. */
  async function authorized(a: Attempt, apiVersionDefault?: string): Promise<Attempt> {
    const s = settingsOf(a, cfg, apiVersionDefault)
    let auth: Record<string, string>
    if (s.credentials) {
      auth = { authorization: `Bearer ${await tokens.token(a, s.credentials, name)}` }
    } else if (a.secret) {
      auth = { 'api-key': a.secret }
    } else {
      throw new GatewayError(
        'provider_not_configured',
        `key ${a.key.name} of provider ${name} needs a value (API key) or client_id, client_secret and tenant_id`,
        { retryable: false },
      )
    }
    const next: Attempt = { ...a, secret: '', extraHeaders: { ...a.extraHeaders, ...auth } }
    settings.set(next, s)
    return next
  }

  const adapter: ProviderAdapter = {
    format: 'openai',
    chat: async (a, req) => inner.chat(await authorized(a), req),
    chatStream: async (a, req) => inner.chatStream(await authorized(a), req),
    // The deployments a key names are the models it serves; Azure's own catalogue lists base models.
    listModels(a): Promise<ModelEntry[]> {
      const models = Object.keys(a.key.azure_key_config?.deployments ?? {})
      return Promise.resolve(
        models.map((m) => ({ id: `${name}/${m}`, object: 'model', created: 0, owned_by: name })),
      )
    },
  }
  // Azure serves no image variations (DALL-E 2 is not deployed there), as Bifrost has it.
  const passthrough = [
    'textCompletion',
    'textCompletionStream',
    'embeddings',
    'imageGeneration',
    'imageGenerationStream',
    'imageEdit',
    'imageEditStream',
    'speech',
    'speechStream',
    'transcription',
  ] as const
  for (const op of passthrough) {
    const call = inner[op] as ((a: Attempt, req: never) => Promise<never>) | undefined
    const version =
      op === 'imageEdit' || op === 'imageEditStream' ? AZURE_IMAGE_EDIT_API_VERSION_DEFAULT : undefined
    if (call)
      (adapter as unknown as Record<string, unknown>)[op] = async (a: Attempt, req: never) =>
        call(await authorized(a, version), req)
  }
  return adapter
}
