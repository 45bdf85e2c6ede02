import { Type, type Static, type TSchema } from '@sinclair/typebox'

/**
 * Bodies of the governance management API (Bifrost's CreateVirtualKeyRequest, UpdateTeamRequest
 * ...). Unknown members are ignored, as Bifrost does; `null` clears where an update allows it.
 */

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])

export const BudgetInputSchema = Type.Object({
  max_limit: Type.Number(),
  reset_duration: Type.String(),
  calendar_aligned: Type.Optional(Type.Boolean()),
})
export type BudgetInput = Static<typeof BudgetInputSchema>

/** A single budget of a team or customer, changed in place: `{}` or null removes it. */
export const BudgetPatchSchema = Type.Object({
  max_limit: Type.Optional(Type.Number()),
  reset_duration: Type.Optional(Type.String()),
  calendar_aligned: Type.Optional(Nullable(Type.Boolean())),
})
export type BudgetPatch = Static<typeof BudgetPatchSchema>

/** On update, members are merged into the stored rate limit; null clears one; both limits absent removes it. */
export const RateLimitInputSchema = Type.Object({
  token_max_limit: Type.Optional(Nullable(Type.Integer())),
  token_reset_duration: Type.Optional(Nullable(Type.String())),
  request_max_limit: Type.Optional(Nullable(Type.Integer())),
  request_reset_duration: Type.Optional(Nullable(Type.String())),
})
export type RateLimitInput = Static<typeof RateLimitInputSchema>

/** A virtual key's provider config, as the API and config.json both take it (without id and limits). */
export const providerConfigFields = {
  provider: Type.String({ minLength: 1 }),
  weight: Type.Optional(Nullable(Type.Number())),
  allowed_models: Type.Optional(Type.Array(Type.String())),
  blacklisted_models: Type.Optional(Type.Array(Type.String())),
  key_ids: Type.Optional(Type.Array(Type.String())),
  allow_all_keys: Type.Optional(Type.Boolean()),
}

export const ProviderConfigInputSchema = Type.Object({
  /** On update: the config to change. Without it, the VK's config for the same provider is changed, or a new one made. */
  id: Type.Optional(Type.Integer()),
  ...providerConfigFields,
  budgets: Type.Optional(Type.Array(BudgetInputSchema)),
  rate_limit: Type.Optional(Nullable(RateLimitInputSchema)),
})
export type ProviderConfigInput = Static<typeof ProviderConfigInputSchema>

export const McpConfigInputSchema = Type.Object({
  id: Type.Optional(Type.Integer()),
  mcp_client_name: Type.String({ minLength: 1 }),
  mcp_client_id: Type.Optional(Nullable(Type.Union([Type.Integer(), Type.String()]))),
  tools_to_execute: Type.Optional(Type.Array(Type.String())),
})
export type McpConfigInput = Static<typeof McpConfigInputSchema>

const virtualKeyFields = {
  description: Type.Optional(Type.String()),
  provider_configs: Type.Optional(Type.Array(ProviderConfigInputSchema)),
  mcp_configs: Type.Optional(Type.Array(McpConfigInputSchema)),
  team_id: Type.Optional(Nullable(Type.String())),
  customer_id: Type.Optional(Nullable(Type.String())),
  budgets: Type.Optional(Type.Array(BudgetInputSchema)),
  /** Bifrost before multi-budgets: one budget. Taken as `budgets: [budget]`. */
  budget: Type.Optional(BudgetInputSchema),
  rate_limit: Type.Optional(Nullable(RateLimitInputSchema)),
  is_active: Type.Optional(Type.Boolean()),
  calendar_aligned: Type.Optional(Type.Boolean()),
  /** RFC 3339; in the future. */
  expires_at: Type.Optional(Nullable(Type.String())),
  /** Heimdall: request logs of this key keep no input or output content (metadata only). */
  disable_content_logging: Type.Optional(Type.Boolean()),
}

export const CreateVirtualKeySchema = Type.Object({
  name: Type.String({ minLength: 1 }),
  ...virtualKeyFields,
})
export type CreateVirtualKeyInput = Static<typeof CreateVirtualKeySchema>

export const UpdateVirtualKeySchema = Type.Object({
  name: Type.Optional(Type.String({ minLength: 1 })),
  ...virtualKeyFields,
  /** Zeroes the usage of the key's budgets and of its provider configs' budgets; their windows stay. */
  reset_budget_usage: Type.Optional(Type.Boolean()),
})
export type UpdateVirtualKeyInput = Static<typeof UpdateVirtualKeySchema>

const ownerFields = {
  /** Bifrost's single budget. */
  budget: Type.Optional(BudgetInputSchema),
  /** Heimdall: several budgets, each with its own reset_duration. */
  budgets: Type.Optional(Type.Array(BudgetInputSchema)),
  rate_limit: Type.Optional(Nullable(RateLimitInputSchema)),
  calendar_aligned: Type.Optional(Type.Boolean()),
}

export const CreateTeamSchema = Type.Object({
  name: Type.String({ minLength: 1 }),
  customer_id: Type.Optional(Nullable(Type.String())),
  ...ownerFields,
})
export type CreateTeamInput = Static<typeof CreateTeamSchema>

const ownerPatchFields = {
  ...ownerFields,
  budget: Type.Optional(Nullable(BudgetPatchSchema)),
}

export const UpdateTeamSchema = Type.Object({
  name: Type.Optional(Type.String({ minLength: 1 })),
  customer_id: Type.Optional(Nullable(Type.String())),
  ...ownerPatchFields,
})
export type UpdateTeamInput = Static<typeof UpdateTeamSchema>

export const CreateCustomerSchema = Type.Object({
  name: Type.String({ minLength: 1 }),
  ...ownerFields,
})
export type CreateCustomerInput = Static<typeof CreateCustomerSchema>

export const UpdateCustomerSchema = Type.Object({
  name: Type.Optional(Type.String({ minLength: 1 })),
  ...ownerPatchFields,
})
export type UpdateCustomerInput = Static<typeof UpdateCustomerSchema>

const LIST_FIELDS: ReadonlySet<string> = new Set([
  'provider_configs',
  'mcp_configs',
  'budgets',
  'allowed_models',
  'blacklisted_models',
  'key_ids',
  'tools_to_execute',
])

/**
 * A copy of a body without the lists sent as `null`, at the top and inside provider and MCP
 * configs: Bifrost (Go) reads a null list as an absent one, so clients written for it send them.
 */
export function withoutNullLists(body: unknown): unknown {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return body
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(body)) {
    if (value === null && LIST_FIELDS.has(key)) continue
    out[key] =
      (key === 'provider_configs' || key === 'mcp_configs') && Array.isArray(value)
        ? value.map(withoutNullLists)
        : value
  }
  return out
}
