import { afterAll, describe, expect, it } from 'vitest'
import { loadSnapshot, saveUsage } from '../src/governance/repo/index.js'
import type { UsageOverlay } from '../src/http/routes/governance.js'
import { backends } from './helpers/databases.js'
import {
  countRows,
  expectManagementError,
  FULL_KEY,
  governanceRows,
  harness,
  ISO,
  sha256,
} from './helpers/governance-api.js'

/** Customers, teams and virtual keys through the governance API: created, listed, updated, rotated, deleted. */

describe.each(backends('gov'))('governance API on $kind', (backend) => {
  afterAll(() => backend.teardown())

  it("creates customer, team and key with budgets, rate limits and provider configs, shown with Bifrost's names", async () => {
    const h = await harness(backend)
    try {
      const customer = await h.call('POST', '/api/governance/customers', {
        name: 'Acme',
        budget: { max_limit: 500, reset_duration: '1M' },
      })
      expect(customer.status).toBe(200)
      expect(customer.body.message).toBe('Customer created successfully')
      const customerId = customer.body.customer.id
      expect(customer.body.customer).toMatchObject({
        name: 'Acme',
        budget_id: customer.body.customer.budgets[0].id,
        budget: { max_limit: 500, reset_duration: '1M', current_usage: 0, customer_id: customerId },
      })

      const team = await h.call('POST', '/api/governance/teams', {
        name: 'Platform',
        customer_id: customerId,
        budget: { max_limit: 100, reset_duration: '1w' },
      })
      expect(team.status).toBe(200)
      expect(team.body.message).toBe('Team created successfully')
      const teamId = team.body.team.id
      expect(team.body.team).toMatchObject({
        name: 'Platform',
        customer_id: customerId,
        customer: { name: 'Acme' },
      })

      const created = await h.call('POST', '/api/governance/virtual-keys', { ...FULL_KEY, team_id: teamId })
      expect(created.status).toBe(200)
      expect(created.body.message).toBe('Virtual key created successfully')
      const value: string = created.body.virtual_key.value
      expect(value).toMatch(/^sk-bf-[0-9A-Za-z]{43}$/)
      const id: string = created.body.virtual_key.id
      expect(id).toMatch(/^[0-9a-f-]{36}$/)
      expect(h.changes).toContainEqual({ entity: 'virtual_key', id, action: 'created' })

      const got = await h.call('GET', `/api/governance/virtual-keys/${id}`)
      expect(got.status).toBe(200)
      expect(Object.keys(got.body)).toEqual(['virtual_key'])
      const vk = got.body.virtual_key
      expect(vk.value).toBe(`sk-bf-…${value.slice(-4)}`)
      expect(JSON.stringify(got.body)).not.toContain(value)
      expect(vk).toMatchObject({
        id,
        name: 'ci-bot',
        description: 'the CI pipeline',
        is_active: true,
        team_id: teamId,
        calendar_aligned: false,
        config_hash: '',
        team: {
          id: teamId,
          name: 'Platform',
          customer_id: customerId,
          customer: { id: customerId, name: 'Acme' },
        },
        rate_limit_id: vk.rate_limit.id,
        rate_limit: {
          token_max_limit: 10000,
          token_reset_duration: '1h',
          token_current_usage: 0,
          request_max_limit: 100,
          request_reset_duration: '1m',
          request_current_usage: 0,
          virtual_key_id: id,
        },
        mcp_configs: [{ id: 1, virtual_key_id: id, mcp_client_name: 'github', tools_to_execute: ['*'] }],
      })
      expect(vk).not.toHaveProperty('customer_id')
      expect(vk).not.toHaveProperty('value_hash')
      expect(vk.created_at).toMatch(ISO)
      expect(vk.updated_at).toMatch(ISO)
      expect(vk.rate_limit.token_last_reset).toMatch(ISO)
      expect(vk.budgets.map((b: any) => [b.reset_duration, b.max_limit])).toEqual([
        ['1d', 10],
        ['1M', 200],
      ])
      for (const b of vk.budgets) {
        expect(b).toMatchObject({ current_usage: 0, calendar_aligned: false, virtual_key_id: id })
        expect(b.last_reset).toMatch(ISO)
        expect(typeof b.id).toBe('string')
      }
      const [openai, anthropic] = vk.provider_configs
      expect(openai).toMatchObject({
        virtual_key_id: id,
        provider: 'openai',
        weight: 0.7,
        allowed_models: ['gpt-4o-mini'],
        blacklisted_models: [],
        allow_all_keys: false,
        key_ids: ['oa-1'],
        keys: [{ key_id: 'oa-1', name: 'main', provider: 'openai', models: ['*'], enabled: true }],
        budgets: [{ max_limit: 5, reset_duration: '1d', provider_config_id: openai.id }],
        rate_limit_id: openai.rate_limit.id,
        rate_limit: { request_max_limit: 10, request_reset_duration: '1m', provider_config_id: openai.id },
      })
      expect(typeof openai.id).toBe('number')
      expect(JSON.stringify(openai.keys)).not.toContain('sk-openai-secret')
      expect(anthropic).toMatchObject({
        provider: 'anthropic',
        weight: null,
        allow_all_keys: true,
        key_ids: ['*'],
      })

      // The store keeps the hash and the hint, never the value.
      expect(await governanceRows(h.store)).not.toContain(value)
      const snapshot = await loadSnapshot(h.store.db)
      const record = snapshot.virtualKeys.find((k) => k.id === id)
      expect(record?.value_hash).toBe(sha256(value))
      expect(record?.team?.customer?.budgets[0].max_limit).toBe(500)
      expect(record?.provider_configs[0].budgets[0].max_limit).toBe(5)
      expect(snapshot.teams.map((t) => t.id)).toEqual([teamId])
      expect(snapshot.customers[0].budgets).toHaveLength(1)
      expect(await h.service.findVirtualKeyByValue(value)).toMatchObject({ id, value: vk.value })

      // Parents show their children; nested objects do not loop back.
      const teamView = await h.call('GET', `/api/governance/teams/${teamId}`)
      expect(teamView.body.team.virtual_keys).toHaveLength(1)
      expect(teamView.body.team.virtual_keys[0]).toMatchObject({ id, value: vk.value })
      expect(teamView.body.team.virtual_keys[0]).not.toHaveProperty('team')
      const customerView = await h.call('GET', `/api/governance/customers/${customerId}`)
      expect(customerView.body.customer.teams.map((t: any) => t.id)).toEqual([teamId])
      expect(customerView.body.customer.teams[0]).not.toHaveProperty('customer')
      expect(customerView.body.customer.virtual_keys).toEqual([])

      const budgets = await h.call('GET', '/api/governance/budgets')
      expect(budgets.body.count).toBe(5)
      expect(budgets.body.budgets).toHaveLength(5)
      const rateLimits = await h.call('GET', '/api/governance/rate-limits?from_memory=true')
      expect(rateLimits.body).toMatchObject({ count: 2 })
      const teams = await h.call('GET', '/api/governance/teams')
      expect(teams.body).toMatchObject({ count: 1, total_count: 1, limit: 1, offset: 0 })
      const customers = await h.call('GET', '/api/governance/customers')
      expect(customers.body).toMatchObject({ count: 1, total_count: 1 })
      expect(customers.body.customers[0].teams).toHaveLength(1)
    } finally {
      await h.close()
    }
  })

  it('lists keys with pagination, filters and total_count', async () => {
    const h = await harness(backend)
    try {
      const team = await h.call('POST', '/api/governance/teams', { name: 'T' })
      for (let i = 0; i < 5; i++) {
        const res = await h.call('POST', '/api/governance/virtual-keys', {
          name: `key-${i}`,
          is_active: i !== 4,
          ...(i < 2 && { team_id: team.body.team.id }),
        })
        expect(res.status).toBe(200)
      }
      const all = await h.call('GET', '/api/governance/virtual-keys')
      expect(all.body).toMatchObject({ count: 5, total_count: 5, limit: 5, offset: 0 })
      expect(all.body.virtual_keys.map((k: any) => k.name)).toEqual([
        'key-0',
        'key-1',
        'key-2',
        'key-3',
        'key-4',
      ])
      for (const k of all.body.virtual_keys) expect(k.value).toMatch(/^sk-bf-…[0-9A-Za-z]{4}$/)

      const page = await h.call('GET', '/api/governance/virtual-keys?limit=2&offset=1')
      expect(page.body).toMatchObject({ count: 2, total_count: 5, limit: 2, offset: 1 })
      expect(page.body.virtual_keys.map((k: any) => k.name)).toEqual(['key-1', 'key-2'])
      const last = await h.call('GET', '/api/governance/virtual-keys?limit=2&offset=4')
      expect(last.body).toMatchObject({ count: 1, total_count: 5 })
      const defaults = await h.call('GET', '/api/governance/virtual-keys?offset=0')
      expect(defaults.body).toMatchObject({ count: 5, total_count: 5, limit: 25, offset: 0 })

      const search = await h.call('GET', '/api/governance/virtual-keys?search=KEY-3')
      expect(search.body.virtual_keys.map((k: any) => k.name)).toEqual(['key-3'])
      expect(search.body.total_count).toBe(1)
      const wildcard = await h.call('GET', '/api/governance/virtual-keys?search=%25')
      expect(wildcard.body.total_count).toBe(0)
      const byTeam = await h.call('GET', `/api/governance/virtual-keys?team_id=${team.body.team.id}`)
      expect(byTeam.body.virtual_keys.map((k: any) => k.name)).toEqual(['key-0', 'key-1'])
      const inactive = await h.call('GET', '/api/governance/virtual-keys?is_active=false')
      expect(inactive.body.virtual_keys.map((k: any) => k.name)).toEqual(['key-4'])
      const memory = await h.call('GET', '/api/governance/virtual-keys?from_memory=true')
      expect(memory.body).toMatchObject({ count: 5, total_count: 5, limit: 5, offset: 0 })

      expectManagementError(await h.call('GET', '/api/governance/virtual-keys?limit=abc'), 400)
      expectManagementError(await h.call('GET', '/api/governance/virtual-keys?offset=-1'), 400)
      expectManagementError(await h.call('GET', '/api/governance/virtual-keys?is_active=maybe'), 400)
    } finally {
      await h.close()
    }
  })

  it('updates as Bifrost: budgets replaced by reset_duration with usage kept, reset_budget_usage, configs by id', async () => {
    const h = await harness(backend)
    try {
      const created = await h.call('POST', '/api/governance/virtual-keys', FULL_KEY)
      const id = created.body.virtual_key.id
      const before = created.body.virtual_key
      const daily = before.budgets.find((b: any) => b.reset_duration === '1d')
      const monthly = before.budgets.find((b: any) => b.reset_duration === '1M')
      const openai = before.provider_configs[0]
      await saveUsage(h.store.db, [
        { budgetId: daily.id, current_usage: 3.5 },
        { budgetId: monthly.id, current_usage: 40 },
        { budgetId: openai.budgets[0].id, current_usage: 1.25 },
        { rateLimitId: before.rate_limit.id, request_current_usage: 7 },
      ])

      const replaced = await h.call('PUT', `/api/governance/virtual-keys/${id}`, {
        budgets: [
          { max_limit: 20, reset_duration: '1d' },
          { max_limit: 5, reset_duration: '1w' },
        ],
      })
      expect(replaced.status).toBe(200)
      expect(replaced.body.message).toBe('Virtual key updated successfully')
      const after = replaced.body.virtual_key
      expect(after).toMatchObject({ name: 'ci-bot', description: 'the CI pipeline', is_active: true })
      expect(after.value).toBe(`sk-bf-…${before.value.slice(-4)}`)
      const newDaily = after.budgets.find((b: any) => b.reset_duration === '1d')
      expect(newDaily).toMatchObject({
        id: daily.id,
        max_limit: 20,
        current_usage: 3.5,
        last_reset: daily.last_reset,
      })
      expect(after.budgets.find((b: any) => b.reset_duration === '1M')).toBeUndefined()
      expect(after.budgets.find((b: any) => b.reset_duration === '1w')).toMatchObject({
        max_limit: 5,
        current_usage: 0,
      })
      expect(after.provider_configs).toHaveLength(2)
      expect(after.rate_limit.request_current_usage).toBe(7)

      h.changes.length = 0
      const reset = await h.call('PUT', `/api/governance/virtual-keys/${id}`, { reset_budget_usage: true })
      expect(reset.status).toBe(200)
      const zeroed = reset.body.virtual_key
      expect(zeroed.budgets.every((b: any) => b.current_usage === 0)).toBe(true)
      expect(zeroed.budgets.find((b: any) => b.id === daily.id).last_reset).toBe(daily.last_reset)
      expect(zeroed.provider_configs[0].budgets[0].current_usage).toBe(0)
      expect(h.changes).toHaveLength(1)
      expect(h.changes[0]).toMatchObject({ entity: 'virtual_key', id, action: 'updated' })
      expect(h.changes[0]?.resetBudgetIds).toEqual(expect.arrayContaining([daily.id, openai.budgets[0].id]))

      const anthropicRateLimits = await countRows(h.store, 'gov_rate_limits')
      const configs = await h.call('PUT', `/api/governance/virtual-keys/${id}`, {
        provider_configs: [
          { id: openai.id, provider: 'openai', allowed_models: ['gpt-4o'], key_ids: ['oa-1', 'oa-2'] },
        ],
        rate_limit: { request_max_limit: 50 },
        mcp_configs: [],
        is_active: false,
        name: 'ci-bot-renamed',
      })
      expect(configs.status).toBe(200)
      const changed = configs.body.virtual_key
      expect(changed).toMatchObject({ name: 'ci-bot-renamed', is_active: false, mcp_configs: [] })
      expect(changed.provider_configs).toHaveLength(1)
      expect(changed.provider_configs[0]).toMatchObject({
        id: openai.id,
        weight: 0.7,
        allowed_models: ['gpt-4o'],
        key_ids: ['oa-1', 'oa-2'],
        budgets: [{ id: openai.budgets[0].id }],
        rate_limit: { request_max_limit: 10 },
      })
      expect(changed.rate_limit).toMatchObject({ token_max_limit: 10000, request_max_limit: 50 })
      expect(await countRows(h.store, 'gov_rate_limits')).toBe(anthropicRateLimits)

      const removed = await h.call('PUT', `/api/governance/virtual-keys/${id}`, {
        rate_limit: null,
        provider_configs: [{ provider: 'openai', rate_limit: { request_max_limit: null } }],
      })
      expect(removed.body.virtual_key).not.toHaveProperty('rate_limit')
      expect(removed.body.virtual_key.provider_configs[0]).toMatchObject({
        id: openai.id,
        allowed_models: ['gpt-4o'],
      })
      expect(removed.body.virtual_key.provider_configs[0]).not.toHaveProperty('rate_limit')
      expect(await countRows(h.store, 'gov_rate_limits')).toBe(0)

      // Moving between team and customer; null detaches.
      const customer = await h.call('POST', '/api/governance/customers', { name: 'C' })
      const team = await h.call('POST', '/api/governance/teams', { name: 'T' })
      let moved = await h.call('PUT', `/api/governance/virtual-keys/${id}`, { team_id: team.body.team.id })
      expect(moved.body.virtual_key).toMatchObject({ team_id: team.body.team.id, team: { name: 'T' } })
      moved = await h.call('PUT', `/api/governance/virtual-keys/${id}`, {
        customer_id: customer.body.customer.id,
      })
      expect(moved.body.virtual_key).toMatchObject({
        customer_id: customer.body.customer.id,
        customer: { name: 'C' },
      })
      expect(moved.body.virtual_key).not.toHaveProperty('team_id')
      moved = await h.call('PUT', `/api/governance/virtual-keys/${id}`, { customer_id: null })
      expect(moved.body.virtual_key).not.toHaveProperty('customer_id')

      // A team's single budget changes in place, and {} removes it.
      const teamId = team.body.team.id
      const withBudget = await h.call('PUT', `/api/governance/teams/${teamId}`, {
        budget: { max_limit: 30, reset_duration: '1d' },
      })
      const budgetId = withBudget.body.team.budget_id
      expect(withBudget.body.team.budget).toMatchObject({ max_limit: 30, reset_duration: '1d' })
      const raised = await h.call('PUT', `/api/governance/teams/${teamId}`, { budget: { max_limit: 60 } })
      expect(raised.body.team).toMatchObject({
        budget_id: budgetId,
        budget: { max_limit: 60, reset_duration: '1d' },
      })
      const dropped = await h.call('PUT', `/api/governance/teams/${teamId}`, { budget: {}, name: 'T2' })
      expect(dropped.body.team).toMatchObject({ name: 'T2', budgets: [] })
      expect(dropped.body.team).not.toHaveProperty('budget')
    } finally {
      await h.close()
    }
  })

  it('rotates a key: the new value is shown once and the old one stops working at once', async () => {
    const h = await harness(backend)
    try {
      const created = await h.call('POST', '/api/governance/virtual-keys', { name: 'rotating' })
      const id = created.body.virtual_key.id
      const oldValue = created.body.virtual_key.value
      const rotated = await h.call('POST', `/api/governance/virtual-keys/${id}/rotate`)
      expect(rotated.status).toBe(200)
      const newValue = rotated.body.virtual_key.value
      expect(newValue).toMatch(/^sk-bf-[0-9A-Za-z]{43}$/)
      expect(newValue).not.toBe(oldValue)
      expect(await h.service.findVirtualKeyByValue(oldValue)).toBeUndefined()
      expect((await h.service.findVirtualKeyByValue(newValue))?.id).toBe(id)
      const snapshot = await loadSnapshot(h.store.db)
      expect(snapshot.virtualKeys[0].value_hash).toBe(sha256(newValue))
      expect(h.changes).toContainEqual({ entity: 'virtual_key', id, action: 'rotated' })
      const got = await h.call('GET', `/api/governance/virtual-keys/${id}`)
      expect(got.body.virtual_key.value).toBe(`sk-bf-…${newValue.slice(-4)}`)
      expect(await governanceRows(h.store)).not.toContain(newValue)
    } finally {
      await h.close()
    }
  })

  it('deletes a key with its provider configs, budgets and rate limits; deleting parents detaches children', async () => {
    const h = await harness(backend)
    try {
      const customer = await h.call('POST', '/api/governance/customers', {
        name: 'C',
        budget: { max_limit: 1, reset_duration: '1d' },
      })
      const customerId = customer.body.customer.id
      const team = await h.call('POST', '/api/governance/teams', {
        name: 'T',
        customer_id: customerId,
        budgets: [{ max_limit: 2, reset_duration: '1d' }],
        rate_limit: { request_max_limit: 5, request_reset_duration: '1m' },
      })
      const teamId = team.body.team.id
      const doomed = await h.call('POST', '/api/governance/virtual-keys', FULL_KEY)
      const kept = await h.call('POST', '/api/governance/virtual-keys', { name: 'kept', team_id: teamId })
      const id = doomed.body.virtual_key.id

      const deleted = await h.call('DELETE', `/api/governance/virtual-keys/${id}`)
      expect(deleted.status).toBe(200)
      expect(deleted.body.message).toBe('Virtual key deleted successfully')
      expectManagementError(await h.call('GET', `/api/governance/virtual-keys/${id}`), 404)
      expect(await countRows(h.store, 'gov_vk_provider_configs')).toBe(0)
      expect(await governanceRows(h.store)).not.toContain(id)
      // Left: the customer's budget, the team's budget and rate limit.
      expect(await countRows(h.store, 'gov_budgets')).toBe(2)
      expect(await countRows(h.store, 'gov_rate_limits')).toBe(1)
      expect(h.changes).toContainEqual({ entity: 'virtual_key', id, action: 'deleted' })

      const teamDeleted = await h.call('DELETE', `/api/governance/teams/${teamId}`)
      expect(teamDeleted.body).toEqual({ message: 'Team deleted successfully' })
      const orphan = await h.call('GET', `/api/governance/virtual-keys/${kept.body.virtual_key.id}`)
      expect(orphan.status).toBe(200)
      expect(orphan.body.virtual_key).not.toHaveProperty('team_id')
      expect(await countRows(h.store, 'gov_budgets')).toBe(1)
      expect(await countRows(h.store, 'gov_rate_limits')).toBe(0)

      const team2 = await h.call('POST', '/api/governance/teams', { name: 'T2', customer_id: customerId })
      const customerDeleted = await h.call('DELETE', `/api/governance/customers/${customerId}`)
      expect(customerDeleted.body).toEqual({ message: 'Customer deleted successfully' })
      const detached = await h.call('GET', `/api/governance/teams/${team2.body.team.id}`)
      expect(detached.body.team).not.toHaveProperty('customer_id')
      expect(await countRows(h.store, 'gov_budgets')).toBe(0)
    } finally {
      await h.close()
    }
  })

  it('lets the usage overlay put live figures into every answer', async () => {
    const seen: string[] = []
    const overlay: UsageOverlay = {
      async overlay(entity) {
        seen.push(entity.id)
        const budgets = 'budgets' in entity ? entity.budgets : 'max_limit' in entity ? [entity] : []
        for (const b of budgets) b.current_usage = 1.5
      },
    }
    const h = await harness(backend, overlay)
    try {
      const created = await h.call('POST', '/api/governance/virtual-keys', {
        name: 'live',
        budgets: [{ max_limit: 10, reset_duration: '1d' }],
      })
      expect(created.body.virtual_key.budgets[0].current_usage).toBe(1.5)
      const id = created.body.virtual_key.id
      const listed = await h.call('GET', '/api/governance/virtual-keys')
      expect(listed.body.virtual_keys[0].budgets[0].current_usage).toBe(1.5)
      const budgets = await h.call('GET', '/api/governance/budgets')
      expect(budgets.body.budgets[0].current_usage).toBe(1.5)
      expect(seen).toContain(id)
      expect(seen).toContain(budgets.body.budgets[0].id)
    } finally {
      await h.close()
    }
  })
})
