import { createHash } from 'node:crypto'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, describe, expect, it } from 'vitest'
import { normalizeProvider } from '../src/core/config.js'
import { GatewayError } from '../src/core/errors.js'
import { loadSnapshot, saveUsage } from '../src/governance/repo/index.js'
import {
  GovernanceService,
  importGovernanceFromFile,
  type GovernanceChange,
} from '../src/governance/service.js'
import { installErrorHandlers } from '../src/http/errors.js'
import { registerGovernanceRoutes, type UsageOverlay } from '../src/http/routes/governance.js'
import { openConfigStore, type ConfigStore } from '../src/store/index.js'
import { backends, tempDir, type Backend } from './helpers/databases.js'

interface Harness {
  app: FastifyInstance
  store: ConfigStore
  service: GovernanceService
  changes: (GovernanceChange | undefined)[]
  call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown): Promise<Reply>
  close(): Promise<void>
}

interface Reply {
  status: number
  body: any
}

/** A bare Fastify app with the error handlers and the governance routes, on a fresh store with two providers. */
async function harness(backend: Backend, usage?: UsageOverlay): Promise<Harness> {
  const store = await openConfigStore(await backend.fresh(), { appDir: tempDir('gov') })
  await store.putProvider(
    normalizeProvider('openai', {
      keys: [
        { id: 'oa-1', name: 'main', value: 'sk-openai-secret-1', models: ['*'] },
        { id: 'oa-2', name: 'backup', value: 'sk-openai-secret-2', models: ['*'] },
      ],
    }),
  )
  await store.putProvider(normalizeProvider('anthropic', { keys: [{ id: 'an-1', value: 'sk-ant-secret' }] }))
  const changes: (GovernanceChange | undefined)[] = []
  const service = new GovernanceService({
    db: store.db,
    onChange: async (change) => {
      changes.push(change)
    },
  })
  const app = Fastify()
  installErrorHandlers(app)
  registerGovernanceRoutes(app, { service, usage })
  await app.ready()
  return {
    app,
    store,
    service,
    changes,
    async call(method, url, body) {
      const res = await app.inject({
        method,
        url,
        ...(body !== undefined && {
          headers: { 'content-type': 'application/json' },
          payload: JSON.stringify(body),
        }),
      })
      return { status: res.statusCode, body: res.body === '' ? undefined : JSON.parse(res.body) }
    },
    async close() {
      await app.close()
      await store.close()
    },
  }
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

function expectManagementError(reply: Reply, status: number): void {
  expect(reply.status).toBe(status)
  expect(reply.body).toMatchObject({ is_bifrost_error: false, status_code: status })
  expect(typeof reply.body.error.message).toBe('string')
  expect(reply.body.error.message.length).toBeGreaterThan(0)
}

/** Everything stored in the governance tables, as text. */
async function governanceRows(store: ConfigStore): Promise<string> {
  const db = store.db.withTables<Record<string, Record<string, unknown>>>()
  const tables = [
    'gov_customers',
    'gov_teams',
    'gov_virtual_keys',
    'gov_vk_provider_configs',
    'gov_budgets',
    'gov_rate_limits',
  ]
  const rows = await Promise.all(tables.map((t) => db.selectFrom(t).selectAll().execute()))
  return JSON.stringify(rows)
}

async function countRows(store: ConfigStore, table: string): Promise<number> {
  const db = store.db.withTables<Record<string, Record<string, unknown>>>()
  return (await db.selectFrom(table).selectAll().execute()).length
}

const FULL_KEY = {
  name: 'ci-bot',
  description: 'the CI pipeline',
  budgets: [
    { max_limit: 10, reset_duration: '1d' },
    { max_limit: 200, reset_duration: '1M' },
  ],
  rate_limit: {
    token_max_limit: 10000,
    token_reset_duration: '1h',
    request_max_limit: 100,
    request_reset_duration: '1m',
  },
  provider_configs: [
    {
      provider: 'openai',
      weight: 0.7,
      allowed_models: ['gpt-4o-mini'],
      key_ids: ['oa-1'],
      budgets: [{ max_limit: 5, reset_duration: '1d' }],
      rate_limit: { request_max_limit: 10, request_reset_duration: '1m' },
    },
    { provider: 'anthropic', weight: null, allowed_models: ['*'], key_ids: ['*'] },
  ],
  mcp_configs: [{ mcp_client_name: 'github', tools_to_execute: ['*'] }],
}

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

  it("imports config.json's governance: creates what the store lacks, leaves what it has", async () => {
    const h = await harness(backend)
    try {
      const file = {
        budgets: [
          { id: 'b-cust', max_limit: 1000, reset_duration: '1M' },
          { id: 'b-team', max_limit: 100, reset_duration: '1w' },
          { id: 'b-vk', max_limit: 10, reset_duration: '1d' },
          { id: 'b-vk-month', max_limit: 50, reset_duration: '1M', virtual_key_id: 'vk-file' },
          { id: 'b-pc', max_limit: 3, reset_duration: '1d' },
        ],
        rate_limits: [{ id: 'rl-vk', request_max_limit: 60, request_reset_duration: '1m' }],
        customers: [{ id: 'cust-file', name: 'File customer', budget_id: 'b-cust' }],
        teams: [{ id: 'team-file', name: 'File team', customer_id: 'cust-file', budget_id: 'b-team' }],
        virtual_keys: [
          {
            id: 'vk-file',
            name: 'from-file',
            value: 'sk-bf-file-value-0001',
            team_id: 'team-file',
            budget_id: 'b-vk',
            rate_limit_id: 'rl-vk',
            provider_configs: [
              { provider: 'openai', weight: 1, allowed_models: ['*'], key_ids: ['oa-2'], budget_id: 'b-pc' },
            ],
          },
          { id: 'vk-env', name: 'from-env', value: 'env.GOV_TEST_VK', expires_at: '2001-01-01T00:00:00Z' },
        ],
        routing_rules: [{ id: 'ignored' }],
      }
      h.changes.length = 0
      const result = await importGovernanceFromFile(h.service, file, {
        env: { GOV_TEST_VK: 'sk-bf-from-environment' },
      })
      expect(result.created).toEqual({
        customers: ['cust-file'],
        teams: ['team-file'],
        virtual_keys: ['vk-file', 'vk-env'],
      })
      expect(h.changes).toEqual([undefined])

      const vk = (await h.call('GET', '/api/governance/virtual-keys/vk-file')).body.virtual_key
      expect(vk).toMatchObject({
        name: 'from-file',
        value: 'sk-bf-…0001',
        team: { id: 'team-file', customer: { id: 'cust-file' } },
        rate_limit: { request_max_limit: 60, request_reset_duration: '1m' },
        provider_configs: [{ provider: 'openai', key_ids: ['oa-2'], budgets: [{ max_limit: 3 }] }],
      })
      expect(vk.config_hash).toMatch(/^[0-9a-f]{64}$/)
      expect(vk.budgets.map((b: any) => [b.reset_duration, b.max_limit])).toEqual([
        ['1d', 10],
        ['1M', 50],
      ])
      expect((await h.service.findVirtualKeyByValue('sk-bf-file-value-0001'))?.id).toBe('vk-file')
      expect((await h.service.findVirtualKeyByValue('sk-bf-from-environment'))?.id).toBe('vk-env')
      expect(await governanceRows(h.store)).not.toContain('sk-bf-file-value-0001')
      const team = (await h.call('GET', '/api/governance/teams/team-file')).body.team
      expect(team).toMatchObject({ budget: { max_limit: 100 }, customer: { budget: { max_limit: 1000 } } })

      // An API edit survives the next start; an entry deleted through the API comes back.
      await h.call('PUT', '/api/governance/virtual-keys/vk-file', { description: 'edited' })
      await h.call('DELETE', '/api/governance/virtual-keys/vk-env')
      const again = await importGovernanceFromFile(h.service, file, {
        env: { GOV_TEST_VK: 'sk-bf-from-environment' },
      })
      expect(again.kept).toEqual({
        customers: ['cust-file'],
        teams: ['team-file'],
        virtual_keys: ['vk-file'],
      })
      expect(again.created.virtual_keys).toEqual(['vk-env'])
      const edited = (await h.call('GET', '/api/governance/virtual-keys/vk-file')).body.virtual_key
      expect(edited.description).toBe('edited')

      const broken = { virtual_keys: [{ id: 'vk-broken', name: 'broken', budget_id: 'missing' }] }
      const error = await importGovernanceFromFile(h.service, broken).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(GatewayError)
      expect((error as Error).message).toContain('governance.virtual_keys.0.budget_id')
      const badShape = await importGovernanceFromFile(h.service, { teams: [{ id: 't' }] }).catch(
        (e: unknown) => e,
      )
      expect((badShape as Error).message).toContain('governance.teams.0')
      const clash = await importGovernanceFromFile(h.service, {
        virtual_keys: [{ id: 'vk-other', name: 'from-file' }],
      }).catch((e: unknown) => e)
      expect(clash).toMatchObject({ code: 'conflict' })
      expect((await h.call('GET', '/api/governance/virtual-keys')).body.total_count).toBe(2)
    } finally {
      await h.close()
    }
  })
})
