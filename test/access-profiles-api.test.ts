import { describe, expect, it } from 'vitest'
import { backends } from './helpers/databases.js'
import { appsOn, call, expectError, PROFILE, type Json } from './helpers/users-profiles-app.js'

/** Access profiles through the management API: created and shown as Bifrost does, listed, bad input refused. */

describe.each(backends('users'))('users and access profiles on $kind', (backend) => {
  const build = appsOn(backend)

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
})
