import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { GatewayError } from '../../core/errors.js'
import { type AccessProfileService, listUserVirtualKeys, type UserService } from '../../governance/index.js'
import type { ConfigStore } from '../../store/index.js'
import { compileValidator } from '../validate.js'

export interface UserRouteDeps {
  store: ConfigStore
  users: UserService
  accessProfiles: AccessProfileService
}

/** Bifrost serves users under both prefixes (the newer one is /api/governance/users). */
export const USER_PREFIXES = ['/api/users', '/api/governance/users'] as const

const validateCreate = compileValidator(
  Type.Object(
    {
      name: Type.String({ minLength: 1 }),
      email: Type.String({ minLength: 3 }),
      role_id: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
    },
    { additionalProperties: true },
  ),
)
const validateUpdate = compileValidator(
  Type.Object(
    {
      name: Type.Optional(Type.String({ minLength: 1 })),
      email: Type.Optional(Type.String({ minLength: 3 })),
      role_id: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
    },
    { additionalProperties: true },
  ),
)
const validateRole = compileValidator(
  Type.Object({ role_id: Type.Integer() }, { additionalProperties: true }),
)

type UserParams = { Params: { user_id: string } }
type EmailParams = { Params: { email: string } }
type ListQuery = { Querystring: Record<string, string | string[] | undefined> }

/** Bifrost's users API (users.yaml, governanceextensions.yaml), plus get and update by id. */
export function registerUserRoutes(
  app: FastifyInstance,
  { store, users, accessProfiles }: UserRouteDeps,
): void {
  async function userByEmail(email: string) {
    const user = await users.getByEmail(email)
    if (!user) throw new GatewayError('not_found', `no user with email ${email}`)
    return user
  }

  for (const prefix of USER_PREFIXES) {
    app.get<ListQuery>(prefix, async (request) => {
      const q = request.query
      return users.list({
        page: integerParam(q.page, 'page', { min: 1 }) ?? 1,
        limit: integerParam(q.limit, 'limit', { min: 1, max: 100 }) ?? 20,
        search: stringParam(q.search),
      })
    })

    app.post(prefix, async (request) => ({ user: await users.create(validateCreate(request.body)) }))

    app.get<UserParams>(`${prefix}/:user_id`, async (request) => ({
      user: await users.require(request.params.user_id),
    }))

    app.put<UserParams>(`${prefix}/:user_id`, async (request) => ({
      user: await users.update(request.params.user_id, validateUpdate(request.body)),
    }))

    app.put<UserParams>(`${prefix}/:user_id/role`, async (request) => ({
      user: await users.update(request.params.user_id, { role_id: validateRole(request.body).role_id }),
    }))

    // The user's profiles go first, with the virtual keys they issued; then the user.
    app.delete<UserParams>(`${prefix}/:user_id`, async (request) => {
      const user = await users.require(request.params.user_id)
      await accessProfiles.releaseUser(user.id)
      if (!(await users.delete(user.id))) throw new GatewayError('not_found', `user ${user.id} not found`)
      return { message: 'User deleted successfully' }
    })

    app.get<EmailParams>(`${prefix}/email/:email`, async (request) => ({
      user: await userByEmail(request.params.email),
    }))

    // For MDM and credential helpers: a user's keys from their email. Values are masked.
    app.get<EmailParams>(`${prefix}/email/:email/virtual-keys`, async (request) => {
      const user = await userByEmail(request.params.email)
      const keys = await listUserVirtualKeys(store.db, user.id)
      return {
        user_id: user.id,
        email: user.email,
        virtual_keys: keys.map(({ id, name, value, is_active }) => ({ id, name, value, is_active })),
      }
    })

    app.get<UserParams>(`${prefix}/:user_id/virtual-keys`, async (request) => {
      const user = await users.require(request.params.user_id)
      const keys = await listUserVirtualKeys(store.db, user.id)
      return {
        virtual_keys: keys.map(({ id, name, value, is_active, access_profile_id }) => ({
          id,
          name,
          value,
          is_active,
          is_access_profile_managed: access_profile_id !== null,
        })),
      }
    })
  }
}

/** One value of a query parameter: the last when it is repeated. */
function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[value.length - 1] : value
}

export function integerParam(
  value: string | string[] | undefined,
  name: string,
  range: { min: number; max?: number },
): number | undefined {
  const text = single(value)
  if (text === undefined || text === '') return undefined
  const n = /^\d{1,10}$/.test(text) ? Number(text) : NaN
  if (!Number.isSafeInteger(n) || n < range.min || (range.max !== undefined && n > range.max)) {
    const bounds = range.max === undefined ? `at least ${range.min}` : `between ${range.min} and ${range.max}`
    throw new GatewayError('invalid_request', `${name}: must be an integer ${bounds}`, { param: name })
  }
  return n
}

export function stringParam(value: string | string[] | undefined): string | undefined {
  const text = single(value)?.trim()
  return text === '' ? undefined : text
}

export function booleanParam(value: string | string[] | undefined, name: string): boolean | undefined {
  const text = single(value)?.trim().toLowerCase()
  if (text === undefined || text === '') return undefined
  if (text === 'true' || text === '1') return true
  if (text === 'false' || text === '0') return false
  throw new GatewayError('invalid_request', `${name}: must be true or false`, { param: name })
}
