import { Type, type Static, type TSchema } from '@sinclair/typebox'
import type { Selectable } from 'kysely'
import { GatewayError } from '../core/errors.js'
import type { AccessProfileVersionsTable } from '../store/index.js'
import type { GovernanceService } from './service.js'

/** Access profiles' API shapes (Bifrost's accessprofiles.yaml), limits and the managed-key contract. */

const literals = <T extends string>(values: readonly T[]) => Type.Union(values.map((v) => Type.Literal(v)))
const nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])

export const BUDGET_RESET_DURATIONS = ['1h', '1d', '1w', '1M', '1Q', '1Y'] as const
export const RATE_LIMIT_RESET_DURATIONS = ['1h', '1d', '1w', '1M', '1Y'] as const
export const MAX_TAGS = 50
export const MAX_PROVIDER_CONFIGS = 100
export const MAX_BUDGETS = 100

// Read-only fields (`scope`, `current_usage`, `last_reset`, ...) may come back in a body that was
// read first: objects stay open so that such a round trip is accepted, and those fields are ignored.
export const ProfileBudgetSchema = Type.Object(
  {
    id: Type.Optional(Type.String()),
    max_limit: Type.Number({ exclusiveMinimum: 0 }),
    /** One of BUDGET_RESET_DURATIONS (checked in code, for a clearer message). */
    reset_duration: Type.String(),
    reset_config: Type.Optional(
      Type.Object(
        { quarter_start_month: Type.Optional(Type.Integer({ minimum: 1, maximum: 12 })) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: true },
)

export const ProfileRateLimitSchema = Type.Object(
  {
    id: Type.Optional(Type.String()),
    token_max_limit: Type.Optional(nullable(Type.Integer({ minimum: 1 }))),
    token_reset_duration: Type.Optional(nullable(Type.String())),
    request_max_limit: Type.Optional(nullable(Type.Integer({ minimum: 1 }))),
    request_reset_duration: Type.Optional(nullable(Type.String())),
  },
  { additionalProperties: true },
)

export const ProfileProviderConfigSchema = Type.Object(
  {
    id: Type.Optional(Type.Integer({ minimum: 1 })),
    provider_name: Type.Optional(Type.String({ minLength: 1 })),
    /** Heimdall: accepted as another name for provider_name, as virtual keys call it. */
    provider: Type.Optional(Type.String({ minLength: 1 })),
    all_models_allowed: Type.Optional(Type.Boolean()),
    allowed_models: Type.Optional(Type.Array(Type.String())),
    /** Heimdall: models refused even when allowed_models would allow them. */
    blacklisted_models: Type.Optional(Type.Array(Type.String())),
    /** Heimdall: the weight of this provider in the issued virtual key's routing. */
    weight: Type.Optional(nullable(Type.Number({ minimum: 0 }))),
    budgets: Type.Optional(Type.Array(ProfileBudgetSchema)),
    /** A ProfileRateLimitSchema or null; checked by parseRateLimit, whose messages name the member at fault. */
    rate_limit: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: true },
)

const McpToolGroupSchema = Type.Object({ tool_group_id: Type.Integer({ minimum: 0 }) })
const McpServerSchema = Type.Object({ mcp_server_id: Type.String({ minLength: 1 }) })
const McpToolOverrideSchema = Type.Object({
  mcp_client_id: Type.String({ minLength: 1 }),
  tool_name: Type.String({ minLength: 1 }),
  action: literals(['include', 'exclude'] as const),
})

const profileFields = {
  description: Type.Optional(nullable(Type.String())),
  /** Heimdall: Bifrost activates a profile by attaching it to a role; Heimdall has no roles. */
  is_active: Type.Optional(Type.Boolean()),
  tags: Type.Optional(Type.Array(Type.String())),
  provider_configs: Type.Optional(Type.Array(ProfileProviderConfigSchema)),
  budgets: Type.Optional(Type.Array(ProfileBudgetSchema)),
  /** A ProfileRateLimitSchema, or null to clear it; checked by parseRateLimit. */
  rate_limit: Type.Optional(Type.Unknown()),
  calendar_aligned: Type.Optional(nullable(Type.Boolean())),
  auto_rotation_interval: Type.Optional(nullable(Type.Union([Type.String(), Type.Integer()]))),
  next_rotation_at: Type.Optional(nullable(Type.String())),
  mcp_tool_groups: Type.Optional(Type.Array(McpToolGroupSchema)),
  mcp_servers: Type.Optional(Type.Array(McpServerSchema)),
  mcp_tool_overrides: Type.Optional(Type.Array(McpToolOverrideSchema)),
}

export const CreateAccessProfileSchema = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 255 }), ...profileFields },
  { additionalProperties: true },
)
export const UpdateAccessProfileSchema = Type.Object(
  { name: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })), ...profileFields },
  { additionalProperties: true },
)
export const CloneAccessProfileSchema = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 255 }), description: Type.Optional(Type.String()) },
  { additionalProperties: true },
)

export type CreateAccessProfileInput = Static<typeof CreateAccessProfileSchema>
export type UpdateAccessProfileInput = Static<typeof UpdateAccessProfileSchema>
export type BudgetInput = Static<typeof ProfileBudgetSchema>
export type RateLimitInput = Static<typeof ProfileRateLimitSchema>
export type ProviderConfigInput = Static<typeof ProfileProviderConfigSchema>

export type BudgetResetDuration = (typeof BUDGET_RESET_DURATIONS)[number]
export type RateLimitResetDuration = (typeof RATE_LIMIT_RESET_DURATIONS)[number]

export interface ProfileBudget {
  id: string
  max_limit: number
  reset_duration: BudgetResetDuration
  reset_config?: { quarter_start_month?: number }
  /** `total` for a profile's budgets, `provider:<name>` for a provider config's. */
  scope: string
  /** A template has no spend of its own: always 0. The issued virtual keys carry the counters. */
  current_usage: number
  last_reset: string
}

export interface ProfileRateLimit {
  id: string
  token_max_limit: number | null
  token_reset_duration: RateLimitResetDuration | null
  request_max_limit: number | null
  request_reset_duration: RateLimitResetDuration | null
  token_current_usage: number
  request_current_usage: number
}

export interface ProfileProviderConfig {
  id: number
  provider_name: string
  all_models_allowed: boolean
  allowed_models: string[]
  blacklisted_models: string[]
  weight: number | null
  budgets: ProfileBudget[]
  rate_limit: ProfileRateLimit | null
}

export interface AccessProfile {
  id: number
  name: string
  description: string | null
  is_active: boolean
  version: number
  tags: string[]
  provider_configs: ProfileProviderConfig[]
  budgets: ProfileBudget[]
  rate_limit: ProfileRateLimit | null
  calendar_aligned: boolean
  /** Nanoseconds; 0: automatic rotation is off (Heimdall does not rotate profile keys yet). */
  auto_rotation_interval: number
  mcp_tool_groups: { tool_group_id: number }[]
  mcp_servers: { mcp_server_id: string }[]
  mcp_tool_overrides: { mcp_client_id: string; tool_name: string; action: 'include' | 'exclude' }[]
  created_at: string
  updated_at: string
}

/** A stored version of a profile as the API shows it: its row, naming the profile `access_profile_id`. */
export type AccessProfileVersion = Omit<Selectable<AccessProfileVersionsTable>, 'profile_id'> & {
  access_profile_id: number
}

export interface AccessProfileListQuery {
  /** With offset: one page (25 by default, at most 1000). Without either: every match. */
  limit?: number
  offset?: number
  /** A profile matches when it carries at least one of these tags. */
  tags?: string[]
  is_active?: boolean
  /** Part of the name, any case. */
  search?: string
}

export interface AccessProfileList {
  access_profiles: AccessProfile[]
  count: number
  total_count: number
  limit: number
  offset: number
}

/** A profile held by a user (Bifrost's `UserAccessProfile`). */
export interface UserAccessProfile {
  id: number
  user_id: string
  parent_profile_id: number
  name: string
  is_active: boolean
  expires_at: string | null
  /** Heimdall: the profile's version when it was assigned. */
  profile_version: number
  virtual_key_ids: string[]
  /** Virtual key id → masked value. */
  virtual_key_values: Record<string, string>
  created_at: string
}

// ---- what the profile needs from the virtual keys ----

/** A virtual key issued for a user from a profile: the profile's policy with fresh counters. */
export interface ManagedKeySpec {
  name: string
  description: string
  user_id: string
  access_profile_id: number
  calendar_aligned: boolean
  provider_configs: {
    provider: string
    weight: number | null
    allowed_models: string[]
    blacklisted_models: string[]
    /** A profile grants providers, not particular provider keys. */
    allow_all_keys: true
    budgets: { max_limit: number; reset_duration: string }[]
    rate_limit: ManagedRateLimit | null
  }[]
  budgets: { max_limit: number; reset_duration: string }[]
  rate_limit: ManagedRateLimit | null
  /** MCP tools the key may run, per MCP client; `['*']` is every tool of the client. */
  mcp_configs: { mcp_client_name: string; tools_to_execute: string[] }[]
}

export interface ManagedRateLimit {
  token_max_limit: number | null
  token_reset_duration: string | null
  request_max_limit: number | null
  request_reset_duration: string | null
}

/** The governance service's virtual keys, as access profiles use them. */
export interface ManagedKeyStore {
  /** Creates the key; the answer holds its full value, which is shown once. */
  issue(spec: ManagedKeySpec): Promise<{ id: string; name: string; value: string }>
  /** Deletes a key; a key already gone is not an error. */
  remove(id: string): Promise<void>
  /** Clears the key's link to its user; the key stays. */
  unlinkUser(id: string): Promise<void>
}

/** The governance service as the key store of access profiles. */
export function governanceKeyStore(governance: GovernanceService): ManagedKeyStore {
  const ignoreMissing = (err: unknown) => {
    if (!(err instanceof GatewayError && err.code === 'not_found')) throw err
  }
  return {
    async issue({ user_id, access_profile_id, ...input }) {
      const { virtualKey } = await governance.createVirtualKey(input, { user_id, access_profile_id })
      return { id: virtualKey.id, name: virtualKey.name, value: virtualKey.value }
    },
    async remove(id) {
      await governance.deleteVirtualKey(id).catch(ignoreMissing)
    },
    async unlinkUser(id) {
      await governance.updateVirtualKey(id, {}, { user_id: null }).catch(ignoreMissing)
    },
  }
}

// ---- the service ----
