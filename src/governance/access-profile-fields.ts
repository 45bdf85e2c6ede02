import { randomUUID } from 'node:crypto'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import type { Selectable } from 'kysely'
import { GatewayError } from '../core/errors.js'
import type { AccessProfilesTable } from '../store/index.js'
import {
  BUDGET_RESET_DURATIONS,
  MAX_BUDGETS,
  MAX_PROVIDER_CONFIGS,
  MAX_TAGS,
  ProfileRateLimitSchema,
  RATE_LIMIT_RESET_DURATIONS,
  type AccessProfile,
  type BudgetInput,
  type CreateAccessProfileInput,
  type ManagedKeySpec,
  type ManagedRateLimit,
  type ProfileBudget,
  type ProfileProviderConfig,
  type ProfileRateLimit,
  type ProviderConfigInput,
  type RateLimitInput,
  type RateLimitResetDuration,
  type UpdateAccessProfileInput,
} from './access-profile-shapes.js'
import type { User } from './users.js'

/** Access profiles: input validation, stored rows and the key spec a profile issues. */

export function stillAssigned(profile: AccessProfile, holders: number): GatewayError {
  return new GatewayError(
    'conflict',
    `access profile ${profile.name} is held by ${holders} user${holders === 1 ? '' : 's'}; detach it from them first`,
  )
}

// ---- input → stored fields ----

export type ProfileFields = Omit<AccessProfile, 'id' | 'version' | 'created_at' | 'updated_at'>

export function bad(param: string, message: string): GatewayError {
  return new GatewayError('invalid_request', `${param}: ${message}`, { param })
}

/** The profile's fields after a create (no `current`) or a partial update, validated. */
export function buildFields(
  input: CreateAccessProfileInput | UpdateAccessProfileInput,
  current: AccessProfile | undefined,
  now: string,
): ProfileFields {
  const name = input.name === undefined ? current?.name : input.name.trim()
  if (!name) throw bad('name', 'must not be empty')
  if (input.auto_rotation_interval !== undefined && input.auto_rotation_interval !== null) {
    const off = input.auto_rotation_interval === '' || input.auto_rotation_interval === 0
    if (!off)
      throw bad('auto_rotation_interval', 'automatic rotation of profile keys is not supported by Heimdall')
  }
  if (input.next_rotation_at !== undefined && input.next_rotation_at !== null) {
    throw bad('next_rotation_at', 'automatic rotation of profile keys is not supported by Heimdall')
  }
  if (input.mcp_tool_groups !== undefined && input.mcp_tool_groups.length > 0) {
    throw bad(
      'mcp_tool_groups',
      'MCP tool groups are not supported by Heimdall; use mcp_servers and mcp_tool_overrides',
    )
  }
  const tags = input.tags === undefined ? (current?.tags ?? []) : checkTags(input.tags)
  const provider_configs =
    input.provider_configs === undefined
      ? (current?.provider_configs ?? [])
      : buildProviderConfigs(input.provider_configs, current?.provider_configs ?? [], now)
  if (input.budgets !== undefined && input.budgets.length > MAX_BUDGETS) {
    throw bad('budgets', `at most ${MAX_BUDGETS} budgets`)
  }
  const budgets =
    input.budgets === undefined
      ? (current?.budgets ?? [])
      : input.budgets.map((b, i) => buildBudget(b, 'total', current?.budgets ?? [], now, `budgets.${i}`))
  checkDistinctDurations(budgets, 'budgets')
  const rateLimitInput = parseRateLimit(input.rate_limit, 'rate_limit')
  const rate_limit =
    rateLimitInput === undefined
      ? (current?.rate_limit ?? null)
      : rateLimitInput && buildRateLimit(rateLimitInput, current?.rate_limit ?? null, 'rate_limit')
  const mcp_servers = input.mcp_servers ?? current?.mcp_servers ?? []
  const mcp_tool_overrides = input.mcp_tool_overrides ?? current?.mcp_tool_overrides ?? []
  checkMcp(mcp_servers, mcp_tool_overrides)
  return {
    name,
    description: input.description === undefined ? (current?.description ?? null) : input.description,
    is_active: input.is_active ?? current?.is_active ?? true,
    tags,
    provider_configs,
    budgets,
    rate_limit,
    calendar_aligned: input.calendar_aligned ?? current?.calendar_aligned ?? false,
    auto_rotation_interval: 0,
    mcp_tool_groups: [],
    mcp_servers: mcp_servers.map((s) => ({ mcp_server_id: s.mcp_server_id })),
    mcp_tool_overrides: mcp_tool_overrides.map((o) => ({
      mcp_client_id: o.mcp_client_id,
      tool_name: o.tool_name,
      action: o.action,
    })),
  }
}

export function checkTags(input: string[]): string[] {
  const tags = [...new Set(input.map((t) => t.trim()))]
  if (tags.some((t) => t === '')) throw bad('tags', 'a tag must not be empty')
  if (tags.some((t) => t.length > 100)) throw bad('tags', 'a tag is at most 100 characters')
  if (tags.length > MAX_TAGS) throw bad('tags', `at most ${MAX_TAGS} tags (got ${tags.length})`)
  return tags
}

export function buildProviderConfigs(
  input: ProviderConfigInput[],
  current: ProfileProviderConfig[],
  now: string,
): ProfileProviderConfig[] {
  if (input.length > MAX_PROVIDER_CONFIGS) {
    throw bad('provider_configs', `at most ${MAX_PROVIDER_CONFIGS} provider configs`)
  }
  const seen = new Set<string>()
  const usedIds = new Set(input.flatMap((pc) => (pc.id === undefined ? [] : [pc.id])))
  let nextId = Math.max(0, ...current.map((pc) => pc.id), ...usedIds) + 1
  return input.map((pc, i) => {
    const param = `provider_configs.${i}`
    const provider = pc.provider_name ?? pc.provider
    if (!provider) throw bad(`${param}.provider_name`, 'is required')
    if (seen.has(provider)) throw bad(`${param}.provider_name`, `provider ${provider} appears twice`)
    seen.add(provider)
    const previous = current.find((c) =>
      pc.id !== undefined ? c.id === pc.id : c.provider_name === provider,
    )
    const all_models_allowed = pc.all_models_allowed ?? pc.allowed_models === undefined
    checkModelList(pc.allowed_models, `${param}.allowed_models`)
    checkModelList(pc.blacklisted_models, `${param}.blacklisted_models`)
    const budgets = (pc.budgets ?? []).map((b, j) =>
      buildBudget(b, `provider:${provider}`, previous?.budgets ?? [], now, `${param}.budgets.${j}`),
    )
    checkDistinctDurations(budgets, `${param}.budgets`)
    const rateLimitInput = parseRateLimit(pc.rate_limit, `${param}.rate_limit`)
    return {
      id: pc.id ?? previous?.id ?? nextId++,
      provider_name: provider,
      all_models_allowed,
      allowed_models: all_models_allowed ? [] : [...new Set(pc.allowed_models ?? [])],
      blacklisted_models: [...new Set(pc.blacklisted_models ?? [])],
      weight: pc.weight ?? null,
      budgets,
      rate_limit: rateLimitInput
        ? buildRateLimit(rateLimitInput, previous?.rate_limit ?? null, `${param}.rate_limit`)
        : null,
    }
  })
}

/** As for virtual keys: an owner's budgets each need their own reset_duration. */
export function checkDistinctDurations(budgets: ProfileBudget[], param: string): void {
  budgets.forEach((b, i) => {
    if (budgets.findIndex((o) => o.reset_duration === b.reset_duration) !== i) {
      throw bad(`${param}.${i}.reset_duration`, `another budget already resets every ${b.reset_duration}`)
    }
  })
}

/** `regex:` entries must compile, as for virtual keys. */
export function checkModelList(models: string[] | undefined, param: string): void {
  models?.forEach((model, i) => {
    if (!model.startsWith('regex:')) return
    try {
      new RegExp(model.slice('regex:'.length))
    } catch {
      throw bad(`${param}.${i}`, `${JSON.stringify(model)} is not a valid regular expression`)
    }
  })
}

export function buildBudget(
  input: BudgetInput,
  scope: string,
  current: ProfileBudget[],
  now: string,
  param: string,
): ProfileBudget {
  if (!isOneOf(BUDGET_RESET_DURATIONS, input.reset_duration)) {
    throw bad(`${param}.reset_duration`, `must be one of ${BUDGET_RESET_DURATIONS.join(', ')}`)
  }
  if (input.reset_config !== undefined && input.reset_duration !== '1Q') {
    throw bad(`${param}.reset_config`, 'is only valid with reset_duration 1Q')
  }
  const previous = input.id === undefined ? undefined : current.find((b) => b.id === input.id)
  return {
    id: previous?.id ?? randomUUID(),
    max_limit: input.max_limit,
    reset_duration: input.reset_duration,
    ...(input.reset_config !== undefined && { reset_config: { ...input.reset_config } }),
    scope,
    current_usage: 0,
    last_reset: previous?.last_reset ?? now,
  }
}

export function buildRateLimit(
  input: RateLimitInput,
  current: ProfileRateLimit | null,
  param: string,
): ProfileRateLimit {
  const token_max_limit = input.token_max_limit ?? null
  const request_max_limit = input.request_max_limit ?? null
  const token_reset_duration = rateLimitDuration(input.token_reset_duration, `${param}.token_reset_duration`)
  const request_reset_duration = rateLimitDuration(
    input.request_reset_duration,
    `${param}.request_reset_duration`,
  )
  if (token_max_limit !== null && token_reset_duration === null) {
    throw bad(`${param}.token_reset_duration`, 'is required with token_max_limit')
  }
  if (request_max_limit !== null && request_reset_duration === null) {
    throw bad(`${param}.request_reset_duration`, 'is required with request_max_limit')
  }
  if (token_max_limit === null && request_max_limit === null) {
    throw bad(param, 'sets neither token_max_limit nor request_max_limit')
  }
  return {
    id: current?.id ?? randomUUID(),
    token_max_limit,
    token_reset_duration: token_max_limit === null ? null : token_reset_duration,
    request_max_limit,
    request_reset_duration: request_max_limit === null ? null : request_reset_duration,
    token_current_usage: 0,
    request_current_usage: 0,
  }
}

export function isOneOf<T extends string>(values: readonly T[], value: string): value is T {
  return (values as readonly string[]).includes(value)
}

export function rateLimitDuration(
  value: string | null | undefined,
  param: string,
): RateLimitResetDuration | null {
  if (value === undefined || value === null) return null
  if (!isOneOf(RATE_LIMIT_RESET_DURATIONS, value)) {
    throw bad(param, `must be one of ${RATE_LIMIT_RESET_DURATIONS.join(', ')}`)
  }
  return value
}

const rateLimitCheck = TypeCompiler.Compile(ProfileRateLimitSchema)

/** A rate limit from a body: undefined when absent, null when cleared; a 400 naming the member at fault otherwise. */
export function parseRateLimit(value: unknown, param: string): RateLimitInput | null | undefined {
  if (value === undefined || value === null || rateLimitCheck.Check(value)) return value
  if (typeof value !== 'object' || Array.isArray(value)) throw bad(param, 'must be an object or null')
  const first = rateLimitCheck.Errors(value).First()
  const path = first ? first.path.replace(/^\//, '').replace(/\//g, '.') : ''
  throw bad(path ? `${param}.${path}` : param, first ? first.message.toLowerCase() : 'is not a rate limit')
}

export function checkMcp(
  servers: { mcp_server_id: string }[],
  overrides: AccessProfile['mcp_tool_overrides'],
): void {
  const whole = new Set(servers.map((s) => s.mcp_server_id))
  for (const [i, o] of overrides.entries()) {
    // A key holds positive allow-lists only, so "the whole server minus one tool" cannot be expressed.
    if (o.action === 'exclude' && whole.has(o.mcp_client_id)) {
      throw bad(
        `mcp_tool_overrides.${i}`,
        `excluding ${o.tool_name} from the whole server ${o.mcp_client_id} cannot be expressed; list the tools to include instead`,
      )
    }
  }
}

// ---- rows ----

export function toRow(
  f: ProfileFields,
): Omit<AccessProfilesTable, 'id' | 'version' | 'created_at' | 'updated_at'> {
  return {
    name: f.name,
    description: f.description,
    is_active: f.is_active ? 1 : 0,
    tags: JSON.stringify(f.tags),
    provider_configs: JSON.stringify(f.provider_configs),
    budgets: JSON.stringify(f.budgets),
    rate_limit: f.rate_limit === null ? null : JSON.stringify(f.rate_limit),
    calendar_aligned: f.calendar_aligned ? 1 : 0,
    mcp_tool_groups: JSON.stringify(f.mcp_tool_groups),
    mcp_servers: JSON.stringify(f.mcp_servers),
    mcp_tool_overrides: JSON.stringify(f.mcp_tool_overrides),
  }
}

export function fromRow(row: Selectable<AccessProfilesTable>): AccessProfile {
  return {
    id: Number(row.id),
    name: row.name,
    description: row.description,
    is_active: row.is_active === 1,
    version: row.version,
    tags: JSON.parse(row.tags) as string[],
    provider_configs: JSON.parse(row.provider_configs) as ProfileProviderConfig[],
    budgets: JSON.parse(row.budgets) as ProfileBudget[],
    rate_limit: row.rate_limit === null ? null : (JSON.parse(row.rate_limit) as ProfileRateLimit),
    calendar_aligned: row.calendar_aligned === 1,
    auto_rotation_interval: 0,
    mcp_tool_groups: JSON.parse(row.mcp_tool_groups) as AccessProfile['mcp_tool_groups'],
    mcp_servers: JSON.parse(row.mcp_servers) as AccessProfile['mcp_servers'],
    mcp_tool_overrides: JSON.parse(row.mcp_tool_overrides) as AccessProfile['mcp_tool_overrides'],
    created_at: row.created_at,
    updated_at: row.updated_at,
  }
}

// ---- profile → virtual key ----

export function managedRateLimit(rl: ProfileRateLimit | null): ManagedRateLimit | null {
  return (
    rl && {
      token_max_limit: rl.token_max_limit,
      token_reset_duration: rl.token_reset_duration,
      request_max_limit: rl.request_max_limit,
      request_reset_duration: rl.request_reset_duration,
    }
  )
}

/** The virtual key a profile issues to a user: the profile's policy, with counters of its own. */
export function managedKeySpec(profile: AccessProfile, user: User): ManagedKeySpec {
  const tools = new Map<string, Set<string>>()
  for (const s of profile.mcp_servers) tools.set(s.mcp_server_id, new Set(['*']))
  for (const o of profile.mcp_tool_overrides) {
    const set = tools.get(o.mcp_client_id) ?? new Set<string>()
    if (o.action === 'include' && !set.has('*')) set.add(o.tool_name)
    if (o.action === 'exclude') set.delete(o.tool_name)
    if (set.size > 0) tools.set(o.mcp_client_id, set)
  }
  return {
    name: `${profile.name} (${user.email})`,
    description: `Issued to ${user.email} by access profile ${profile.name}`,
    user_id: user.id,
    access_profile_id: profile.id,
    calendar_aligned: profile.calendar_aligned,
    provider_configs: profile.provider_configs.map((pc) => ({
      provider: pc.provider_name,
      weight: pc.weight,
      allowed_models: pc.all_models_allowed ? ['*'] : pc.allowed_models,
      blacklisted_models: pc.blacklisted_models,
      allow_all_keys: true,
      budgets: pc.budgets.map((b) => ({ max_limit: b.max_limit, reset_duration: b.reset_duration })),
      rate_limit: managedRateLimit(pc.rate_limit),
    })),
    budgets: profile.budgets.map((b) => ({ max_limit: b.max_limit, reset_duration: b.reset_duration })),
    rate_limit: managedRateLimit(profile.rate_limit),
    mcp_configs: [...tools].map(([mcp_client_name, set]) => ({
      mcp_client_name,
      tools_to_execute: [...set],
    })),
  }
}
