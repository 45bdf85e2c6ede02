import { randomUUID } from 'node:crypto'
import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely'
import { GatewayError } from '../core/errors.js'
import type { ConfigStoreTables } from '../store/index.js'
import type { AccessProfilesTable, UsersProfilesTables } from '../store/migrations/003_users_profiles.js'
import { isUniqueViolation } from './repo/index.js'
import { virtualKeyHint, type GovernanceService } from './service.js'
import { isForeignKeyViolation, listUserVirtualKeys, type User } from './users.js'

/*
 * Access profiles, in a reduced form of Bifrost Enterprise's:
 * - A profile is a template: provider configs, budgets, a rate limit, MCP servers and tool
 *   overrides, tags (at most 50, on create too) and a version that goes up with every change, each
 *   version kept as a snapshot.
 * - Assigning it to a user records the assignment and issues the user one virtual key through the
 *   governance service, with the profile's policy and fresh counters; that key is the user's copy.
 *   Detaching deletes the keys the profile issued; a profile still assigned cannot be deleted (409).
 * - Left out: roles (and default profiles per role), propagation of template edits to issued keys,
 *   per-user budget overrides, automatic rotation, MCP tool groups, audit logs, "govern keys created
 *   by members", and the edit lock on managed keys.
 */

// ---- the API's shapes (Bifrost's accessprofiles.yaml) ----

const literals = <T extends string>(values: readonly T[]) => Type.Union(values.map((v) => Type.Literal(v)))
const nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])

export const BUDGET_RESET_DURATIONS = ['1h', '1d', '1w', '1M', '1Q', '1Y'] as const
export const RATE_LIMIT_RESET_DURATIONS = ['1h', '1d', '1w', '1M', '1Y'] as const
export const MAX_TAGS = 50
export const MAX_PROVIDER_CONFIGS = 100
export const MAX_BUDGETS = 100
const DEFAULT_PAGE_SIZE = 25
const MAX_PAGE_SIZE = 1000

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
type BudgetInput = Static<typeof ProfileBudgetSchema>
type RateLimitInput = Static<typeof ProfileRateLimitSchema>
type ProviderConfigInput = Static<typeof ProfileProviderConfigSchema>

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

export interface AccessProfileVersion {
  id: number
  access_profile_id: number
  version: number
  name: string
  description: string | null
  /** JSON of the profile at this version. */
  snapshot: string
  changed_by: string
  created_at: string
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

type Tables = ConfigStoreTables & UsersProfilesTables
type Db = Kysely<Tables>
type Executor = Db | Transaction<Tables>

const CHANGED_BY = 'admin'

/**
 * Access profiles: reusable governance templates (provider configs, budgets, rate limit, MCP tools)
 * that, once assigned to a user, issue that user a virtual key with the profile's policy.
 */
export class AccessProfileService {
  private readonly db: Db

  constructor(
    private readonly store: Kysely<ConfigStoreTables>,
    private readonly keys: ManagedKeyStore | undefined,
  ) {
    this.db = store.withTables<UsersProfilesTables>()
  }

  async list(query: AccessProfileListQuery): Promise<AccessProfileList> {
    const db = this.db
    let base = db.selectFrom('gov_access_profiles')
    const tags = [...new Set((query.tags ?? []).map((t) => t.trim()).filter((t) => t !== ''))]
    if (tags.length > 0) {
      base = base.where(
        'id',
        'in',
        db.selectFrom('gov_access_profile_tags').select('profile_id').where('tag', 'in', tags),
      )
    }
    if (query.is_active !== undefined) base = base.where('is_active', '=', query.is_active ? 1 : 0)
    const search = query.search?.trim().toLowerCase()
    if (search) {
      const pattern = `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`
      base = base.where(sql<boolean>`lower(name) like ${pattern} escape '\\'`)
    }
    // As Bifrost's lists: without limit or offset, every match; otherwise one page.
    const paged = query.limit !== undefined || query.offset !== undefined
    const limit = Math.min(query.limit ?? DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    const offset = query.offset ?? 0
    let page = base.selectAll().orderBy('id')
    if (paged) page = page.limit(limit).offset(offset)
    const [{ total }, rows] = await Promise.all([
      base.select((eb) => eb.fn.countAll<number | string | bigint>().as('total')).executeTakeFirstOrThrow(),
      page.execute(),
    ])
    return {
      access_profiles: rows.map(fromRow),
      count: rows.length,
      total_count: Number(total),
      limit: paged ? limit : rows.length,
      offset: paged ? offset : 0,
    }
  }

  async get(id: number): Promise<AccessProfile | undefined> {
    const row = await this.db
      .selectFrom('gov_access_profiles')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst()
    return row && fromRow(row)
  }

  async require(id: number): Promise<AccessProfile> {
    const profile = await this.get(id)
    if (!profile) throw new GatewayError('not_found', `access profile ${id} not found`)
    return profile
  }

  /** The number of users holding the profile. */
  async userCount(id: number): Promise<number> {
    const { n } = await this.db
      .selectFrom('gov_user_access_profiles')
      .select((eb) => eb.fn.countAll<number | string | bigint>().as('n'))
      .where('profile_id', '=', id)
      .executeTakeFirstOrThrow()
    return Number(n)
  }

  async create(input: CreateAccessProfileInput): Promise<AccessProfile> {
    const now = new Date().toISOString()
    const fields = buildFields(input, undefined, now)
    return this.write(async (trx) => {
      const { id } = await trx
        .insertInto('gov_access_profiles')
        .values({ ...toRow(fields), version: 1, created_at: now, updated_at: now })
        .returning('id')
        .executeTakeFirstOrThrow()
      const profile: AccessProfile = { ...fields, id, version: 1, created_at: now, updated_at: now }
      await this.writeTagsAndVersion(trx, profile)
      return profile
    }, fields.name)
  }

  /** A partial update: omitted fields keep their value; the version goes up by one. */
  async update(id: number, patch: UpdateAccessProfileInput): Promise<AccessProfile> {
    const current = await this.require(id)
    const now = new Date().toISOString()
    const fields = buildFields(patch, current, now)
    return this.bump(current, fields, now)
  }

  async setActive(id: number, active: boolean): Promise<AccessProfile> {
    const current = await this.require(id)
    if (current.is_active === active) return current
    const now = new Date().toISOString()
    return this.bump(current, { ...current, is_active: active }, now)
  }

  async clone(id: number, name: string, description: string | undefined): Promise<AccessProfile> {
    const source = await this.require(id)
    const copy: CreateAccessProfileInput = {
      ...source,
      name,
      description: description ?? source.description,
      // New ids: the copy shares nothing with its source.
      provider_configs: source.provider_configs.map(({ id: _id, budgets, rate_limit, ...pc }) => ({
        ...pc,
        budgets: budgets.map(({ id: _bid, ...b }) => b),
        rate_limit: rate_limit && { ...rate_limit, id: undefined },
      })),
      budgets: source.budgets.map(({ id: _id, ...b }) => b),
      rate_limit: source.rate_limit && { ...source.rate_limit, id: undefined },
    }
    return this.create(copy)
  }

  /** Refused with 409 while users hold the profile. */
  async delete(id: number): Promise<void> {
    const profile = await this.require(id)
    const holders = await this.userCount(id)
    if (holders > 0) throw stillAssigned(profile, holders)
    try {
      await this.db.deleteFrom('gov_access_profiles').where('id', '=', id).execute()
    } catch (err) {
      // An assignment made between the count and the delete: the foreign key refuses.
      if (isForeignKeyViolation(err)) throw stillAssigned(profile, await this.userCount(id))
      throw err
    }
  }

  async versions(id: number): Promise<AccessProfileVersion[]> {
    await this.require(id)
    const rows = await this.db
      .selectFrom('gov_access_profile_versions')
      .selectAll()
      .where('profile_id', '=', id)
      .orderBy('version')
      .execute()
    return rows.map(({ profile_id, ...v }) => ({ ...v, access_profile_id: profile_id }))
  }

  async version(id: number, version: number): Promise<AccessProfileVersion> {
    const row = await this.db
      .selectFrom('gov_access_profile_versions')
      .selectAll()
      .where('profile_id', '=', id)
      .where('version', '=', version)
      .executeTakeFirst()
    if (!row) throw new GatewayError('not_found', `access profile ${id} has no version ${version}`)
    const { profile_id, ...v } = row
    return { ...v, access_profile_id: profile_id }
  }

  // ---- profiles held by users ----

  /**
   * Assigns the profile to the user and issues the user a virtual key with the profile's policy and
   * fresh counters. The answer holds the key's full value: the only time it is shown.
   */
  async assign(
    user: User,
    profileId: number,
  ): Promise<{
    access_profile: UserAccessProfile
    virtual_key: { id: string; name: string; value: string }
  }> {
    const keys = this.requireKeys()
    const profile = await this.require(profileId)
    if (!profile.is_active) {
      throw new GatewayError(
        'invalid_request',
        `access profile ${profile.name} is inactive; activate it first`,
        {
          param: 'profile_id',
        },
      )
    }
    const now = new Date().toISOString()
    let assignmentId: number
    try {
      ;({ id: assignmentId } = await this.db
        .insertInto('gov_user_access_profiles')
        .values({
          user_id: user.id,
          profile_id: profile.id,
          name: profile.name,
          is_active: 1,
          profile_version: profile.version,
          expires_at: null,
          created_at: now,
          updated_at: now,
        })
        .returning('id')
        .executeTakeFirstOrThrow())
    } catch (err) {
      if (isUniqueViolation(err)) {
        throw new GatewayError('conflict', `user ${user.email} already holds access profile ${profile.name}`)
      }
      if (isForeignKeyViolation(err)) {
        throw new GatewayError(
          'not_found',
          `user ${user.id} or access profile ${profile.id} no longer exists`,
        )
      }
      throw err
    }
    let issued: { id: string; name: string; value: string }
    try {
      issued = await keys.issue(managedKeySpec(profile, user))
    } catch (err) {
      await this.db.deleteFrom('gov_user_access_profiles').where('id', '=', assignmentId).execute()
      throw err
    }
    return {
      access_profile: {
        id: assignmentId,
        user_id: user.id,
        parent_profile_id: profile.id,
        name: profile.name,
        is_active: true,
        expires_at: null,
        profile_version: profile.version,
        virtual_key_ids: [issued.id],
        virtual_key_values: { [issued.id]: virtualKeyHint(issued.value) },
        created_at: now,
      },
      virtual_key: { id: issued.id, name: issued.name, value: issued.value },
    }
  }

  async listForUser(userId: string): Promise<UserAccessProfile[]> {
    const rows = await this.db
      .selectFrom('gov_user_access_profiles')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('id')
      .execute()
    const keys = rows.length > 0 ? await listUserVirtualKeys(this.store, userId) : []
    return rows.map((row) => {
      const own = keys.filter((k) => k.access_profile_id === row.profile_id)
      return {
        id: row.id,
        user_id: row.user_id,
        parent_profile_id: row.profile_id,
        name: row.name,
        is_active: row.is_active === 1,
        expires_at: row.expires_at,
        profile_version: row.profile_version,
        virtual_key_ids: own.map((k) => k.id),
        virtual_key_values: Object.fromEntries(own.map((k) => [k.id, k.value])),
        created_at: row.created_at,
      }
    })
  }

  /**
   * Removes the profile from the user and deletes every virtual key it issued them. Fails closed:
   * when a key cannot be deleted the assignment stays, so that the call can be repeated.
   */
  async detach(
    userId: string,
    profileId: number,
  ): Promise<{ deleted_vk_names: string[]; deleted_vk_count: number }> {
    const row = await this.db
      .selectFrom('gov_user_access_profiles')
      .select('id')
      .where('user_id', '=', userId)
      .where('profile_id', '=', profileId)
      .executeTakeFirst()
    if (!row) throw new GatewayError('not_found', `user ${userId} does not hold access profile ${profileId}`)
    const keys = this.requireKeys()
    const issued = await listUserVirtualKeys(this.store, userId, profileId)
    for (const key of issued) await keys.remove(key.id)
    await this.db.deleteFrom('gov_user_access_profiles').where('id', '=', row.id).execute()
    return { deleted_vk_names: issued.map((k) => k.name), deleted_vk_count: issued.length }
  }

  /**
   * Before a user is deleted: detaches the profiles they hold (deleting the keys those issued) and
   * unlinks their other keys, which stay.
   */
  async releaseUser(userId: string): Promise<void> {
    const rows = await this.db
      .selectFrom('gov_user_access_profiles')
      .select('profile_id')
      .where('user_id', '=', userId)
      .execute()
    for (const row of rows) await this.detach(userId, row.profile_id)
    const others = await listUserVirtualKeys(this.store, userId)
    if (others.length === 0) return
    const keys = this.requireKeys()
    for (const key of others) await keys.unlinkUser(key.id)
  }

  // ---- internals ----

  private requireKeys(): ManagedKeyStore {
    if (!this.keys) {
      throw new GatewayError('store_unavailable', 'virtual keys are not available: governance is not set up')
    }
    return this.keys
  }

  /** Writes a new version of the profile, refusing if another writer got there first. */
  private async bump(current: AccessProfile, fields: ProfileFields, now: string): Promise<AccessProfile> {
    const version = current.version + 1
    return this.write(
      async (trx) => {
        const result = await trx
          .updateTable('gov_access_profiles')
          .set({ ...toRow(fields), version, updated_at: now })
          .where('id', '=', current.id)
          .where('version', '=', current.version)
          .executeTakeFirst()
        if (result.numUpdatedRows === 0n) {
          throw new GatewayError(
            'conflict',
            `access profile ${current.id} was changed meanwhile; read it again and retry`,
          )
        }
        await trx.deleteFrom('gov_access_profile_tags').where('profile_id', '=', current.id).execute()
        const profile: AccessProfile = {
          ...fields,
          id: current.id,
          version,
          created_at: current.created_at,
          updated_at: now,
        }
        await this.writeTagsAndVersion(trx, profile)
        return profile
      },
      fields.name,
      current.id,
    )
  }

  /** One transaction; a unique-constraint violation becomes a 409 that says what clashed. */
  private async write<T>(
    f: (trx: Transaction<Tables>) => Promise<T>,
    name: string,
    selfId?: number,
  ): Promise<T> {
    try {
      return await this.db.transaction().execute(f)
    } catch (err) {
      if (!isUniqueViolation(err)) throw err
      let query = this.db.selectFrom('gov_access_profiles').select('id').where('name', '=', name)
      if (selfId !== undefined) query = query.where('id', '!=', selfId)
      const taken = await query.executeTakeFirst()
      throw taken
        ? new GatewayError('conflict', `an access profile named ${name} already exists`, { param: 'name' })
        : new GatewayError('conflict', 'the access profile was changed meanwhile; read it again and retry')
    }
  }

  private async writeTagsAndVersion(trx: Executor, profile: AccessProfile): Promise<void> {
    if (profile.tags.length > 0) {
      await trx
        .insertInto('gov_access_profile_tags')
        .values(profile.tags.map((tag) => ({ profile_id: profile.id, tag })))
        .execute()
    }
    await trx
      .insertInto('gov_access_profile_versions')
      .values({
        profile_id: profile.id,
        version: profile.version,
        name: profile.name,
        description: profile.description,
        snapshot: JSON.stringify(profile),
        changed_by: CHANGED_BY,
        created_at: profile.updated_at,
      })
      .execute()
  }
}

function stillAssigned(profile: AccessProfile, holders: number): GatewayError {
  return new GatewayError(
    'conflict',
    `access profile ${profile.name} is held by ${holders} user${holders === 1 ? '' : 's'}; detach it from them first`,
  )
}

// ---- input → stored fields ----

type ProfileFields = Omit<AccessProfile, 'id' | 'version' | 'created_at' | 'updated_at'>

function bad(param: string, message: string): GatewayError {
  return new GatewayError('invalid_request', `${param}: ${message}`, { param })
}

/** The profile's fields after a create (no `current`) or a partial update, validated. */
function buildFields(
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

function checkTags(input: string[]): string[] {
  const tags = [...new Set(input.map((t) => t.trim()))]
  if (tags.some((t) => t === '')) throw bad('tags', 'a tag must not be empty')
  if (tags.some((t) => t.length > 100)) throw bad('tags', 'a tag is at most 100 characters')
  if (tags.length > MAX_TAGS) throw bad('tags', `at most ${MAX_TAGS} tags (got ${tags.length})`)
  return tags
}

function buildProviderConfigs(
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
function checkDistinctDurations(budgets: ProfileBudget[], param: string): void {
  budgets.forEach((b, i) => {
    if (budgets.findIndex((o) => o.reset_duration === b.reset_duration) !== i) {
      throw bad(`${param}.${i}.reset_duration`, `another budget already resets every ${b.reset_duration}`)
    }
  })
}

/** `regex:` entries must compile, as for virtual keys. */
function checkModelList(models: string[] | undefined, param: string): void {
  models?.forEach((model, i) => {
    if (!model.startsWith('regex:')) return
    try {
      new RegExp(model.slice('regex:'.length))
    } catch {
      throw bad(`${param}.${i}`, `${JSON.stringify(model)} is not a valid regular expression`)
    }
  })
}

function buildBudget(
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

function buildRateLimit(
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

function isOneOf<T extends string>(values: readonly T[], value: string): value is T {
  return (values as readonly string[]).includes(value)
}

function rateLimitDuration(value: string | null | undefined, param: string): RateLimitResetDuration | null {
  if (value === undefined || value === null) return null
  if (!isOneOf(RATE_LIMIT_RESET_DURATIONS, value)) {
    throw bad(param, `must be one of ${RATE_LIMIT_RESET_DURATIONS.join(', ')}`)
  }
  return value
}

const rateLimitCheck = TypeCompiler.Compile(ProfileRateLimitSchema)

/** A rate limit from a body: undefined when absent, null when cleared; a 400 naming the member at fault otherwise. */
function parseRateLimit(value: unknown, param: string): RateLimitInput | null | undefined {
  if (value === undefined || value === null || rateLimitCheck.Check(value)) return value
  if (typeof value !== 'object' || Array.isArray(value)) throw bad(param, 'must be an object or null')
  const first = rateLimitCheck.Errors(value).First()
  const path = first ? first.path.replace(/^\//, '').replace(/\//g, '.') : ''
  throw bad(path ? `${param}.${path}` : param, first ? first.message.toLowerCase() : 'is not a rate limit')
}

function checkMcp(
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

function toRow(f: ProfileFields): Omit<AccessProfilesTable, 'id' | 'version' | 'created_at' | 'updated_at'> {
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

function fromRow(row: Selectable<AccessProfilesTable>): AccessProfile {
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

function managedRateLimit(rl: ProfileRateLimit | null): ManagedRateLimit | null {
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
