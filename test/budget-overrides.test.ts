import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, describe, expect, it } from 'vitest'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { postgresBackend } from './helpers/databases.js'
import { callJson, fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'
import { deleteRedisKeys, REDIS_URL, redisPrefix } from './helpers/redis.js'

/**
 * Bifrost's budget overrides: `PUT|DELETE /api/governance/virtual-keys/{vk_id}/budgets/{budget_id}/override`
 * (and on a user's copy of an access profile) raise a budget's cap to `max_limit + amount` for N
 * reset windows or forever. Requests are admitted against that cap, on every node.
 */

const BASE_LIMIT = 1e-9

describe('budget overrides', () => {
  let fake: FakeServer | undefined
  const servers: RunningHeimdall[] = []
  const pg = postgresBackend('overrides')
  const prefix = redisPrefix('heimdall-override-test')

  afterAll(async () => {
    for (const s of servers) await s.close().catch(() => undefined)
    await fake?.close()
    await pg.teardown()
    await deleteRedisKeys(prefix)
  })

  async function start(sections: Record<string, unknown> = {}): Promise<RunningHeimdall> {
    fake ??= await startFakeOpenAI()
    const gw = await startHeimdall({ providers: { openai: fakeProvider(fake.url) }, ...sections })
    servers.push(gw)
    return gw
  }

  const chat = (url: string, vk: string) =>
    callJson(
      url,
      'POST',
      '/v1/chat/completions',
      { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] },
      vk,
    )

  /** A key with one hourly budget so small that one request spends it. */
  async function keyWithBudget(url: string, name: string) {
    const r = await callJson(url, 'POST', '/api/governance/virtual-keys', {
      name,
      provider_configs: [{ provider: 'openai', allowed_models: ['*'], key_ids: ['*'] }],
      budgets: [{ max_limit: BASE_LIMIT, reset_duration: '1h' }],
    })
    expect(r.status, JSON.stringify(r.body)).toBe(200)
    const vk = r.body.virtual_key
    return { id: vk.id as string, value: vk.value as string, budgetId: vk.budgets[0].id as string }
  }

  async function usageOf(url: string, vkId: string): Promise<number> {
    const r = await callJson(url, 'GET', `/api/governance/virtual-keys/${vkId}`)
    return r.body.virtual_key.budgets[0].current_usage as number
  }

  it('raises the cap to max_limit + amount, forever or for N cycles, and removes it; bad input is a 400/404 naming the field', async () => {
    const gw = await start()
    const key = await keyWithBudget(gw.url, 'override-me')
    const path = `/api/governance/virtual-keys/${key.id}/budgets/${key.budgetId}/override`

    expect((await chat(gw.url, key.value)).status).toBe(200)
    const spent = await usageOf(gw.url, key.id)
    expect(spent).toBeGreaterThan(BASE_LIMIT)
    const refused = await chat(gw.url, key.value)
    expect(refused.status).toBe(402)

    // Room for one more request of the same cost, not two.
    const amount = spent * 1.5
    const put = await callJson(gw.url, 'PUT', path, { amount, mode: 'forever' })
    expect(put.status, JSON.stringify(put.body)).toBe(200)
    expect(put.body.effective_max_limit).toBeCloseTo(BASE_LIMIT + amount, 15)
    expect(put.body.budget).toMatchObject({
      id: key.budgetId,
      max_limit: BASE_LIMIT,
      override_amount: amount,
      override_mode: 'forever',
    })
    expect(put.body.budget.current_usage).toBeCloseTo(spent, 15)
    expect((await chat(gw.url, key.value)).status).toBe(200)
    const over = await chat(gw.url, key.value)
    expect(over.status).toBe(402)
    // The refusal names the effective cap.
    expect(over.body.error.message).toContain(`>= ${(BASE_LIMIT + amount).toFixed(4)} dollars`)

    // The key's own answer shows the override.
    const read = await callJson(gw.url, 'GET', `/api/governance/virtual-keys/${key.id}`)
    expect(read.body.virtual_key.budgets[0]).toMatchObject({
      override_amount: amount,
      override_mode: 'forever',
    })

    // A cycles override replaces it: the current window counts as the first.
    const cycles = await callJson(gw.url, 'PUT', path, { amount: 100, mode: 'cycles', cycles: 3 })
    expect(cycles.status, JSON.stringify(cycles.body)).toBe(200)
    expect(cycles.body.budget).toMatchObject({
      override_amount: 100,
      override_mode: 'cycles',
      override_cycles_total: 3,
      override_cycles_remaining: 3,
    })
    const anchor = Date.parse(cycles.body.budget.override_anchor_reset)
    expect(Date.parse(cycles.body.budget.override_expires_at) - anchor).toBe(3 * 3_600_000)
    expect(cycles.body.effective_max_limit).toBeCloseTo(100 + BASE_LIMIT, 9)
    expect((await chat(gw.url, key.value)).status).toBe(200)

    const removed = await callJson(gw.url, 'DELETE', path)
    expect(removed.status).toBe(200)
    expect(removed.body.effective_max_limit).toBe(BASE_LIMIT)
    expect(removed.body.budget.override_mode).toBeUndefined()
    expect((await chat(gw.url, key.value)).status).toBe(402)

    const bad: [unknown, string][] = [
      [{ amount: 0, mode: 'forever' }, 'amount'],
      [{ amount: -5, mode: 'forever' }, 'amount'],
      [{ amount: 'ten', mode: 'forever' }, 'amount'],
      [{ mode: 'forever' }, 'amount'],
      [{ amount: 5, mode: 'weekly' }, 'mode'],
      [{ amount: 5 }, 'mode'],
      [{ amount: 5, mode: 'cycles' }, 'cycles'],
      [{ amount: 5, mode: 'cycles', cycles: 0 }, 'cycles'],
      [{ amount: 5, mode: 'cycles', cycles: 1.5 }, 'cycles'],
    ]
    for (const [body, param] of bad) {
      const r = await callJson(gw.url, 'PUT', path, body)
      expect(r.status, JSON.stringify(body)).toBe(400)
      expect(r.body.error.param, JSON.stringify(r.body)).toBe(param)
    }
    const noKey = await callJson(
      gw.url,
      'PUT',
      `/api/governance/virtual-keys/nope/budgets/${key.budgetId}/override`,
      {
        amount: 1,
        mode: 'forever',
      },
    )
    expect(noKey.status).toBe(404)
    expect(noKey.body.error.message).toContain('Virtual key not found')
    const noBudget = await callJson(
      gw.url,
      'PUT',
      `/api/governance/virtual-keys/${key.id}/budgets/nope/override`,
      {
        amount: 1,
        mode: 'forever',
      },
    )
    expect(noBudget.status).toBe(404)
    expect(noBudget.body.error.message).toContain('budget nope')
    // Another key's budget is not this key's to override.
    const other = await keyWithBudget(gw.url, 'someone-else')
    const foreign = await callJson(
      gw.url,
      'PUT',
      `/api/governance/virtual-keys/${key.id}/budgets/${other.budgetId}/override`,
      { amount: 1, mode: 'forever' },
    )
    expect(foreign.status).toBe(404)
    expect((await chat(gw.url, other.value)).status).toBe(200)
    expect((await chat(gw.url, other.value)).status).toBe(402)
  })

  it("overrides a budget of a virtual-key model config, and of a user's access-profile copy", async () => {
    const gw = await start()
    const key = await keyWithBudget(gw.url, 'mc-owner')
    const mc = await callJson(gw.url, 'POST', '/api/governance/model-configs', {
      model_name: '*',
      scope: 'virtual_key',
      scope_id: key.id,
      budgets: [{ max_limit: 5, reset_duration: '1d' }],
    })
    expect(mc.status, JSON.stringify(mc.body)).toBe(200)
    const mcBudget = mc.body.model_config.budgets[0].id
    const put = await callJson(
      gw.url,
      'PUT',
      `/api/governance/virtual-keys/${key.id}/budgets/${mcBudget}/override`,
      {
        amount: 2.5,
        mode: 'cycles',
        cycles: 1,
      },
    )
    expect(put.status, JSON.stringify(put.body)).toBe(200)
    expect(put.body.effective_max_limit).toBe(7.5)
    const shown = await callJson(gw.url, 'GET', `/api/governance/model-configs/${mc.body.model_config.id}`)
    expect(shown.body.model_config.budgets[0]).toMatchObject({
      override_amount: 2.5,
      override_cycles_remaining: 1,
    })

    // A user's copy of an access profile is the key the profile issued to that user.
    const user = await callJson(gw.url, 'POST', '/api/governance/users', {
      email: 'ada@example.com',
      name: 'Ada',
    })
    expect(user.status, JSON.stringify(user.body)).toBeLessThan(300)
    const userId = user.body.user.id as string
    const profile = await callJson(gw.url, 'POST', '/api/governance/access-profiles', {
      name: 'starter',
      provider_configs: [{ provider: 'openai', allowed_models: ['*'] }],
      budgets: [{ max_limit: BASE_LIMIT, reset_duration: '1d' }],
    })
    expect(profile.status, JSON.stringify(profile.body)).toBeLessThan(300)
    const profileId = profile.body.access_profile.id as number
    const assigned = await callJson(gw.url, 'POST', `/api/users/${userId}/access-profiles`, {
      profile_id: profileId,
    })
    expect(assigned.status, JSON.stringify(assigned.body)).toBe(201)
    const { id: managedId, value } = assigned.body.virtual_key as { id: string; value: string }
    const managedKey = await callJson(gw.url, 'GET', `/api/governance/virtual-keys/${managedId}`)
    const copyBudget = managedKey.body.virtual_key.budgets[0].id as string
    expect((await chat(gw.url, value)).status).toBe(200)
    expect((await chat(gw.url, value)).status).toBe(402)

    const userPath = `/api/users/${userId}/access-profiles/${profileId}/budgets/${copyBudget}/override`
    const raised = await callJson(gw.url, 'PUT', userPath, { amount: 50, mode: 'forever' })
    expect(raised.status, JSON.stringify(raised.body)).toBe(200)
    expect(raised.body.effective_max_limit).toBeCloseTo(50 + BASE_LIMIT, 9)
    expect((await chat(gw.url, value)).status).toBe(200)
    expect((await callJson(gw.url, 'DELETE', userPath)).status).toBe(200)
    expect((await chat(gw.url, value)).status).toBe(402)

    const wrongProfile = await callJson(
      gw.url,
      'PUT',
      `/api/users/${userId}/access-profiles/999/budgets/${copyBudget}/override`,
      { amount: 1, mode: 'forever' },
    )
    expect(wrongProfile.status).toBe(404)
    const noUser = await callJson(
      gw.url,
      'PUT',
      `/api/users/nobody/access-profiles/${profileId}/budgets/${copyBudget}/override`,
      {
        amount: 1,
        mode: 'forever',
      },
    )
    expect(noUser.status).toBe(404)
  })

  it('holds the effective cap across two nodes sharing PostgreSQL and Redis', async () => {
    const url = await pg.freshUrl()
    const sections = {
      config_store: { enabled: true, type: 'postgres', config: { connection_string: url } },
      cluster: { redis_url: REDIS_URL, prefix },
    }
    const a = await start(sections)
    const b = await start(sections)
    expect(b.heimdall.cluster.kind).toBe('redis')
    const key = await keyWithBudget(a.url, 'two-nodes')
    // Node b learns of the key over the change bus.
    const deadline = Date.now() + 10_000
    let first = await chat(b.url, key.value)
    while (first.status === 401 && Date.now() < deadline) {
      await sleep(50)
      first = await chat(b.url, key.value)
    }
    expect(first.status).toBe(200)
    const spent = await usageOf(a.url, key.id)
    expect(spent).toBeGreaterThan(BASE_LIMIT)
    expect((await chat(b.url, key.value)).status).toBe(402)

    // Made on node a, the override reaches node b: room for two more requests of that cost, not three.
    const put = await callJson(
      a.url,
      'PUT',
      `/api/governance/virtual-keys/${key.id}/budgets/${key.budgetId}/override`,
      {
        amount: spent * 2.5,
        mode: 'forever',
      },
    )
    expect(put.status, JSON.stringify(put.body)).toBe(200)
    let admitted = await chat(b.url, key.value)
    while (admitted.status === 402 && Date.now() < deadline) {
      await sleep(50)
      admitted = await chat(b.url, key.value)
    }
    expect(admitted.status).toBe(200)
    expect((await chat(a.url, key.value)).status).toBe(200)
    expect((await chat(a.url, key.value)).status).toBe(402)
    expect((await chat(b.url, key.value)).status).toBe(402)
  })
})
