import { resolveSecret } from '../../core/config.js'
import { GatewayError } from '../../core/errors.js'
import { pathSegment } from '../../core/path-segment.js'
import type { ProviderConfig } from '../../core/schemas/index.js'
import type { Attempt } from '../../core/provider-adapter.js'

/**
 * A key's `bedrock_key_config`, as Bifrost has it: `access_key`, `secret_key`, `session_token`,
 * `region`, `arn` (an inference profile or ARN prefix put before the model id) and `deployments`
 * (model -> Bedrock model id). Each string may be an `env.VAR` reference. Without `access_key`,
 * the key's value is a Bedrock API key sent as a bearer token.
 */
export interface BedrockKeySettings {
  region: string
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }
  bearer?: string
  arn?: string
  deployments: Record<string, string>
}

const DEFAULT_REGION = 'us-east-1'

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v ? resolveSecret(v) : undefined
}

export function bedrockSettings(a: Attempt, cfg: ProviderConfig): BedrockKeySettings {
  const c = a.key.bedrock_key_config ?? {}
  const accessKeyId = str(c.access_key)
  const secretAccessKey = str(c.secret_key)
  if (accessKeyId && !secretAccessKey) {
    throw new GatewayError(
      'provider_not_configured',
      `key ${a.key.name} of provider ${cfg.name} has bedrock_key_config.access_key but no secret_key`,
      { retryable: false },
    )
  }
  // Keyed by model names callers choose: no prototype, so `constructor` maps to nothing.
  const deployments: Record<string, string> = Object.create(null) as Record<string, string>
  if (c.deployments && typeof c.deployments === 'object') {
    for (const [model, id] of Object.entries(c.deployments as Record<string, unknown>)) {
      const d = str(id)
      if (d) deployments[model] = d
    }
  }
  return {
    region: str(c.region) ?? process.env.AWS_REGION ?? DEFAULT_REGION,
    credentials:
      accessKeyId && secretAccessKey
        ? { accessKeyId, secretAccessKey, sessionToken: str(c.session_token) }
        : undefined,
    bearer: accessKeyId ? undefined : a.secret || undefined,
    arn: str(c.arn),
    deployments,
  }
}

/**
 * The model id as it goes in the path: the deployment the key maps the model to, behind the key's
 * ARN prefix when it has one, encoded as one segment (ids and ARNs hold ':' and '/').
 */
export function modelPathSegment(model: string, s: BedrockKeySettings): string {
  const id = s.deployments[model] ?? model
  const full = s.arn && !id.startsWith('arn:') ? `${s.arn.replace(/\/+$/, '')}/${id}` : id
  return pathSegment(full)
}
