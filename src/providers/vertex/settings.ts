import { isEnvRef, resolveSecret } from '../../core/config.js'
import { GatewayError } from '../../core/errors.js'
import type { ProviderConfig, ProviderKey } from '../../core/schemas/index.js'
import { parseGoogleCredentials } from './token.js'

/**
 * A key's `vertex_key_config`, as Bifrost has it: `project_id`, `project_number` (for tuned-model
 * endpoints), `region` (`global`, `us`, `eu` or a region such as `us-central1`), `auth_credentials`
 * (the service account JSON) and `deployments` (model -> Vertex model ID). Each string may be an
 * `env.VAR` reference.
 */
export interface VertexKeySettings {
  projectId: string
  projectNumber?: string
  region: string
  credentials: string
  deployments: Record<string, string>
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v ? resolveSecret(v) : undefined
}

function missing(cfg: ProviderConfig, key: ProviderKey, field: string): GatewayError {
  return new GatewayError(
    'provider_not_configured',
    `key ${key.name} of provider ${cfg.name} needs vertex_key_config.${field}`,
    { param: field, retryable: false },
  )
}

export function vertexSettings(cfg: ProviderConfig, key: ProviderKey): VertexKeySettings {
  const c = key.vertex_key_config ?? {}
  const projectId = str(c.project_id)
  const region = str(c.region)
  const credentials = str(c.auth_credentials)
  if (!projectId) throw missing(cfg, key, 'project_id')
  if (!region) throw missing(cfg, key, 'region')
  // The region becomes part of a host name: nothing but a region's letters, digits and dashes.
  if (!/^[a-z0-9-]+$/.test(region)) {
    throw new GatewayError(
      'provider_not_configured',
      `key ${key.name} of provider ${cfg.name}: vertex_key_config.region ${JSON.stringify(region)} is not a region name`,
      { param: 'region', retryable: false },
    )
  }
  if (!credentials) throw missing(cfg, key, 'auth_credentials')
  // Keyed by model names callers choose: no prototype, so `constructor` maps to nothing.
  const deployments: Record<string, string> = Object.create(null) as Record<string, string>
  if (c.deployments && typeof c.deployments === 'object') {
    for (const [model, dep] of Object.entries(c.deployments as Record<string, unknown>)) {
      const d = str(dep)
      if (d) deployments[model] = d
    }
  }
  return { projectId, projectNumber: str(c.project_number), region, credentials, deployments }
}

/**
 * Checks what can be checked when a provider is saved: `auth_credentials` must be a string (an object
 * would be stored and shown unredacted) and, when written literally, a usable credential JSON.
 */
export function checkVertexKeys(cfg: ProviderConfig): void {
  for (const [i, key] of cfg.keys.entries()) {
    const c = key.vertex_key_config
    if (!c) continue
    for (const field of ['project_id', 'project_number', 'region', 'auth_credentials']) {
      if (c[field] !== undefined && typeof c[field] !== 'string') {
        throw new GatewayError(
          'invalid_request',
          `keys[${i}].vertex_key_config.${field} must be a string` +
            (field === 'auth_credentials' ? ' (the service account JSON as text, or env.VAR)' : ''),
          { param: field },
        )
      }
    }
    const creds = c.auth_credentials
    if (typeof creds === 'string' && creds && !isEnvRef(creds)) {
      const where = `keys[${i}].vertex_key_config.auth_credentials`
      try {
        parseGoogleCredentials(creds, where)
      } catch (err) {
        throw new GatewayError('invalid_request', (err as Error).message, { param: 'auth_credentials' })
      }
    }
  }
}
