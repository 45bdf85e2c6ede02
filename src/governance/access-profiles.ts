import { sql, type Kysely, type Transaction } from 'kysely'
import { GatewayError } from '../core/errors.js'
import type { ConfigStoreTables, UsersProfilesTables } from '../store/index.js'
import {
  buildFields,
  fromRow,
  managedKeySpec,
  stillAssigned,
  toRow,
  type ProfileFields,
} from './access-profile-fields.js'
import {
  type AccessProfile,
  type AccessProfileList,
  type AccessProfileListQuery,
  type AccessProfileVersion,
  type CreateAccessProfileInput,
  type ManagedKeyStore,
  type UpdateAccessProfileInput,
  type UserAccessProfile,
} from './access-profile-shapes.js'
import { isUniqueViolation } from './repo/index.js'
import { virtualKeyHint } from './key-values.js'
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './lists.js'
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
