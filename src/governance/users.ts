import { randomUUID } from 'node:crypto'
import { sql, type Kysely } from 'kysely'
import { GatewayError } from '../core/errors.js'
import { governanceDb, isUniqueViolation } from './repo/index.js'
import type { ConfigStoreTables, UsersProfilesTables, UsersTable } from '../store/index.js'

/** A role as the users API shows it. Heimdall has no RBAC yet: the role is a label, not a permission set. */
export interface Role {
  id: number
  name: string
  description: string
  is_system_role: boolean
}

/** Bifrost Enterprise's three system roles, with fixed ids. */
export const SYSTEM_ROLES: readonly Role[] = [
  { id: 1, name: 'Admin', description: 'Full access to all resources and operations', is_system_role: true },
  {
    id: 2,
    name: 'Developer',
    description: 'CRUD access to technical resources, view access to logs and cluster',
    is_system_role: true,
  },
  { id: 3, name: 'Viewer', description: 'Read-only access to all resources', is_system_role: true },
]

/** A user as the management API shows it (Bifrost's `UserObject`). */
export interface User {
  id: string
  name: string
  email: string
  role_id: number | null
  role: Role | null
  created_at: string
  updated_at: string
}

export interface UserInput {
  name: string
  email: string
  role_id?: number | null
}

export interface UserPatch {
  name?: string
  email?: string
  role_id?: number | null
}

/** Users are listed by name (any case), then email. */
export interface UserListQuery {
  /** 1-based. */
  page: number
  limit: number
  /** Matches name or email, case-insensitively. */
  search?: string
}

export interface UserList {
  users: User[]
  total: number
  page: number
  limit: number
  total_pages: number
  has_more: boolean
}

const EMAIL = /^[^\s@]+@[^\s@]+$/

/** The users of the organisation, with emails unique whatever their case. */
export class UserService {
  private readonly db: Kysely<ConfigStoreTables & UsersProfilesTables>

  constructor(db: Kysely<ConfigStoreTables>) {
    this.db = db.withTables<UsersProfilesTables>()
  }

  async create(input: UserInput): Promise<User> {
    const email = checkEmail(input.email)
    const name = checkName(input.name)
    const role_id = checkRole(input.role_id)
    const now = new Date().toISOString()
    const row: UsersTable = {
      id: randomUUID(),
      email,
      email_key: email.toLowerCase(),
      name,
      role_id,
      created_at: now,
      updated_at: now,
    }
    try {
      await this.db.insertInto('gov_users').values(row).execute()
    } catch (err) {
      if (isUniqueViolation(err)) throw emailTaken(email)
      throw err
    }
    return toUser(row)
  }

  async get(id: string): Promise<User | undefined> {
    const row = await this.db.selectFrom('gov_users').selectAll().where('id', '=', id).executeTakeFirst()
    return row && toUser(row)
  }

  /** The user or a 404. */
  async require(id: string): Promise<User> {
    const user = await this.get(id)
    if (!user) throw new GatewayError('not_found', `user ${id} not found`)
    return user
  }

  async getByEmail(email: string): Promise<User | undefined> {
    const row = await this.db
      .selectFrom('gov_users')
      .selectAll()
      .where('email_key', '=', email.trim().toLowerCase())
      .executeTakeFirst()
    return row && toUser(row)
  }

  async list(query: UserListQuery): Promise<UserList> {
    let base = this.db.selectFrom('gov_users')
    const search = query.search?.trim().toLowerCase()
    if (search) {
      const pattern = `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`
      base = base.where(
        sql<boolean>`(lower(name) like ${pattern} escape '\\' or email_key like ${pattern} escape '\\')`,
      )
    }
    const [{ total }, rows] = await Promise.all([
      base.select((eb) => eb.fn.countAll<number | string | bigint>().as('total')).executeTakeFirstOrThrow(),
      base
        .selectAll()
        // Creation times can tie; names give an order that pages cannot shuffle.
        .orderBy(sql`lower(name)`)
        .orderBy('email_key')
        .limit(query.limit)
        .offset((query.page - 1) * query.limit)
        .execute(),
    ])
    const count = Number(total)
    return {
      users: rows.map(toUser),
      total: count,
      page: query.page,
      limit: query.limit,
      total_pages: Math.ceil(count / query.limit),
      has_more: query.page * query.limit < count,
    }
  }

  async update(id: string, patch: UserPatch): Promise<User> {
    const current = await this.require(id)
    const email = patch.email === undefined ? current.email : checkEmail(patch.email)
    const update = {
      name: patch.name === undefined ? current.name : checkName(patch.name),
      email,
      email_key: email.toLowerCase(),
      role_id: patch.role_id === undefined ? current.role_id : checkRole(patch.role_id),
      updated_at: new Date().toISOString(),
    }
    try {
      const result = await this.db
        .updateTable('gov_users')
        .set(update)
        .where('id', '=', id)
        .executeTakeFirst()
      if (result.numUpdatedRows === 0n) throw new GatewayError('not_found', `user ${id} not found`)
    } catch (err) {
      if (isUniqueViolation(err)) throw emailTaken(email)
      throw err
    }
    return toUser({ ...update, id, created_at: current.created_at })
  }

  /** Deletes the user row; false when there was none. Profile assignments go with it (cascade). */
  async delete(id: string): Promise<boolean> {
    const result = await this.db.deleteFrom('gov_users').where('id', '=', id).executeTakeFirst()
    return result.numDeletedRows > 0n
  }
}

function toUser(row: UsersTable): User {
  return {
    id: row.id,
    name: row.name,
    email: row.email,
    role_id: row.role_id,
    role: SYSTEM_ROLES.find((r) => r.id === row.role_id) ?? null,
    created_at: row.created_at,
    updated_at: row.updated_at,
  }
}

function checkEmail(value: string): string {
  const email = value.trim()
  if (!EMAIL.test(email) || email.length > 320) {
    throw new GatewayError('invalid_request', `email: "${value}" is not an email address`, { param: 'email' })
  }
  return email
}

function checkName(value: string): string {
  const name = value.trim()
  if (name === '') throw new GatewayError('invalid_request', 'name: must not be empty', { param: 'name' })
  return name
}

function checkRole(value: number | null | undefined): number | null {
  if (value === undefined || value === null) return null
  if (!SYSTEM_ROLES.some((r) => r.id === value)) {
    const known = SYSTEM_ROLES.map((r) => `${r.id} (${r.name})`).join(', ')
    throw new GatewayError('invalid_request', `role_id: unknown role ${value}; roles are ${known}`, {
      param: 'role_id',
    })
  }
  return value
}

function emailTaken(email: string): GatewayError {
  return new GatewayError('conflict', `a user with email ${email} already exists`, { param: 'email' })
}

/** A user's virtual key as the user routes show it: never the full value. */
export interface UserVirtualKey {
  id: string
  name: string
  /** Masked. */
  value: string
  is_active: boolean
  /** The access profile that issued the key, if one did. */
  access_profile_id: number | null
}

/** The virtual keys attached to a user, by name; only those a profile issued when `profileId` is given. */
export async function listUserVirtualKeys(
  db: Kysely<ConfigStoreTables>,
  userId: string,
  profileId?: number,
): Promise<UserVirtualKey[]> {
  let query = governanceDb(db)
    .selectFrom('gov_virtual_keys')
    .select(['id', 'name', 'value_hint', 'is_active', 'access_profile_id'])
    .where('user_id', '=', userId)
  if (profileId !== undefined) query = query.where('access_profile_id', '=', profileId)
  const rows = await query.orderBy('name').execute()
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    value: r.value_hint,
    is_active: r.is_active === 1,
    access_profile_id: r.access_profile_id,
  }))
}

/** A foreign-key violation, on PostgreSQL (23503) or SQLite. */
export function isForeignKeyViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return code === '23503' || code === 'SQLITE_CONSTRAINT_FOREIGNKEY'
}
