import type { AccessProfile, ProfileProviderConfig, ProfileRateLimit } from './access-profile-shapes.js'

/**
 * An access profile as the API answers it, in the shape of Bifrost's `AccessProfile` schema: a
 * missing rate limit, or a missing half of one, is left out rather than sent as null (the schema
 * has no null there), and `["*"]` reads as every model allowed.
 */
export type AccessProfileJson = Omit<AccessProfile, 'rate_limit' | 'provider_configs'> & {
  rate_limit?: RateLimitJson
  provider_configs: ProviderConfigJson[]
}

type ProviderConfigJson = Omit<ProfileProviderConfig, 'rate_limit'> & { rate_limit?: RateLimitJson }

type RateLimitJson = Partial<ProfileRateLimit> & Pick<ProfileRateLimit, 'id'>

function rateLimitJson(rl: ProfileRateLimit | null): { rate_limit?: RateLimitJson } {
  if (!rl) return {}
  const out: RateLimitJson = { id: rl.id }
  for (const [k, v] of Object.entries(rl)) {
    if (v !== null) (out as Record<string, unknown>)[k] = v
  }
  return { rate_limit: out }
}

function providerConfigJson(pc: ProfileProviderConfig): ProviderConfigJson {
  const { rate_limit, ...rest } = pc
  // Stored as given; `["*"]` already lets the issued keys use every model.
  const all = pc.all_models_allowed || pc.allowed_models.includes('*')
  return {
    ...rest,
    all_models_allowed: all,
    allowed_models: all ? [] : pc.allowed_models,
    ...rateLimitJson(rate_limit),
  }
}

export function accessProfileJson(profile: AccessProfile): AccessProfileJson {
  const { rate_limit, provider_configs, ...rest } = profile
  return {
    ...rest,
    provider_configs: provider_configs.map(providerConfigJson),
    ...rateLimitJson(rate_limit),
  }
}
