import { afterAll, describe, expect, it } from 'vitest'
import { backends } from './helpers/databases.js'
import { countRows, expectManagementError, harness } from './helpers/governance-api.js'

/** What the governance API refuses (4xx in Bifrost's management error shape, nothing stored), and nulls it reads as absent. */

describe.each(backends('gov'))('governance API on $kind', (backend) => {
  afterAll(() => backend.teardown())

  it("rejects bad input with 4xx in Bifrost's management error shape, storing nothing", async () => {
    const h = await harness(backend)
    try {
      const team = (await h.call('POST', '/api/governance/teams', { name: 'T' })).body.team
      const customer = (await h.call('POST', '/api/governance/customers', { name: 'C' })).body.customer
      const vk = (b: Record<string, unknown>) => ({ name: 'k', ...b })
      const budget = (b: Record<string, unknown>) =>
        vk({ budgets: [{ max_limit: 10, reset_duration: '1d', ...b }] })
      const cases: [string, unknown, number, string?][] = [
        ['no name', {}, 400, 'name'],
        ['empty name', { name: '' }, 400, 'name'],
        ['blank name', { name: '   ' }, 400, 'name'],
        ['name not a string', { name: 42 }, 400, 'name'],
        ['team and customer', vk({ team_id: team.id, customer_id: customer.id }), 400, 'team_id'],
        ['unknown team', vk({ team_id: 'nope' }), 400, 'team_id'],
        ['unknown customer', vk({ customer_id: 'nope' }), 400, 'customer_id'],
        ['negative max_limit', budget({ max_limit: -1 }), 400, 'budgets.0.max_limit'],
        ['zero max_limit', budget({ max_limit: 0 }), 400, 'budgets.0.max_limit'],
        ['max_limit as text', budget({ max_limit: '10' }), 400],
        ['malformed duration', budget({ reset_duration: '1x' }), 400, 'budgets.0.reset_duration'],
        ['duration without unit', budget({ reset_duration: '10' }), 400, 'budgets.0.reset_duration'],
        ['zero duration', budget({ reset_duration: '0d' }), 400, 'budgets.0.reset_duration'],
        ['calendar-aligned hourly budget', budget({ reset_duration: '1h', calendar_aligned: true }), 400],
        [
          'two budgets with one duration',
          vk({
            budgets: [
              { max_limit: 1, reset_duration: '1d' },
              { max_limit: 2, reset_duration: '1d' },
            ],
          }),
          400,
          'budgets.1.reset_duration',
        ],
        ['expiry in the past', vk({ expires_at: '2001-01-01T00:00:00Z' }), 400, 'expires_at'],
        ['expiry not a date', vk({ expires_at: 'tomorrow' }), 400, 'expires_at'],
        [
          'negative token limit',
          vk({ rate_limit: { token_max_limit: -5, token_reset_duration: '1h' } }),
          400,
        ],
        ['token limit without duration', vk({ rate_limit: { token_max_limit: 100 } }), 400],
        [
          'fractional request limit',
          vk({ rate_limit: { request_max_limit: 1.5, request_reset_duration: '1m' } }),
          400,
        ],
        [
          'malformed rate duration',
          vk({ rate_limit: { request_max_limit: 1, request_reset_duration: 'soon' } }),
          400,
        ],
        ['provider twice', vk({ provider_configs: [{ provider: 'openai' }, { provider: 'openai' }] }), 400],
        ['negative weight', vk({ provider_configs: [{ provider: 'openai', weight: -1 }] }), 400],
        [
          'bad model regex',
          vk({ provider_configs: [{ provider: 'openai', allowed_models: ['regex:(('] }] }),
          400,
        ],
        [
          'unknown key id',
          vk({ provider_configs: [{ provider: 'openai', key_ids: ['zz'] }] }),
          400,
          'provider_configs.0.key_ids',
        ],
        [
          "another provider's key",
          vk({ provider_configs: [{ provider: 'openai', key_ids: ['an-1'] }] }),
          400,
        ],
        [
          'bad provider budget',
          vk({
            provider_configs: [{ provider: 'openai', budgets: [{ max_limit: 1, reset_duration: 'x' }] }],
          }),
          400,
          'provider_configs.0.budgets.0.reset_duration',
        ],
        [
          'duplicate MCP client',
          vk({ mcp_configs: [{ mcp_client_name: 'a' }, { mcp_client_name: 'a' }] }),
          400,
        ],
        ['an array body', [{ name: 'k' }], 400],
      ]
      for (const [what, body, status, param] of cases) {
        const reply = await h.call('POST', '/api/governance/virtual-keys', body)
        expect(reply.status, what).toBe(status)
        expectManagementError(reply, status)
        if (param) expect(reply.body.error.param, what).toBe(param)
      }
      const invalidJson = await h.app.inject({
        method: 'POST',
        url: '/api/governance/virtual-keys',
        headers: { 'content-type': 'application/json' },
        payload: '{"name": ',
      })
      expectManagementError({ status: invalidJson.statusCode, body: JSON.parse(invalidJson.body) }, 400)
      expect((await h.call('GET', '/api/governance/virtual-keys')).body.total_count).toBe(0)
      expect(await countRows(h.store, 'gov_budgets')).toBe(0)

      // Duplicate names are conflicts.
      expect((await h.call('POST', '/api/governance/virtual-keys', { name: 'taken' })).status).toBe(200)
      expectManagementError(await h.call('POST', '/api/governance/virtual-keys', { name: 'taken' }), 409)
      const other = (await h.call('POST', '/api/governance/virtual-keys', { name: 'other' })).body.virtual_key
      expectManagementError(
        await h.call('PUT', `/api/governance/virtual-keys/${other.id}`, { name: 'taken' }),
        409,
      )

      // Updates are checked the same way, and a failed one changes nothing.
      const put = (body: unknown) => h.call('PUT', `/api/governance/virtual-keys/${other.id}`, body)
      expectManagementError(await put({ provider_configs: [{ id: 999, provider: 'openai' }] }), 400)
      expectManagementError(await put({ budgets: [{ max_limit: -3, reset_duration: '1d' }] }), 400)
      expectManagementError(await put({ team_id: team.id, customer_id: customer.id }), 400)
      expectManagementError(await put({ expires_at: '1999-12-31T23:59:59Z' }), 400)
      expectManagementError(await put({ rate_limit: { token_max_limit: 5 } }), 400)
      expectManagementError(await put({ name: 'renamed', team_id: 'missing' }), 400)
      expect((await h.call('GET', `/api/governance/virtual-keys/${other.id}`)).body.virtual_key.name).toBe(
        'other',
      )
      expectManagementError(await put('not an object'), 400)

      // Teams and customers.
      expectManagementError(await h.call('POST', '/api/governance/teams', {}), 400)
      expectManagementError(
        await h.call('POST', '/api/governance/teams', { name: 'x', customer_id: 'nope' }),
        400,
      )
      expectManagementError(
        await h.call('POST', '/api/governance/teams', {
          name: 'x',
          budget: { max_limit: -1, reset_duration: '1d' },
        }),
        400,
      )
      expectManagementError(
        await h.call('POST', '/api/governance/customers', {
          name: 'x',
          budget: { max_limit: 1, reset_duration: '1 day' },
        }),
        400,
      )
      expectManagementError(
        await h.call('PUT', `/api/governance/teams/${team.id}`, { budget: { max_limit: 5 } }),
        400,
      )
      expectManagementError(
        await h.call('PUT', `/api/governance/customers/${customer.id}`, { budget: { max_limit: 'lots' } }),
        400,
      )
    } finally {
      await h.close()
    }
  })

  it('reads lists sent as null as absent, as Bifrost does', async () => {
    const h = await harness(backend)
    try {
      const created = await h.call('POST', '/api/governance/virtual-keys', {
        name: 'nulls',
        provider_configs: [{ provider: 'openai', allowed_models: null, key_ids: ['*'] }],
        mcp_configs: null,
        budgets: null,
      })
      expect(created.status).toBe(200)
      expect(created.body.virtual_key).toMatchObject({
        provider_configs: [{ provider: 'openai', allowed_models: [], allow_all_keys: true }],
        mcp_configs: [],
        budgets: [],
      })
      const updated = await h.call('PUT', `/api/governance/virtual-keys/${created.body.virtual_key.id}`, {
        provider_configs: null,
        description: 'kept configs',
      })
      expect(updated.body.virtual_key.provider_configs).toHaveLength(1)
    } finally {
      await h.close()
    }
  })

  it('answers 404 for unknown ids', async () => {
    const h = await harness(backend)
    try {
      const missing: [string, string, unknown?][] = [
        ['GET', '/api/governance/virtual-keys/nope'],
        ['PUT', '/api/governance/virtual-keys/nope', { description: 'x' }],
        ['DELETE', '/api/governance/virtual-keys/nope'],
        ['POST', '/api/governance/virtual-keys/nope/rotate'],
        ['GET', '/api/governance/teams/nope'],
        ['PUT', '/api/governance/teams/nope', { name: 'x' }],
        ['DELETE', '/api/governance/teams/nope'],
        ['GET', '/api/governance/customers/nope'],
        ['PUT', '/api/governance/customers/nope', { name: 'x' }],
        ['DELETE', '/api/governance/customers/nope'],
      ]
      for (const [method, url, body] of missing) {
        const reply = await h.call(method as 'GET', url, body)
        expect(reply.status, `${method} ${url}`).toBe(404)
        expectManagementError(reply, 404)
      }
    } finally {
      await h.close()
    }
  })
})
