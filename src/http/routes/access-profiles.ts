import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { GatewayError } from '../../core/errors.js'
import {
  type AccessProfile,
  accessProfileJson,
  type AccessProfileService,
  type AccessProfileVersion,
  CloneAccessProfileSchema,
  CreateAccessProfileSchema,
  UpdateAccessProfileSchema,
  type UserService,
} from '../../governance/index.js'
import { compileValidator } from '../validate.js'
import { booleanParam, integerParam, stringParam, USER_PREFIXES } from './users.js'

export interface AccessProfileRouteDeps {
  users: UserService
  accessProfiles: AccessProfileService
}

/** The older path, and the one newer Bifrost versions serve. */
export const ACCESS_PROFILE_PREFIXES = ['/api/access-profiles', '/api/governance/access-profiles'] as const

const validateCreate = compileValidator(CreateAccessProfileSchema)
const validateUpdate = compileValidator(UpdateAccessProfileSchema)
const validateClone = compileValidator(CloneAccessProfileSchema)
const validateAssign = compileValidator(
  Type.Object({ profile_id: Type.Integer({ minimum: 1 }) }, { additionalProperties: true }),
)

type ProfileParams = { Params: { profile_id: string } }
type VersionParams = { Params: { profile_id: string; version: string } }
type UserProfileParams = { Params: { user_id: string; profile_id: string } }
type ListQuery = { Querystring: Record<string, string | string[] | undefined> }

const MAX_ID = 2_147_483_647

function profileId(value: string): number {
  return integerParam(value, 'profile_id', { min: 1, max: MAX_ID }) ?? 0
}

/** A version's snapshot in the same shape as the profile answers. */
function snapshotJson(version: AccessProfileVersion): AccessProfileVersion {
  return {
    ...version,
    snapshot: JSON.stringify(accessProfileJson(JSON.parse(version.snapshot) as AccessProfile)),
  }
}

/** `tags=a,b` and `tags=a&tags=b` alike. */
function tagsParam(value: string | string[] | undefined): string[] | undefined {
  if (value === undefined) return undefined
  const tags = (Array.isArray(value) ? value : [value]).flatMap((v) => v.split(',')).map((t) => t.trim())
  const nonEmpty = tags.filter((t) => t !== '')
  return nonEmpty.length === 0 ? undefined : nonEmpty
}

/** Bifrost's access-profile API (accessprofiles.yaml), in the reduced form described in access-profiles.ts. */
export function registerAccessProfileRoutes(
  app: FastifyInstance,
  { users, accessProfiles }: AccessProfileRouteDeps,
): void {
  for (const prefix of ACCESS_PROFILE_PREFIXES) {
    app.get<ListQuery>(prefix, async (request) => {
      const q = request.query
      const list = await accessProfiles.list({
        limit: integerParam(q.limit, 'limit', { min: 1 }),
        offset: integerParam(q.offset, 'offset', { min: 0 }),
        tags: tagsParam(q.tags),
        is_active: booleanParam(q.is_active, 'is_active'),
        search: stringParam(q.search),
      })
      return { ...list, access_profiles: list.access_profiles.map(accessProfileJson) }
    })

    app.post(prefix, async (request, reply) => {
      const access_profile = await accessProfiles.create(validateCreate(request.body))
      return reply.code(201).send({ access_profile: accessProfileJson(access_profile) })
    })

    app.get<ProfileParams>(`${prefix}/:profile_id`, async (request) => {
      const id = profileId(request.params.profile_id)
      const access_profile = accessProfileJson(await accessProfiles.require(id))
      return { access_profile, roles: [], user_count: await accessProfiles.userCount(id) }
    })

    app.put<ProfileParams>(`${prefix}/:profile_id`, async (request) => {
      const id = profileId(request.params.profile_id)
      return {
        access_profile: accessProfileJson(await accessProfiles.update(id, validateUpdate(request.body))),
      }
    })

    app.delete<ProfileParams>(`${prefix}/:profile_id`, async (request) => {
      await accessProfiles.delete(profileId(request.params.profile_id))
      return { message: 'Access profile deleted successfully' }
    })

    app.put<ProfileParams>(`${prefix}/:profile_id/activate`, async (request) => ({
      access_profile: accessProfileJson(
        await accessProfiles.setActive(profileId(request.params.profile_id), true),
      ),
    }))

    app.put<ProfileParams>(`${prefix}/:profile_id/deactivate`, async (request) => ({
      access_profile: accessProfileJson(
        await accessProfiles.setActive(profileId(request.params.profile_id), false),
      ),
    }))

    app.post<ProfileParams>(`${prefix}/:profile_id/clone`, async (request, reply) => {
      const id = profileId(request.params.profile_id)
      const { name, description } = validateClone(request.body)
      const access_profile = accessProfileJson(await accessProfiles.clone(id, name, description))
      return reply.code(201).send({ access_profile })
    })

    app.get<ProfileParams>(`${prefix}/:profile_id/versions`, async (request) => ({
      versions: (await accessProfiles.versions(profileId(request.params.profile_id))).map(snapshotJson),
    }))

    app.get<VersionParams>(`${prefix}/:profile_id/versions/:version`, async (request) => {
      const version = integerParam(request.params.version, 'version', { min: 1, max: MAX_ID }) ?? 0
      return {
        version: snapshotJson(await accessProfiles.version(profileId(request.params.profile_id), version)),
      }
    })
  }

  for (const prefix of USER_PREFIXES) {
    app.get<{ Params: { user_id: string } }>(`${prefix}/:user_id/access-profiles`, async (request) => {
      const user = await users.require(request.params.user_id)
      return { access_profiles: await accessProfiles.listForUser(user.id) }
    })

    // Issues the user a profile-managed virtual key; its full value is in this answer only.
    app.post<{ Params: { user_id: string } }>(
      `${prefix}/:user_id/access-profiles`,
      async (request, reply) => {
        const user = await users.require(request.params.user_id)
        const { profile_id } = validateAssign(request.body)
        if (profile_id > MAX_ID) throw new GatewayError('not_found', `access profile ${profile_id} not found`)
        const assigned = await accessProfiles.assign(user, profile_id)
        return reply.code(201).send({ message: 'Access profile assigned successfully', ...assigned })
      },
    )

    app.delete<UserProfileParams>(`${prefix}/:user_id/access-profiles/:profile_id`, async (request) => {
      const user = await users.require(request.params.user_id)
      const detached = await accessProfiles.detach(user.id, profileId(request.params.profile_id))
      return { message: 'Access profile detached successfully', ...detached }
    })
  }
}
