import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { callJson, fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

/**
 * Bifrost's model configs and provider governance: budgets and rate limits per model (globally,
 * inside one virtual key) and per provider, through the management API, enforced on requests with
 * or without a virtual key; and `client.vk_rotation_cooldown`, the time a rotated key's old value
 * keeps working.
 */
describe('model configs and provider governance', () => {
  let fake: FakeServer
  let h: RunningHeimdall
  const api = (method: string, path: string, body?: unknown) => callJson(h.url, method, path, body)
  const chat = (model = 'openai/gpt-4o-mini', vk?: string) =>
    callJson(
      h.url,
      'POST',
      '/v1/chat/completions',
      { model, messages: [{ role: 'user', content: 'hi' }] },
      vk,
    )

  beforeAll(async () => {
    fake = await startFakeOpenAI()
    h = await startHeimdall({
      providers: { openai: fakeProvider(fake.url), groq: fakeProvider(fake.url) },
      client: { vk_rotation_cooldown: '1s' } as Record<string, unknown>,
    })
  })
  afterAll(async () => {
    await h?.close()
    await fake?.close()
  })

  it('creates, reads, changes and deletes model configs, refusing bad input with a 400 naming the field', async () => {
    const created = await api('POST', '/api/governance/model-configs', {
      model_name: 'gpt-4o',
      provider: 'openai',
      budgets: [{ max_limit: 5, reset_duration: '1d' }],
      rate_limit: { request_max_limit: 100, request_reset_duration: '1h' },
    })
    expect(created.status, JSON.stringify(created.body)).toBe(200)
    expect(created.body.message).toBe('Model config created successfully')
    const mc = created.body.model_config
    expect(mc).toMatchObject({
      model_name: 'gpt-4o',
      provider: 'openai',
      scope: 'global',
      calendar_aligned: false,
    })
    expect(mc.budgets).toHaveLength(1)
    expect(mc.budget.max_limit).toBe(5)
    expect(mc.rate_limit.request_max_limit).toBe(100)

    const list = await api('GET', '/api/governance/model-configs')
    expect(list.body.model_configs.map((m: { id: string }) => m.id)).toContain(mc.id)
    expect(list.body.total_count).toBe(list.body.model_configs.length)

    const updated = await api('PUT', `/api/governance/model-configs/${mc.id}`, {
      budgets: [
        { max_limit: 1, reset_duration: '1h' },
        { max_limit: 20, reset_duration: '1M' },
      ],
      rate_limit: null,
    })
    expect(updated.status, JSON.stringify(updated.body)).toBe(200)
    expect(
      updated.body.model_config.budgets.map((b: { reset_duration: string }) => b.reset_duration),
    ).toEqual(['1h', '1M'])
    expect(updated.body.model_config.rate_limit).toBeUndefined()
    expect(
      (await api('GET', `/api/governance/model-configs/${mc.id}`)).body.model_config.budgets,
    ).toHaveLength(2)

    const duplicate = await api('POST', '/api/governance/model-configs', {
      model_name: 'gpt-4o',
      provider: 'openai',
    })
    expect(duplicate.status).toBe(409)

    const bad: [unknown, string][] = [
      [{}, 'model_name'],
      [{ model_name: ' ' }, 'model_name'],
      [{ model_name: 'x', scope: 'team' }, 'scope'],
      [{ model_name: 'x', scope: 'virtual_key' }, 'scope_id'],
      [{ model_name: 'x', scope: 'virtual_key', scope_id: 'no-such-key' }, 'scope_id'],
      [{ model_name: 'x', budgets: [{ max_limit: 0, reset_duration: '1h' }] }, 'budgets.0.max_limit'],
      [{ model_name: 'x', budgets: [{ max_limit: 1, reset_duration: 'soon' }] }, 'budgets.0.reset_duration'],
      [{ model_name: 'x', rate_limit: { request_max_limit: 5 } }, 'rate_limit.request_reset_duration'],
    ]
    for (const [body, param] of bad) {
      const r = await api('POST', '/api/governance/model-configs', body)
      expect(r.status, JSON.stringify(body)).toBe(400)
      expect(r.body.error.param ?? r.body.error.message, JSON.stringify(r.body)).toContain(param)
    }
    const scopeChange = await api('PUT', `/api/governance/model-configs/${mc.id}`, { scope: 'user' })
    expect(scopeChange.status).toBe(400)
    expect(scopeChange.body.error.param).toBe('scope')

    expect((await api('DELETE', `/api/governance/model-configs/${mc.id}`)).body.message).toBe(
      'Model config deleted successfully',
    )
    expect((await api('GET', `/api/governance/model-configs/${mc.id}`)).status).toBe(404)
    expect((await api('DELETE', `/api/governance/model-configs/${mc.id}`)).status).toBe(404)
  })

  it('pages model configs as Bifrost does once limit, offset or search is given', async () => {
    const ids: string[] = []
    for (const name of ['page-a', 'page-b', 'page-c']) {
      const r = await api('POST', '/api/governance/model-configs', { model_name: name })
      expect(r.status, JSON.stringify(r.body)).toBe(200)
      ids.push(r.body.model_config.id)
    }
    const names = (r: { body: { model_configs: { model_name: string }[] } }) =>
      r.body.model_configs.map((m) => m.model_name)
    const first = await api('GET', '/api/governance/model-configs?search=PAGE-&limit=2')
    expect(first.body).toMatchObject({ count: 2, total_count: 3, limit: 2, offset: 0 })
    expect(names(first)).toEqual(['page-a', 'page-b'])
    const second = await api('GET', '/api/governance/model-configs?search=page-&limit=2&offset=2')
    expect(second.body).toMatchObject({ count: 1, total_count: 3, limit: 2, offset: 2 })
    expect(names(second)).toEqual(['page-c'])
    // search alone pages with the default of 25; a larger limit is held to 100.
    expect((await api('GET', '/api/governance/model-configs?search=page-')).body).toMatchObject({
      count: 3,
      limit: 25,
    })
    expect((await api('GET', '/api/governance/model-configs?limit=500')).body.limit).toBe(100)
    // Without any of them, every config.
    const all = await api('GET', '/api/governance/model-configs')
    expect(all.body.limit).toBe(all.body.count)
    expect(all.body.total_count).toBe(all.body.count)
    for (const q of ['limit=-1', 'limit=ten', 'offset=-3']) {
      const r = await api('GET', `/api/governance/model-configs?${q}`)
      expect(r.status, q).toBe(400)
      expect(r.body.error.param).toBe(q.split('=')[0])
    }
    for (const id of ids) await api('DELETE', `/api/governance/model-configs/${id}`)
  })

  it('refuses a model once its budget is spent, with or without a virtual key, and leaves other models alone', async () => {
    const created = await api('POST', '/api/governance/model-configs', {
      model_name: 'gpt-4o-mini',
      budgets: [{ max_limit: 1e-9, reset_duration: '1h' }],
    })
    expect(created.status).toBe(200)
    // Under the limit when it starts, the first request is served and spends it.
    expect((await chat()).status).toBe(200)
    const refused = await chat()
    expect(refused.status).toBe(402)
    expect(refused.body.type).toBe('budget_exceeded')
    expect(refused.body.error.message).toContain('model gpt-4o-mini')
    expect((await chat('groq/gpt-4o-mini')).status).toBe(402)
    expect((await chat('openai/gpt-4o')).status).toBe(200)
    const read = await api('GET', `/api/governance/model-configs/${created.body.model_config.id}`)
    expect(read.body.model_config.budgets[0].current_usage).toBeGreaterThan(0)
    await api('DELETE', `/api/governance/model-configs/${created.body.model_config.id}`)
    expect((await chat()).status).toBe(200)
  })

  it("holds a virtual key's own model limit for that key only", async () => {
    const vk = await api('POST', '/api/governance/virtual-keys', {
      name: 'scoped',
      provider_configs: [{ provider: 'openai', allowed_models: ['*'], key_ids: ['*'] }],
    })
    const key = vk.body.virtual_key
    const scoped = await api('POST', '/api/governance/model-configs', {
      model_name: '*',
      provider: 'openai',
      scope: 'virtual_key',
      scope_id: key.id,
      rate_limit: { request_max_limit: 1, request_reset_duration: '1h' },
    })
    expect(scoped.status, JSON.stringify(scoped.body)).toBe(200)
    expect(scoped.body.model_config.scope_name).toBe('scoped')
    expect((await chat('openai/gpt-4o-mini', key.value)).status).toBe(200)
    const refused = await chat('openai/gpt-4o', key.value)
    expect(refused.status).toBe(429)
    expect(refused.body.type).toBe('request_limited')
    expect(refused.body.error.message).toContain('virtual key "scoped"')
    // Other callers are not limited by it.
    expect((await chat('openai/gpt-4o')).status).toBe(200)
    // Deleting the key deletes its model configs.
    await api('DELETE', `/api/governance/virtual-keys/${key.id}`)
    expect((await api('GET', `/api/governance/model-configs/${scoped.body.model_config.id}`)).status).toBe(
      404,
    )
  })

  it("holds a user's model limits across all of that user's virtual keys, and for that user only", async () => {
    const user = async (email: string) =>
      (await api('POST', '/api/governance/users', { email, name: email })).body.user
    const profile = async (name: string) =>
      (
        await api('POST', '/api/governance/access-profiles', {
          name,
          provider_configs: [{ provider: 'openai', allowed_models: ['*'] }],
        })
      ).body.access_profile
    const keyOf = async (userId: string, profileId: number) => {
      const r = await api('POST', `/api/users/${userId}/access-profiles`, { profile_id: profileId })
      expect(r.status, JSON.stringify(r.body)).toBe(201)
      return r.body.virtual_key.value as string
    }
    const [ada, bob] = [await user('ada@example.com'), await user('bob@example.com')]
    const [day, night] = [await profile('day'), await profile('night')]
    const adaDay = await keyOf(ada.id, day.id)
    const adaNight = await keyOf(ada.id, night.id)
    const bobDay = await keyOf(bob.id, day.id)

    const requests = await api('POST', '/api/governance/model-configs', {
      model_name: 'gpt-4o-mini',
      scope: 'user',
      scope_id: ada.id,
      rate_limit: { request_max_limit: 2, request_reset_duration: '1h' },
    })
    expect(requests.status, JSON.stringify(requests.body)).toBe(200)
    const budget = await api('POST', '/api/governance/model-configs', {
      model_name: 'gpt-4o',
      scope: 'user',
      scope_id: ada.id,
      budgets: [{ max_limit: 1e-9, reset_duration: '1d' }],
    })
    expect(budget.status, JSON.stringify(budget.body)).toBe(200)

    // Two requests a hour for Ada, whichever of her keys sends them.
    expect((await chat('openai/gpt-4o-mini', adaDay)).status).toBe(200)
    expect((await chat('openai/gpt-4o-mini', adaNight)).status).toBe(200)
    const limited = await chat('openai/gpt-4o-mini', adaDay)
    expect(limited.status).toBe(429)
    expect(limited.body.type).toBe('request_limited')
    expect(limited.body.error.message).toContain('user "ada@example.com"')
    expect((await chat('openai/gpt-4o-mini', adaNight)).status).toBe(429)
    // Her budget for gpt-4o is spent by one request, on either key.
    expect((await chat('openai/gpt-4o', adaNight)).status).toBe(200)
    const broke = await chat('openai/gpt-4o', adaDay)
    expect(broke.status).toBe(402)
    expect(broke.body.type).toBe('budget_exceeded')
    // Bob, on the same profile, and callers without a key are not held by Ada's limits.
    for (let i = 0; i < 3; i++) expect((await chat('openai/gpt-4o-mini', bobDay)).status).toBe(200)
    expect((await chat('openai/gpt-4o', bobDay)).status).toBe(200)
    expect((await chat('openai/gpt-4o', bobDay)).status).toBe(200)
    expect((await chat('openai/gpt-4o-mini')).status).toBe(200)

    for (const mc of [requests, budget])
      await api('DELETE', `/api/governance/model-configs/${mc.body.model_config.id}`)
    expect((await chat('openai/gpt-4o-mini', adaDay)).status).toBe(200)
  })

  it('refuses a provider once its rate limit is reached, and lists and removes provider governance', async () => {
    expect((await api('GET', '/api/governance/providers')).body).toEqual({ providers: [], count: 0 })
    const put = await api('PUT', '/api/governance/providers/groq', {
      rate_limit: { request_max_limit: 2, request_reset_duration: '1h' },
      budgets: [{ max_limit: 10, reset_duration: '1d' }],
    })
    expect(put.status, JSON.stringify(put.body)).toBe(200)
    expect(put.body.message).toBe('Provider governance updated successfully')
    expect(put.body).toMatchObject({ provider: 'groq', rate_limit: { request_max_limit: 2 } })
    expect(put.body.budget.max_limit).toBe(10)
    expect((await chat('groq/llama-3.1-8b')).status).toBe(200)
    expect((await chat('groq/llama-3.1-8b')).status).toBe(200)
    const refused = await chat('groq/llama-3.1-8b')
    expect(refused.status).toBe(429)
    expect(refused.body.type).toBe('request_limited')
    expect(refused.body.error.message).toContain('provider groq')
    expect((await chat('openai/gpt-4o-mini')).status).toBe(200)

    const list = await api('GET', '/api/governance/providers')
    expect(list.body.count).toBe(1)
    expect(list.body.providers[0].rate_limit.request_current_usage).toBe(2)

    expect((await api('PUT', '/api/governance/providers/no-such', {})).status).toBe(404)
    const bad = await api('PUT', '/api/governance/providers/groq', { rate_limit: { token_max_limit: -1 } })
    expect(bad.status).toBe(400)
    expect(bad.body.error.param).toBe('rate_limit.token_max_limit')

    expect((await api('DELETE', '/api/governance/providers/groq')).status).toBe(200)
    expect((await api('GET', '/api/governance/providers')).body.count).toBe(0)
    expect((await chat('groq/llama-3.1-8b')).status).toBe(200)
  })

  it("imports config.json's governance.model_configs and its providers' governance, inline or naming the section's budgets and rate limits", async () => {
    const file = await startHeimdall({
      providers: {
        // Provider governance, as Bifrost's provider rows carry it: named by id, or inline.
        openai: { ...fakeProvider(fake.url), budget_id: 'b-month' },
        groq: {
          ...fakeProvider(fake.url),
          rate_limit: { request_max_limit: 1, request_reset_duration: '1h' },
        },
      },
      governance: {
        budgets: [{ id: 'b-month', max_limit: 30, reset_duration: '1M' }],
        rate_limits: [{ id: 'rl-min', request_max_limit: 60, request_reset_duration: '1m' }],
        model_configs: [
          {
            id: 'mc-file',
            model_name: 'gpt-4o',
            provider: 'openai',
            budget_id: 'b-month',
            rate_limit_id: 'rl-min',
          },
          { id: 'mc-inline', model_name: '*', budgets: [{ max_limit: 2, reset_duration: '1d' }] },
        ],
      },
    })
    try {
      const mc = (await callJson(file.url, 'GET', '/api/governance/model-configs/mc-file')).body.model_config
      expect(mc).toMatchObject({
        model_name: 'gpt-4o',
        provider: 'openai',
        rate_limit: { request_max_limit: 60 },
      })
      expect(mc.budgets[0]).toMatchObject({ max_limit: 30, reset_duration: '1M' })
      const inline = (await callJson(file.url, 'GET', '/api/governance/model-configs/mc-inline')).body
        .model_config
      expect(inline.budgets[0].max_limit).toBe(2)

      const providers = (await callJson(file.url, 'GET', '/api/governance/providers')).body
      expect(providers.count).toBe(2)
      const byName = new Map(providers.providers.map((p: { provider: string }) => [p.provider, p]))
      expect(byName.get('openai')).toMatchObject({ budget: { max_limit: 30, reset_duration: '1M' } })
      expect(byName.get('groq')).toMatchObject({ rate_limit: { request_max_limit: 1 } })
      const groq = () =>
        callJson(file.url, 'POST', '/v1/chat/completions', {
          model: 'groq/llama-3.1-8b',
          messages: [{ role: 'user', content: 'hi' }],
        })
      expect((await groq()).status).toBe(200)
      const limited = await groq()
      expect(limited.status).toBe(429)
      expect(limited.body.error.message).toContain('provider groq')
    } finally {
      await file.close()
    }
    await expect(
      startHeimdall({ governance: { model_configs: [{ id: 'bad', model_name: 'x', budget_id: 'nope' }] } }),
    ).rejects.toThrow(/governance\.model_configs\[0\]\.budget_id: budget nope/)
    await expect(
      startHeimdall({
        providers: { openai: { ...fakeProvider(fake.url), rate_limit_id: 'nope' } },
        governance: { rate_limits: [] },
      }),
    ).rejects.toThrow(/providers\.openai\.rate_limit_id: rate limit nope/)
  })

  it('keeps a rotated virtual key’s old value working for vk_rotation_cooldown, then refuses it', async () => {
    const vk = await api('POST', '/api/governance/virtual-keys', {
      name: 'rotating',
      provider_configs: [{ provider: 'openai', allowed_models: ['*'], key_ids: ['*'] }],
    })
    const old = vk.body.virtual_key.value as string
    const rotated = await api('POST', `/api/governance/virtual-keys/${vk.body.virtual_key.id}/rotate`)
    expect(rotated.status).toBe(200)
    const fresh = rotated.body.virtual_key.value as string
    expect(Date.parse(rotated.body.virtual_key.previous_value_expires_at)).toBeGreaterThan(Date.now())
    expect((await chat('openai/gpt-4o-mini', old)).status).toBe(200)
    expect((await chat('openai/gpt-4o-mini', fresh)).status).toBe(200)
    const deadline = Date.now() + 5000
    let status = 200
    while (status === 200 && Date.now() < deadline) {
      await sleep(100)
      status = (await chat('openai/gpt-4o-mini', old)).status
    }
    expect(status).toBe(401)
    expect((await chat('openai/gpt-4o-mini', fresh)).status).toBe(200)

    // With no cooldown, the old value stops at once.
    expect((await api('PUT', '/api/config', { client_config: { vk_rotation_cooldown: '' } })).status).toBe(
      200,
    )
    const again = await api('POST', `/api/governance/virtual-keys/${vk.body.virtual_key.id}/rotate`)
    expect((await chat('openai/gpt-4o-mini', fresh)).status).toBe(401)
    expect((await chat('openai/gpt-4o-mini', again.body.virtual_key.value)).status).toBe(200)

    for (const value of ['soon', '-5m', '31d', '800h']) {
      const r = await api('PUT', '/api/config', { client_config: { vk_rotation_cooldown: value } })
      expect(r.status, value).toBe(400)
      expect(r.body.error.param).toBe('client_config.vk_rotation_cooldown')
    }
  })
})
