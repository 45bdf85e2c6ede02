import { describe, expect, it } from 'vitest'
import { backends } from './helpers/databases.js'
import { appsOn, call, expectError, PROFILE } from './helpers/users-profiles-app.js'

/** A profile assigned to a user issues a managed virtual key; detaching deletes it; a failed issue rolls back. */

describe.each(backends('users'))('users and access profiles on $kind', (backend) => {
  const build = appsOn(backend)

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
