import { describe, expect, it } from 'vitest'
import { backends } from './helpers/databases.js'
import { appsOn, call, expectError, PROFILE, type Json } from './helpers/users-profiles-app.js'

/** Users through the management API: CRUD under /api/users and /api/governance/users, bad input, keys by email. */

describe.each(backends('users'))('users and access profiles on $kind', (backend) => {
  const build = appsOn(backend)

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
})
