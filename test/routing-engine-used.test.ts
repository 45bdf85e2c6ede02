import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, describe, expect, it } from 'vitest'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { postgresBackend } from './helpers/databases.js'
import { callJson, fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

/**
 * Bifrost's `routing_engine_used` on request logs: which engines chose where a request went
 * (`governance`: a virtual key's provider weights; `routing-rule`: a routing rule; `loadbalancing`:
 * adaptive load balancing), comma-joined on the entry, and the log filter that selects by one of
 * them, on SQLite and on PostgreSQL log stores.
 */

const pg = postgresBackend('engines')
let fake: FakeServer | undefined
afterAll(async () => {
  await fake?.close()
  await pg.teardown()
})

type Entry = { id: string; model: string; routing_engine_used?: string }

describe.each(['sqlite', 'postgres'] as const)('routing_engine_used on a %s log store', (kind) => {
  let gw: RunningHeimdall | undefined
  afterAll(async () => {
    await gw?.close()
  })

  it('records the engines that routed each request, and the filter selects by one of them', async () => {
    fake ??= await startFakeOpenAI()
    const keys = (p: string) => [
      { id: `${p}-1`, name: `${p}-one`, value: `sk-${p}-1`, models: ['*'], weight: 1 },
      { id: `${p}-2`, name: `${p}-two`, value: `sk-${p}-2`, models: ['*'], weight: 1 },
    ]
    gw = await startHeimdall({
      providers: {
        openai: fakeProvider(fake.url, {}, keys('oa')),
        groq: fakeProvider(fake.url, { adaptive_load_balancing: { enabled: true } }, keys('gq')),
      },
      logs_store:
        kind === 'sqlite'
          ? ({ enabled: true, type: 'sqlite', config: {}, flush_interval_ms: 10 } as never)
          : ({
              enabled: true,
              type: 'postgres',
              config: { connection_string: await pg.freshUrl() },
              flush_interval_ms: 10,
            } as never),
    })
    const url = gw.url
    const vk = await callJson(url, 'POST', '/api/governance/virtual-keys', {
      name: 'weighted',
      provider_configs: [{ provider: 'openai', weight: 1, allowed_models: ['*'], key_ids: ['*'] }],
    })
    expect(vk.status, JSON.stringify(vk.body)).toBe(200)
    const rule = await callJson(url, 'POST', '/api/routing/rules', {
      name: 'tagged',
      scope: 'global',
      priority: 0,
      cel_expression: 'model == "tagged-model"',
      targets: [{ provider: 'openai', model: 'gpt-4o-mini', weight: 1 }],
    })
    expect(rule.status, JSON.stringify(rule.body)).toBe(200)

    const chat = async (model: string, key?: string) => {
      const r = await callJson(
        url,
        'POST',
        '/v1/chat/completions',
        { model, messages: [{ role: 'user', content: 'hi' }] },
        key,
      )
      expect(r.status, JSON.stringify(r.body)).toBe(200)
    }
    // The key's weights pick the provider of a model named without one.
    await chat('weighted-model', vk.body.virtual_key.value)
    // A rule routes this one.
    await chat('openai/tagged-model')
    // Adaptive load balancing weighs groq's two keys.
    await chat('groq/balanced-model')
    // Nothing chose: the model string said where.
    await chat('openai/plain-model')

    const logs = async (query: string): Promise<Entry[]> =>
      (await callJson(url, 'GET', `/api/logs?${query}`)).body.logs
    let all: Entry[] = []
    for (let i = 0; i < 200 && all.length < 4; i++) {
      all = await logs('limit=50')
      if (all.length < 4) await sleep(50)
    }
    const byModel = new Map(all.map((e) => [e.model, e]))
    expect(byModel.get('weighted-model')?.routing_engine_used).toBe('governance')
    expect(byModel.get('gpt-4o-mini')?.routing_engine_used).toBe('routing-rule')
    expect(byModel.get('balanced-model')?.routing_engine_used).toBe('loadbalancing')
    expect(byModel.get('plain-model')?.routing_engine_used).toBeUndefined()

    const models = async (query: string) => (await logs(query)).map((e) => e.model).sort()
    expect(await models('routing_engine_used=routing-rule')).toEqual(['gpt-4o-mini'])
    expect(await models('routing_engine_used=governance,loadbalancing')).toEqual([
      'balanced-model',
      'weighted-model',
    ])
    expect(await models('routing_engine_used=model-catalog')).toEqual([])
  })
})
