import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, describe, expect, it } from 'vitest'
import { governanceKeyStore } from '../src/governance/access-profile-shapes.js'
import { AccessProfileService } from '../src/governance/access-profiles.js'
import { GovernanceService } from '../src/governance/service.js'
import { UserService } from '../src/governance/users.js'
import { installErrorHandlers } from '../src/http/errors.js'
import { registerAccessProfileRoutes } from '../src/http/routes/access-profiles.js'
import { registerUserRoutes } from '../src/http/routes/users.js'
import { openConfigStore, type ConfigStore, type StoreSpec } from '../src/store/index.js'
import { backends, tempDir } from './helpers/databases.js'

// ---- the app under test ----

interface TestApp {
  app: FastifyInstance
  store: ConfigStore
  governance: GovernanceService
  close(): Promise<void>
}

async function buildApp(spec: StoreSpec, appDir: string): Promise<TestApp> {
  const store = await openConfigStore(spec, { appDir })
  const governance = new GovernanceService({ db: store.db, onChange: async () => undefined })
  const users = new UserService(store.db)
  const accessProfiles = new AccessProfileService(store.db, governanceKeyStore(governance))
  const app = Fastify()
  installErrorHandlers(app)
  registerUserRoutes(app, { store, users, accessProfiles })
  registerAccessProfileRoutes(app, { users, accessProfiles })
  await app.ready()
  return {
    app,
    store,
    governance,
    async close() {
      await app.close()
      await store.close()
    },
  }
}

type Json = Record<string, any>

async function call(app: FastifyInstance, method: string, url: string, payload?: unknown) {
  const res = await app.inject({
    method: method as 'GET',
    url,
    ...(payload !== undefined && { payload: payload as object }),
  })
  return { status: res.statusCode, body: res.body === '' ? undefined : (res.json() as Json), raw: res.body }
}

/** Bifrost's management error shape (BIFROST-SEMANTICS 15.2). */
function expectError(res: { status: number; body?: Json }, status: number, message?: RegExp): void {
  expect(res.status, JSON.stringify(res.body)).toBe(status)
  expect(res.body).toMatchObject({
    is_bifrost_error: false,
    status_code: status,
    error: { message: expect.any(String) },
  })
  if (message) expect(res.body?.error.message).toMatch(message)
}

const PROFILE = {
  name: 'engineering',
  description: 'default access for engineers',
  tags: ['eng', 'default'],
  provider_configs: [
    {
      provider_name: 'openai',
      allowed_models: ['gpt-4o-mini', 'gpt-4o'],
      budgets: [{ max_limit: 50, reset_duration: '1M' }],
      rate_limit: { request_max_limit: 100, request_reset_duration: '1h' },
    },
    { provider_name: 'anthropic', all_models_allowed: true, weight: 0.5 },
  ],
  budgets: [
    { max_limit: 100, reset_duration: '1M' },
    { max_limit: 10, reset_duration: '1d' },
  ],
  rate_limit: { token_max_limit: 100000, token_reset_duration: '1h' },
  calendar_aligned: true,
  mcp_servers: [{ mcp_server_id: 'github' }],
  mcp_tool_overrides: [{ mcp_client_id: 'jira', tool_name: 'search_issues', action: 'include' }],
}

describe.each(backends('users'))('users and access profiles on $kind', (backend) => {
  const appDir = tempDir('users')
  const build = async () => buildApp(await backend.fresh(), appDir)
  afterAll(() => backend.teardown())

  it('creates, lists, reads, updates and deletes users, under both prefixes', async () => {
    const { app, close } = await build()
    try {
      const created = await call(app, 'POST', '/api/users', {
        name: 'Alice',
        email: 'Alice@Example.com',
        role_id: 2,
      })
      expect(created.status).toBe(200)
      const alice = created.body!.user
      expect(alice).toEqual({
        id: expect.any(String),
        name: 'Alice',
        email: 'Alice@Example.com',
        role_id: 2,
        role: { id: 2, name: 'Developer', description: expect.any(String), is_system_role: true },
        created_at: expect.any(String),
        updated_at: expect.any(String),
      })
      // Emails are unique whatever their case.
      expectError(
        await call(app, 'POST', '/api/users', { name: 'Alice 2', email: 'alice@example.COM' }),
        409,
        /already exists/,
      )
      const bob = (
        await call(app, 'POST', '/api/governance/users', { name: 'Bob', email: 'bob@example.com' })
      ).body!.user
      expect(bob.role).toBeNull()
      for (let i = 0; i < 3; i++)
        await call(app, 'POST', '/api/users', { name: `User ${i}`, email: `u${i}@corp.example` })

      expect((await call(app, 'GET', `/api/users/${alice.id}`)).body).toEqual({ user: alice })
      expect((await call(app, 'GET', `/api/governance/users/${alice.id}`)).body).toEqual({ user: alice })
      expectError(await call(app, 'GET', '/api/users/nobody'), 404)

      const all = (await call(app, 'GET', '/api/users')).body!
      expect(all).toMatchObject({ total: 5, page: 1, limit: 20, total_pages: 1, has_more: false })
      expect(all.users.map((u: Json) => u.name)).toEqual(['Alice', 'Bob', 'User 0', 'User 1', 'User 2'])
      const page2 = (await call(app, 'GET', '/api/users?page=2&limit=2')).body!
      expect(page2).toMatchObject({ total: 5, page: 2, limit: 2, total_pages: 3, has_more: true })
      expect(page2.users.map((u: Json) => u.name)).toEqual(['User 0', 'User 1'])
      const search = (await call(app, 'GET', '/api/governance/users?search=EXAMPLE.com')).body!
      expect(search.users.map((u: Json) => u.name)).toEqual(['Alice', 'Bob'])
      expect((await call(app, 'GET', '/api/users?search=100%25')).body!.total).toBe(0)

      const updated = await call(app, 'PUT', `/api/users/${bob.id}`, {
        name: 'Robert',
        email: 'Robert@Example.com',
        role_id: 1,
      })
      expect(updated.body!.user).toMatchObject({
        id: bob.id,
        name: 'Robert',
        email: 'Robert@Example.com',
        role: { name: 'Admin' },
      })
      expectError(await call(app, 'PUT', `/api/users/${bob.id}`, { email: 'ALICE@example.com' }), 409)
      const role = await call(app, 'PUT', `/api/users/${bob.id}/role`, { role_id: 3 })
      expect(role.body!.user.role).toMatchObject({ id: 3, name: 'Viewer' })
      const cleared = await call(app, 'PUT', `/api/governance/users/${bob.id}`, { role_id: null })
      expect(cleared.body!.user).toMatchObject({ name: 'Robert', role_id: null, role: null })

      const deleted = await call(app, 'DELETE', `/api/governance/users/${bob.id}`)
      expect(deleted.body).toEqual({ message: 'User deleted successfully' })
      expectError(await call(app, 'GET', `/api/users/${bob.id}`), 404)
      expectError(await call(app, 'DELETE', `/api/users/${bob.id}`), 404)
    } finally {
      await close()
    }
  })

  it('refuses bad user input with a 4xx in the management error shape', async () => {
    const { app, close } = await build()
    try {
      expectError(await call(app, 'POST', '/api/users', { email: 'x@example.com' }), 400, /name/)
      expectError(await call(app, 'POST', '/api/users', { name: 'X', email: 'not-an-email' }), 400, /email/)
      expectError(await call(app, 'POST', '/api/users', { name: '  ', email: 'x@example.com' }), 400, /name/)
      expectError(
        await call(app, 'POST', '/api/users', { name: 'X', email: 'x@example.com', role_id: 99 }),
        400,
        /role/,
      )
      expectError(await call(app, 'POST', '/api/users', [1, 2]), 400)
      const res = await app.inject({
        method: 'POST',
        url: '/api/users',
        payload: '{"name":',
        headers: { 'content-type': 'application/json' },
      })
      expect(res.statusCode).toBe(400)
      expectError(await call(app, 'GET', '/api/users?page=0'), 400, /page/)
      expectError(await call(app, 'GET', '/api/users?limit=101'), 400, /limit/)
      expectError(await call(app, 'GET', '/api/users?limit=ten'), 400, /limit/)
      expectError(await call(app, 'PUT', '/api/users/nobody', { name: 'X' }), 404)
    } finally {
      await close()
    }
  })

  it("looks up a user's virtual keys by email: keys, none, unknown, encodings", async () => {
    const { app, governance, close } = await build()
    try {
      const alice = (await call(app, 'POST', '/api/users', { name: 'Alice', email: 'alice+ai@example.com' }))
        .body!.user
      const carol = (await call(app, 'POST', '/api/users', { name: 'Carol', email: 'carol@example.com' }))
        .body!.user

      // Carol exists but has no keys.
      for (const email of ['carol@example.com', 'carol%40example.com', 'CAROL%40Example.Com']) {
        const res = await call(app, 'GET', `/api/users/email/${email}/virtual-keys`)
        expect(res.status, email).toBe(200)
        expect(res.body).toEqual({ user_id: carol.id, email: 'carol@example.com', virtual_keys: [] })
      }

      // Alice gets one key from a profile and one attached directly.
      const profile = (await call(app, 'POST', '/api/access-profiles', PROFILE)).body!.access_profile
      const assigned = (
        await call(app, 'POST', `/api/users/${alice.id}/access-profiles`, { profile_id: profile.id })
      ).body!
      const { virtualKey: direct } = await governance.createVirtualKey(
        { name: 'alice laptop' },
        { user_id: alice.id },
      )
      const { virtualKey: other } = await governance.createVirtualKey({ name: 'someone else' })

      // `+` stays a plus in a path; `%2B` and `%40` decode.
      for (const email of ['alice+ai@example.com', 'alice%2Bai%40example.com', 'alice+ai%40example.com']) {
        const res = await call(app, 'GET', `/api/users/email/${email}/virtual-keys`)
        expect(res.status, email).toBe(200)
        expect(res.body!.user_id).toBe(alice.id)
        expect(res.body!.email).toBe('alice+ai@example.com')
        expect(res.body!.virtual_keys).toEqual([
          { id: direct.id, name: 'alice laptop', value: expect.stringMatching(/^sk-bf-…/), is_active: true },
          {
            id: assigned.virtual_key.id,
            name: assigned.virtual_key.name,
            value: expect.stringMatching(/^sk-bf-…/),
            is_active: true,
          },
        ])
        // Full values never appear.
        expect(res.raw).not.toContain(assigned.virtual_key.value)
        expect(res.raw).not.toContain(direct.value)
        expect(res.raw).not.toContain(other.id)
      }
      const same = await call(app, 'GET', '/api/governance/users/email/alice%2Bai%40example.com/virtual-keys')
      expect(same.body!.virtual_keys).toHaveLength(2)
      // A space is not a plus.
      expectError(await call(app, 'GET', '/api/users/email/alice%20ai%40example.com/virtual-keys'), 404)
      expectError(
        await call(app, 'GET', '/api/users/email/nobody%40example.com/virtual-keys'),
        404,
        /no user with email nobody@example.com/,
      )
      expectError(await call(app, 'GET', '/api/users/email/nobody@example.com/virtual-keys'), 404)

      expect((await call(app, 'GET', '/api/governance/users/email/alice%2Bai%40example.com')).body).toEqual({
        user: alice,
      })
      const keys = (await call(app, 'GET', `/api/governance/users/${alice.id}/virtual-keys`)).body!
      expect(keys.virtual_keys.map((k: Json) => [k.name, k.is_access_profile_managed])).toEqual([
        ['alice laptop', false],
        [assigned.virtual_key.name, true],
      ])

      // Deleting the user deletes the profile's key and unlinks the other, which stays.
      await call(app, 'DELETE', `/api/users/${alice.id}`)
      expectError(await call(app, 'GET', '/api/users/email/alice%2Bai%40example.com/virtual-keys'), 404)
      await expect(governance.getVirtualKey(assigned.virtual_key.id)).rejects.toMatchObject({
        code: 'not_found',
      })
      expect((await governance.getVirtualKey(direct.id)).user_id ?? null).toBeNull()
      expect((await call(app, 'GET', `/api/access-profiles/${profile.id}`)).body!.user_count).toBe(0)
    } finally {
      await close()
    }
  })

  it('creates access profiles as Bifrost shows them, and bumps the version on every change', async () => {
    const { app, close } = await build()
    try {
      const created = await call(app, 'POST', '/api/access-profiles', PROFILE)
      expect(created.status).toBe(201)
      const profile = created.body!.access_profile
      expect(profile).toMatchObject({
        id: expect.any(Number),
        name: 'engineering',
        description: 'default access for engineers',
        is_active: true,
        version: 1,
        tags: ['eng', 'default'],
        calendar_aligned: true,
        auto_rotation_interval: 0,
        mcp_tool_groups: [],
        mcp_servers: [{ mcp_server_id: 'github' }],
        mcp_tool_overrides: [{ mcp_client_id: 'jira', tool_name: 'search_issues', action: 'include' }],
        budgets: [
          {
            id: expect.any(String),
            max_limit: 100,
            reset_duration: '1M',
            scope: 'total',
            current_usage: 0,
            last_reset: expect.any(String),
          },
          { id: expect.any(String), max_limit: 10, reset_duration: '1d', scope: 'total', current_usage: 0 },
        ],
        rate_limit: {
          id: expect.any(String),
          token_max_limit: 100000,
          token_reset_duration: '1h',
          token_current_usage: 0,
          request_current_usage: 0,
        },
      })
      expect(profile.provider_configs).toEqual([
        {
          id: 1,
          provider_name: 'openai',
          all_models_allowed: false,
          allowed_models: ['gpt-4o-mini', 'gpt-4o'],
          blacklisted_models: [],
          weight: null,
          budgets: [
            expect.objectContaining({ max_limit: 50, reset_duration: '1M', scope: 'provider:openai' }),
          ],
          rate_limit: expect.objectContaining({
            request_max_limit: 100,
            request_reset_duration: '1h',
          }),
        },
        {
          id: 2,
          provider_name: 'anthropic',
          all_models_allowed: true,
          allowed_models: [],
          blacklisted_models: [],
          weight: 0.5,
          budgets: [],
        },
      ])
      const id = profile.id
      expect((await call(app, 'GET', `/api/access-profiles/${id}`)).body).toEqual({
        access_profile: profile,
        roles: [],
        user_count: 0,
      })
      expect((await call(app, 'GET', `/api/governance/access-profiles/${id}`)).body!.access_profile).toEqual(
        profile,
      )

      // A partial update: omitted fields stay; ids of kept budgets stay.
      const v2 = (await call(app, 'PUT', `/api/access-profiles/${id}`, { description: 'v2', tags: ['eng'] }))
        .body!.access_profile
      expect(v2).toMatchObject({ version: 2, description: 'v2', tags: ['eng'], name: 'engineering' })
      expect(v2.provider_configs).toEqual(profile.provider_configs)
      expect(v2.budgets).toEqual(profile.budgets)
      const v3 = (
        await call(app, 'PUT', `/api/access-profiles/${id}`, {
          rate_limit: null,
          budgets: [{ id: profile.budgets[0].id, max_limit: 200, reset_duration: '1M' }],
        })
      ).body!.access_profile
      expect(v3).toMatchObject({ version: 3, budgets: [{ id: profile.budgets[0].id, max_limit: 200 }] })
      expect(v3).not.toHaveProperty('rate_limit')
      expect(
        (await call(app, 'PUT', `/api/access-profiles/${id}/deactivate`)).body!.access_profile,
      ).toMatchObject({ version: 4, is_active: false })
      // Idempotent: no change, no new version.
      expect(
        (await call(app, 'PUT', `/api/access-profiles/${id}/deactivate`)).body!.access_profile.version,
      ).toBe(4)
      expect(
        (await call(app, 'PUT', `/api/access-profiles/${id}/activate`)).body!.access_profile,
      ).toMatchObject({ version: 5, is_active: true })

      const versions = (await call(app, 'GET', `/api/access-profiles/${id}/versions`)).body!.versions
      expect(versions.map((v: Json) => [v.version, v.access_profile_id])).toEqual(
        [1, 2, 3, 4, 5].map((v) => [v, id]),
      )
      const first = (await call(app, 'GET', `/api/access-profiles/${id}/versions/1`)).body!.version
      expect(JSON.parse(first.snapshot)).toEqual(profile)
      expectError(await call(app, 'GET', `/api/access-profiles/${id}/versions/9`), 404)

      const clone = await call(app, 'POST', `/api/access-profiles/${id}/clone`, { name: 'engineering copy' })
      expect(clone.status).toBe(201)
      expect(clone.body!.access_profile).toMatchObject({
        name: 'engineering copy',
        version: 1,
        description: 'v2',
        tags: ['eng'],
      })
      expect(clone.body!.access_profile.budgets[0].id).not.toBe(profile.budgets[0].id)

      expectError(
        await call(app, 'POST', '/api/access-profiles', { name: 'engineering' }),
        409,
        /already exists/,
      )
      expectError(
        await call(app, 'PUT', `/api/access-profiles/${clone.body!.access_profile.id}`, {
          name: 'engineering',
        }),
        409,
      )
      expect(
        (await call(app, 'DELETE', `/api/access-profiles/${clone.body!.access_profile.id}`)).body,
      ).toEqual({
        message: 'Access profile deleted successfully',
      })
      expectError(await call(app, 'GET', `/api/access-profiles/${clone.body!.access_profile.id}`), 404)
    } finally {
      await close()
    }
  })

  it('lists access profiles by tags, is_active and page, with count and total_count', async () => {
    const { app, close } = await build()
    try {
      const make = async (name: string, tags: string[], is_active = true) =>
        (await call(app, 'POST', '/api/access-profiles', { name, tags, is_active })).body!.access_profile
          .id as number
      const a = await make('a', ['eng', 'us'])
      const b = await make('b', ['sales'])
      const c = await make('c', ['eng', 'eu'], false)
      const d = await make('d', [])
      const e = await make('e', ['us'])

      const list = async (query: string) => (await call(app, 'GET', `/api/access-profiles${query}`)).body!
      const ids = async (query: string) => (await list(query)).access_profiles.map((p: Json) => p.id)

      expect(await list('')).toMatchObject({ count: 5, total_count: 5, limit: 5, offset: 0 })
      expect(await ids('')).toEqual([a, b, c, d, e])
      // A profile matches when it has any of the tags; comma-separated and repeated alike.
      expect(await ids('?tags=eng')).toEqual([a, c])
      expect(await ids('?tags=eng,sales')).toEqual([a, b, c])
      expect(await ids('?tags=eng&tags=sales')).toEqual([a, b, c])
      expect(await ids('?tags=eng,%20us%20')).toEqual([a, c, e])
      expect(await ids('?tags=nothing')).toEqual([])
      expect(await ids('?tags=')).toEqual([a, b, c, d, e])
      expect(await ids('?is_active=false')).toEqual([c])
      expect(await ids('?is_active=true&tags=eng')).toEqual([a])
      expect(await ids('?search=C')).toEqual([c])

      const page = await list('?limit=2&offset=1')
      expect(page).toMatchObject({ count: 2, total_count: 5, limit: 2, offset: 1 })
      expect(page.access_profiles.map((p: Json) => p.id)).toEqual([b, c])
      expect(await list('?limit=2&offset=4&is_active=true')).toMatchObject({
        count: 0,
        total_count: 4,
        limit: 2,
        offset: 4,
      })
      expect(await list('?offset=3')).toMatchObject({ count: 2, total_count: 5, limit: 25, offset: 3 })
      expect(await list('?tags=us&limit=1')).toMatchObject({ count: 1, total_count: 2 })
      expect(
        (await call(app, 'GET', '/api/governance/access-profiles?tags=sales')).body!.access_profiles[0].id,
      ).toBe(b)

      expectError(await call(app, 'GET', '/api/access-profiles?limit=0'), 400, /limit/)
      expectError(await call(app, 'GET', '/api/access-profiles?offset=-1'), 400, /offset/)
      expectError(await call(app, 'GET', '/api/access-profiles?is_active=maybe'), 400, /is_active/)
    } finally {
      await close()
    }
  })

  it('refuses bad access-profile input with a 4xx in the management error shape', async () => {
    const { app, close } = await build()
    try {
      const tags = Array.from({ length: 51 }, (_, i) => `t${i}`)
      expectError(
        await call(app, 'POST', '/api/access-profiles', { name: 'many', tags }),
        400,
        /at most 50 tags/,
      )
      const ok = (await call(app, 'POST', '/api/access-profiles', { name: 'fifty', tags: tags.slice(0, 50) }))
        .body!.access_profile
      expect(ok.tags).toHaveLength(50)
      expectError(await call(app, 'PUT', `/api/access-profiles/${ok.id}`, { tags }), 400, /at most 50 tags/)
      expect((await call(app, 'GET', `/api/access-profiles/${ok.id}`)).body!.access_profile.version).toBe(1)

      const bad: [unknown, RegExp][] = [
        [{}, /name/],
        [{ name: '' }, /name/],
        [{ name: 'x'.repeat(256) }, /name/],
        [{ name: 'p', tags: ['ok', ' '] }, /tag/],
        [{ name: 'p', budgets: [{ max_limit: 0, reset_duration: '1M' }] }, /max_limit/],
        [{ name: 'p', budgets: [{ max_limit: 1, reset_duration: '2M' }] }, /reset_duration/],
        [
          {
            name: 'p',
            budgets: [{ max_limit: 1, reset_duration: '1d', reset_config: { quarter_start_month: 4 } }],
          },
          /reset_config/,
        ],
        [
          {
            name: 'p',
            budgets: [
              { max_limit: 1, reset_duration: '1d' },
              { max_limit: 2, reset_duration: '1d' },
            ],
          },
          /reset_duration/,
        ],
        [{ name: 'p', rate_limit: { token_max_limit: 10 } }, /token_reset_duration/],
        [
          { name: 'p', rate_limit: { request_reset_duration: '1Q', request_max_limit: 1 } },
          /request_reset_duration/,
        ],
        [{ name: 'p', provider_configs: [{ allowed_models: ['x'] }] }, /provider_name/],
        [{ name: 'p', provider_configs: [{ provider_name: 'openai' }, { provider: 'openai' }] }, /twice/],
        [
          { name: 'p', provider_configs: [{ provider_name: 'openai', allowed_models: ['regex:(('] }] },
          /regular expression/,
        ],
        [{ name: 'p', mcp_tool_groups: [{ tool_group_id: 1 }] }, /tool groups/],
        [{ name: 'p', auto_rotation_interval: '30d' }, /rotation/],
        [
          {
            name: 'p',
            mcp_servers: [{ mcp_server_id: 'gh' }],
            mcp_tool_overrides: [{ mcp_client_id: 'gh', tool_name: 'x', action: 'exclude' }],
          },
          /cannot be expressed/,
        ],
      ]
      for (const [body, message] of bad) {
        expectError(await call(app, 'POST', '/api/access-profiles', body), 400, message)
      }
      const notObject = await app.inject({
        method: 'POST',
        url: '/api/access-profiles',
        payload: '"a string"',
        headers: { 'content-type': 'application/json' },
      })
      expectError({ status: notObject.statusCode, body: notObject.json() }, 400, /JSON object/)
      expectError(await call(app, 'GET', '/api/access-profiles/abc'), 400, /profile_id/)
      expectError(await call(app, 'GET', '/api/access-profiles/1.5'), 400, /profile_id/)
      expectError(await call(app, 'GET', '/api/access-profiles/99999999999'), 400, /profile_id/)
      expectError(await call(app, 'GET', '/api/access-profiles/9999'), 404, /not found/)
      expectError(await call(app, 'PUT', '/api/access-profiles/9999', { name: 'x' }), 404)
      expectError(await call(app, 'DELETE', '/api/access-profiles/9999'), 404)
    } finally {
      await close()
    }
  })

  it('assigning a profile issues a managed virtual key; detaching deletes it; a held profile cannot be deleted', async () => {
    const { app, governance, close } = await build()
    try {
      const alice = (await call(app, 'POST', '/api/users', { name: 'Alice', email: 'alice@example.com' }))
        .body!.user
      const profile = (await call(app, 'POST', '/api/access-profiles', PROFILE)).body!.access_profile

      const res = await call(app, 'POST', `/api/users/${alice.id}/access-profiles`, {
        profile_id: profile.id,
      })
      expect(res.status).toBe(201)
      const { access_profile: held, virtual_key: issued } = res.body!
      expect(issued).toEqual({
        id: expect.any(String),
        name: 'engineering (alice@example.com)',
        value: expect.stringMatching(/^sk-bf-[0-9A-Za-z]{43}$/),
      })
      expect(held).toMatchObject({
        user_id: alice.id,
        parent_profile_id: profile.id,
        name: 'engineering',
        is_active: true,
        expires_at: null,
        profile_version: 1,
        virtual_key_ids: [issued.id],
        virtual_key_values: { [issued.id]: expect.stringMatching(/^sk-bf-…/) },
      })

      // The key carries the profile's policy, with counters of its own, and works by its value.
      const vk = await governance.getVirtualKey(issued.id)
      expect(vk).toMatchObject({
        user_id: alice.id,
        access_profile_id: profile.id,
        is_active: true,
        calendar_aligned: true,
      })
      expect(vk.value).not.toBe(issued.value)
      expect(
        vk.provider_configs.map((pc) => [pc.provider, pc.allowed_models, pc.weight, pc.allow_all_keys]),
      ).toEqual([
        ['openai', ['gpt-4o-mini', 'gpt-4o'], null, true],
        ['anthropic', ['*'], 0.5, true],
      ])
      expect(vk.provider_configs[0].budgets).toEqual([
        expect.objectContaining({ max_limit: 50, reset_duration: '1M', current_usage: 0 }),
      ])
      expect(vk.provider_configs[0].rate_limit).toMatchObject({
        request_max_limit: 100,
        request_reset_duration: '1h',
      })
      expect(vk.budgets.map((b) => [b.max_limit, b.reset_duration, b.current_usage]).sort()).toEqual([
        [10, '1d', 0],
        [100, '1M', 0],
      ])
      expect(vk.budgets.map((b) => b.id)).not.toContain(profile.budgets[0].id)
      expect(vk.rate_limit).toMatchObject({ token_max_limit: 100000, token_reset_duration: '1h' })
      expect(vk.mcp_configs.map((m) => [m.mcp_client_name, m.tools_to_execute])).toEqual([
        ['github', ['*']],
        ['jira', ['search_issues']],
      ])
      expect((await governance.findVirtualKeyByValue(issued.value))?.id).toBe(issued.id)

      const listed = (await call(app, 'GET', `/api/users/${alice.id}/access-profiles`)).body!
      expect(listed).toEqual({ access_profiles: [{ ...held, virtual_key_values: held.virtual_key_values }] })
      expect((await call(app, 'GET', `/api/governance/users/${alice.id}/access-profiles`)).body).toEqual(
        listed,
      )
      expect((await call(app, 'GET', `/api/access-profiles/${profile.id}`)).body!.user_count).toBe(1)

      // Assigned twice, unknown profile, unknown user, inactive profile, bad body.
      expectError(
        await call(app, 'POST', `/api/users/${alice.id}/access-profiles`, { profile_id: profile.id }),
        409,
      )
      expectError(
        await call(app, 'POST', `/api/users/${alice.id}/access-profiles`, { profile_id: 9999 }),
        404,
      )
      expectError(
        await call(app, 'POST', '/api/users/nobody/access-profiles', { profile_id: profile.id }),
        404,
      )
      expectError(
        await call(app, 'POST', `/api/users/${alice.id}/access-profiles`, { profile_id: 'one' }),
        400,
        /profile_id/,
      )
      const idle = (await call(app, 'POST', '/api/access-profiles', { name: 'idle', is_active: false })).body!
        .access_profile
      expectError(
        await call(app, 'POST', `/api/users/${alice.id}/access-profiles`, { profile_id: idle.id }),
        400,
        /inactive/,
      )

      // A held profile cannot be deleted; template edits do not rewrite the issued key.
      expectError(await call(app, 'DELETE', `/api/access-profiles/${profile.id}`), 409, /held by 1 user/)
      await call(app, 'PUT', `/api/access-profiles/${profile.id}`, {
        budgets: [{ max_limit: 1, reset_duration: '1w' }],
      })
      expect((await governance.getVirtualKey(issued.id)).budgets.map((b) => b.max_limit).sort()).toEqual([
        10, 100,
      ])

      const detached = await call(app, 'DELETE', `/api/users/${alice.id}/access-profiles/${profile.id}`)
      expect(detached.body).toEqual({
        message: 'Access profile detached successfully',
        deleted_vk_names: ['engineering (alice@example.com)'],
        deleted_vk_count: 1,
      })
      await expect(governance.getVirtualKey(issued.id)).rejects.toMatchObject({ code: 'not_found' })
      expect(await governance.findVirtualKeyByValue(issued.value)).toBeUndefined()
      expect(
        (await call(app, 'GET', '/api/users/email/alice%40example.com/virtual-keys')).body!.virtual_keys,
      ).toEqual([])
      expect((await call(app, 'GET', `/api/users/${alice.id}/access-profiles`)).body).toEqual({
        access_profiles: [],
      })
      expectError(await call(app, 'DELETE', `/api/users/${alice.id}/access-profiles/${profile.id}`), 404)

      // Assigned again after detaching: a new key, under the same name.
      const again = (
        await call(app, 'POST', `/api/users/${alice.id}/access-profiles`, { profile_id: profile.id })
      ).body!
      expect(again.virtual_key.id).not.toBe(issued.id)
      expect((await governance.getVirtualKey(again.virtual_key.id)).budgets.map((b) => b.max_limit)).toEqual([
        1,
      ])
      await call(app, 'DELETE', `/api/governance/users/${alice.id}/access-profiles/${profile.id}`)
      expect((await call(app, 'DELETE', `/api/access-profiles/${profile.id}`)).status).toBe(200)
    } finally {
      await close()
    }
  })

  it('rolls the assignment back when the key cannot be issued', async () => {
    const { app, governance, close } = await build()
    try {
      const alice = (await call(app, 'POST', '/api/users', { name: 'Alice', email: 'alice@example.com' }))
        .body!.user
      const profile = (await call(app, 'POST', '/api/access-profiles', { name: 'p' })).body!.access_profile
      // A key already holds the name the managed key would get.
      await governance.createVirtualKey({ name: 'p (alice@example.com)' })
      expectError(
        await call(app, 'POST', `/api/users/${alice.id}/access-profiles`, { profile_id: profile.id }),
        409,
      )
      expect((await call(app, 'GET', `/api/users/${alice.id}/access-profiles`)).body).toEqual({
        access_profiles: [],
      })
      expect((await call(app, 'GET', `/api/access-profiles/${profile.id}`)).body!.user_count).toBe(0)
    } finally {
      await close()
    }
  })
})
