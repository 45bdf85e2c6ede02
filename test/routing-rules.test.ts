import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import OpenAI from 'openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { ConfigFile } from '../src/core/schemas/index.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { callJson, fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

/**
 * Routing rules end to end: Bifrost's API under both paths, and requests from the official OpenAI
 * SDK routed by CEL rules to one of two fake providers (openai and groq, told apart by which fake
 * received the call).
 */

let openai: FakeServer
let groq: FakeServer
let gw: RunningHeimdall

const config = (extra: Partial<ConfigFile> = {}): ConfigFile => ({
  providers: {
    openai: fakeProvider(openai.url, {}, [
      { id: 'oa-1', name: 'oa-one', value: 'sk-oa-1', models: ['*'], weight: 1 },
      { id: 'oa-2', name: 'oa-two', value: 'sk-oa-2', models: ['*'], weight: 1 },
    ]),
    groq: fakeProvider(groq.url, {}, [
      { id: 'gq-1', name: 'gq-one', value: 'sk-gq-1', models: ['*'], weight: 1 },
    ]),
  },
  ...extra,
})

const api = (method: string, path: string, body?: unknown, node = gw) =>
  callJson(node.url, method, path, body)

async function rule(body: Record<string, unknown>, node = gw): Promise<{ id: string }> {
  const r = await api('POST', '/api/routing/rules', { scope: 'global', priority: 0, ...body }, node)
  expect(r.status, JSON.stringify(r.body)).toBe(200)
  expect(r.body.message).toBe('Routing rule created successfully')
  return r.body.rule
}

async function clearRules(node = gw): Promise<void> {
  const { body } = await api('GET', '/api/routing/rules', undefined, node)
  for (const r of body.rules) await api('DELETE', `/api/routing/rules/${r.id}`, undefined, node)
}

function client(node = gw, headers: Record<string, string> = {}, apiKey = 'unused'): OpenAI {
  return new OpenAI({ baseURL: `${node.url}/v1`, apiKey, defaultHeaders: headers, maxRetries: 0 })
}

/** Sends one chat request; answers which fake served it, with which model, and the routing headers. */
async function send(
  model: string,
  opts: { headers?: Record<string, string>; body?: Record<string, unknown>; apiKey?: string } = {},
) {
  openai.reset()
  groq.reset()
  const { data, response } = await client(gw, opts.headers, opts.apiKey)
    .chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }], ...opts.body } as never)
    .withResponse()
  const served = openai.requests.length > 0 ? 'openai' : groq.requests.length > 0 ? 'groq' : 'none'
  const upstream = (served === 'openai' ? openai : groq).requests.at(-1)
  return {
    served,
    model: (upstream?.body as { model?: string } | undefined)?.model,
    rule: response.headers.get('x-bifrost-routing-info-rule-name'),
    headers: response.headers,
    data: data as unknown as { extra_fields?: { routing_info?: Record<string, unknown> } },
  }
}

beforeAll(async () => {
  openai = await startFakeOpenAI()
  groq = await startFakeOpenAI()
  gw = await startHeimdall(config())
})

afterAll(async () => {
  await gw?.close()
  await openai?.close()
  await groq?.close()
})

describe('routing rules API', () => {
  beforeEach(() => clearRules())

  it('creates, reads, lists with filters, updates and deletes under both paths', async () => {
    const a = await rule({
      name: 'premium',
      cel_expression: 'headers["x-tier"] == "premium"',
      targets: [{ provider: 'groq', weight: 1 }],
    })
    const legacy = await api('POST', '/api/governance/routing-rules', {
      name: 'team-only',
      cel_expression: 'true',
      scope: 'team',
      scope_id: 'team-1',
      priority: 3,
      targets: [
        { provider: 'openai', model: 'gpt-4o', weight: 0.5 },
        { provider: 'groq', weight: 0.5 },
      ],
      fallbacks: ['openai/gpt-4o-mini'],
    })
    expect(legacy.status).toBe(200)
    expect(legacy.body.rule).toMatchObject({
      name: 'team-only',
      enabled: true,
      chain_rule: false,
      scope: 'team',
      scope_id: 'team-1',
      priority: 3,
      fallbacks: ['openai/gpt-4o-mini'],
      targets: [
        { provider: 'openai', model: 'gpt-4o', key_id: null, weight: 0.5 },
        { provider: 'groq', model: null, key_id: null, weight: 0.5 },
      ],
    })

    const all = await api('GET', '/api/governance/routing-rules')
    expect(all.body.count).toBe(2)
    // VK → team → customer → global order.
    expect(all.body.rules.map((r: { name: string }) => r.name)).toEqual(['team-only', 'premium'])
    const teamOnly = await api('GET', '/api/routing/rules?scope=team&scope_id=team-1')
    expect(teamOnly.body.rules.map((r: { name: string }) => r.name)).toEqual(['team-only'])
    const search = await api('GET', '/api/routing/rules?search=PREM')
    expect(search.body.rules.map((r: { name: string }) => r.name)).toEqual(['premium'])
    const paged = await api('GET', '/api/routing/rules?limit=1&offset=1')
    expect(paged.body).toMatchObject({ count: 1, total_count: 2 })

    expect((await api('GET', `/api/routing/rules/${a.id}`)).body.rule.name).toBe('premium')
    const updated = await api('PUT', `/api/governance/routing-rules/${a.id}`, { enabled: false, priority: 7 })
    expect(updated.status).toBe(200)
    expect(updated.body).toMatchObject({
      message: 'Routing rule updated successfully',
      rule: { enabled: false, priority: 7, name: 'premium' },
    })

    const del = await api('DELETE', `/api/routing/rules/${a.id}`)
    expect(del.body).toEqual({ message: 'Routing rule deleted successfully' })
    expect((await api('GET', `/api/routing/rules/${a.id}`)).status).toBe(404)
    expect((await api('DELETE', `/api/governance/routing-rules/${a.id}`)).status).toBe(404)
  })

  it('refuses an invalid expression at write time with a 400 naming its position', async () => {
    const r = await api('POST', '/api/routing/rules', {
      name: 'broken',
      scope: 'global',
      priority: 0,
      cel_expression: 'model == "gpt-4o" &&',
      targets: [{ provider: 'groq', weight: 1 }],
    })
    expect(r.status).toBe(400)
    expect(r.body.error.message).toMatch(/invalid cel_expression at position 20: Unexpected token: EOF/)
    expect(r.body.error.param).toBe('cel_expression')
    expect((await api('GET', '/api/routing/rules')).body.count).toBe(0)

    const ok = await rule({
      name: 'fine',
      cel_expression: 'true',
      targets: [{ provider: 'groq', weight: 1 }],
    })
    const put = await api('PUT', `/api/routing/rules/${ok.id}`, { cel_expression: 'headers[' })
    expect(put.status).toBe(400)
    expect(put.body.error.message).toMatch(/position \d+/)
  })

  it('names the field of every other mistake', async () => {
    const base = {
      name: 'x',
      scope: 'global',
      priority: 0,
      cel_expression: 'true',
      targets: [{ provider: 'groq', weight: 1 }],
    }
    const cases: [Record<string, unknown>, string][] = [
      [{ targets: [{ provider: 'groq', weight: 0.4 }] }, 'targets'],
      [{ targets: [] }, 'targets'],
      [{ targets: [{ provider: 'groq', weight: 0 }] }, 'targets[0].weight'],
      [{ targets: [{ key_id: 'k', weight: 1 }] }, 'targets[0].key_id'],
      [{ scope: 'team' }, 'scope_id'],
      [{ scope: 'planet' }, 'scope'],
      [{ priority: 1.5 }, 'priority'],
      [{ name: undefined }, 'name'],
      [{ fallbacks: 'groq/x' }, 'fallbacks'],
      [{ chain_rule: 'yes' }, 'chain_rule'],
    ]
    for (const [patch, param] of cases) {
      const r = await api('POST', '/api/routing/rules', { ...base, ...patch })
      expect(r.status, param).toBe(400)
      expect(r.body.error.param, JSON.stringify(r.body)).toBe(param)
    }
    for (const [query, param] of [
      ['limit=x', 'limit'],
      ['scope=planet', 'scope'],
    ]) {
      const bad = await api('GET', `/api/routing/rules?${query}`)
      expect(bad.status).toBe(400)
      expect(bad.body.error.param).toBe(param)
    }
  })
})

describe('routing requests by rule', () => {
  beforeEach(() => clearRules())

  it('routes by header, model, provider, params and request type; a missing header is no match', async () => {
    await rule({
      name: 'tier',
      priority: 0,
      cel_expression: 'headers["x-tier"] == "premium"',
      targets: [{ provider: 'groq', model: 'llama-premium', weight: 1 }],
    })
    await rule({
      name: 'by-model',
      priority: 1,
      cel_expression: 'model == "gpt-4o" && provider == "openai"',
      targets: [{ provider: 'groq', weight: 1 }],
    })
    await rule({
      name: 'by-param',
      priority: 2,
      cel_expression: 'params["temperature"] > 0.9',
      targets: [{ model: 'hot-model', weight: 1 }],
    })
    await rule({
      name: 'embeddings',
      priority: 3,
      cel_expression: 'request_type == "embedding"',
      targets: [{ model: 'embed-x', weight: 1 }],
    })

    expect(await send('openai/gpt-4o-mini', { headers: { 'x-tier': 'premium' } })).toMatchObject({
      served: 'groq',
      model: 'llama-premium',
      rule: 'tier',
    })
    expect(await send('openai/gpt-4o')).toMatchObject({ served: 'groq', model: 'gpt-4o', rule: 'by-model' })
    expect(await send('openai/gpt-4o-mini', { body: { temperature: 1.5 } })).toMatchObject({
      served: 'openai',
      model: 'hot-model',
      rule: 'by-param',
    })
    // A header a rule names in another case is found; one the request lacks reads as "".
    await rule({
      name: 'canary',
      priority: 4,
      cel_expression: 'headers["X-Canary"] != ""',
      targets: [{ model: 'canary-model', weight: 1 }],
    })
    expect(await send('openai/gpt-4o-mini', { headers: { 'x-canary': 'yes' } })).toMatchObject({
      served: 'openai',
      model: 'canary-model',
      rule: 'canary',
    })
    // No header, a cold temperature: no rule, the request goes where it says.
    expect(await send('openai/gpt-4o-mini', { body: { temperature: 0.2 } })).toMatchObject({
      served: 'openai',
      model: 'gpt-4o-mini',
      rule: null,
    })

    openai.reset()
    await client().embeddings.create({ model: 'openai/text-embedding-3-small', input: 'x' })
    expect((openai.requests.at(-1)?.body as { model: string }).model).toBe('embed-x')
  })

  it('says which rule fired in the headers and extra_fields.routing_info', async () => {
    const r = await rule({
      name: 'to-groq',
      cel_expression: 'true',
      targets: [{ provider: 'groq', model: 'llama', weight: 1 }],
    })
    const s = await send('openai/gpt-4o-mini')
    expect(s.headers.get('x-bifrost-routing-info-provider')).toBe('groq')
    expect(s.headers.get('x-bifrost-routing-info-model')).toBe('llama')
    expect(s.headers.get('x-bifrost-routing-info-key')).toBe('gq-one')
    expect(s.headers.get('x-bifrost-routing-info-rule-id')).toBe(r.id)
    expect(s.data.extra_fields?.routing_info).toMatchObject({
      provider: 'groq',
      model: 'llama',
      key: 'gq-one',
      rule_id: r.id,
      rule_name: 'to-groq',
    })
    // The log entry names the rule too, and Bifrost's routing_rule_ids filter finds it.
    let logged: { routing_rule_id?: string; routing_info?: unknown }[] = []
    for (let i = 0; i < 100 && logged.length === 0; i++) {
      logged = (await api('GET', `/api/logs?routing_rule_ids=${r.id}`)).body.logs
      if (logged.length === 0) await sleep(50)
    }
    expect(logged).toHaveLength(1)
    expect(logged[0].routing_rule_id).toBe(r.id)
    expect(logged[0].routing_info).toMatchObject({ rule_id: r.id, rule_name: 'to-groq' })
    expect((await api('GET', '/api/logs?routing_rule_ids=no-such-rule')).body.logs).toHaveLength(0)
  })

  it('tells which rule and target a sample request gets, without sending it (POST /api/routing/rules/test)', async () => {
    const r = await rule({
      name: 'beta-to-groq',
      cel_expression: 'headers["x-tier"] == "beta" && model == "gpt-4o-mini"',
      targets: [{ provider: 'groq', model: 'llama', key_id: 'gq-1', weight: 1 }],
      fallbacks: ['openai/gpt-4o'],
    })
    const test = (body: unknown) => api('POST', '/api/routing/rules/test', body)
    openai.reset()
    groq.reset()
    const hit = await test({ request: { model: 'openai/gpt-4o-mini' }, headers: { 'X-Tier': 'beta' } })
    expect(hit.status, JSON.stringify(hit.body)).toBe(200)
    expect(hit.body).toMatchObject({
      matched: true,
      rule: { id: r.id, name: 'beta-to-groq', scope: 'global' },
      chain: [{ id: r.id, name: 'beta-to-groq' }],
      target: { provider: 'groq', model: 'llama', key_id: 'gq-1' },
      fallbacks: ['openai/gpt-4o'],
      without_rules: { provider: 'openai', model: 'gpt-4o-mini' },
    })
    const miss = await test({ request: { model: 'openai/gpt-4o-mini' } })
    expect(miss.body).toMatchObject({ matched: false, target: { provider: 'openai', model: 'gpt-4o-mini' } })
    expect(openai.requests).toHaveLength(0)
    expect(groq.requests).toHaveLength(0)
    for (const [body, param] of [
      [{}, 'request'],
      [{ request: { messages: [] } }, 'request.model'],
      [{ request: { model: 'x' }, headers: { a: 1 } }, 'headers.a'],
      [{ request: { model: 'x' }, virtual_key_id: 'nope' }, 'virtual_key_id'],
    ] as const) {
      const bad = await test(body)
      expect(bad.status).toBe(400)
      expect(bad.body.error.param).toBe(param)
    }
  })

  it("pins the target's key_id", async () => {
    await rule({
      name: 'pinned-key',
      cel_expression: 'true',
      targets: [{ provider: 'openai', key_id: 'oa-2', weight: 1 }],
    })
    for (let i = 0; i < 8; i++) {
      const s = await send('openai/gpt-4o-mini')
      expect(openai.requests[0]?.headers.authorization).toBe('Bearer sk-oa-2')
      expect(s.headers.get('x-bifrost-routing-info-key')).toBe('oa-two')
    }
  })

  it('evaluates priority within a scope, first match wins, and skips disabled rules', async () => {
    const first = await rule({
      name: 'p5',
      priority: 5,
      cel_expression: 'true',
      targets: [{ provider: 'openai', model: 'five', weight: 1 }],
    })
    await rule({
      name: 'p1',
      priority: 1,
      cel_expression: 'true',
      targets: [{ provider: 'groq', model: 'one', weight: 1 }],
    })
    expect(await send('openai/gpt-4o-mini')).toMatchObject({ served: 'groq', model: 'one', rule: 'p1' })
    const p1 = (await api('GET', '/api/routing/rules?search=p1')).body.rules[0]
    await api('PUT', `/api/routing/rules/${p1.id}`, { enabled: false })
    expect(await send('openai/gpt-4o-mini')).toMatchObject({ served: 'openai', model: 'five', rule: 'p5' })
    expect(first.id).toBeTruthy()
  })

  it('draws a target by weight', async () => {
    await rule({
      name: 'split',
      cel_expression: 'true',
      targets: [
        { provider: 'openai', weight: 0.5 },
        { provider: 'groq', weight: 0.5 },
      ],
    })
    const seen = { openai: 0, groq: 0 }
    for (let i = 0; i < 40; i++) seen[(await send('openai/gpt-4o-mini')).served as 'openai' | 'groq']++
    // Both drawn; P(all 40 one side) = 2^-39.
    expect(seen.openai).toBeGreaterThan(0)
    expect(seen.groq).toBeGreaterThan(0)
    expect(seen.openai + seen.groq).toBe(40)
  })

  it("tries the rule's fallbacks when its target fails", async () => {
    await rule({
      name: 'with-fallback',
      cel_expression: 'true',
      targets: [{ provider: 'groq', model: 'flaky', weight: 1 }],
      fallbacks: ['nowhere/x', 'openai/steady'],
    })
    openai.reset()
    groq.reset()
    groq.fail({ kind: 'status', status: 500 })
    const { data, response } = await client()
      .chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
      .withResponse()
    expect(groq.requests).toHaveLength(1)
    expect((openai.requests[0]?.body as { model: string }).model).toBe('steady')
    expect(response.headers.get('x-bifrost-fallback-index')).toBe('1')
    expect(response.headers.get('x-bifrost-routing-info-is-fallback')).toBe('true')
    expect(response.headers.get('x-bifrost-routing-info-primary-provider')).toBe('groq')
    expect(data.choices[0].message.content).toBeTruthy()

    // `provider/` keeps the routed model; a fallback naming an unknown provider is left out.
    const r = (await api('GET', '/api/routing/rules')).body.rules[0]
    await api('PUT', `/api/routing/rules/${r.id}`, { fallbacks: ['nowhere/x', 'openai/'] })
    openai.reset()
    groq.fail({ kind: 'status', status: 500 })
    await client().chat.completions.create({
      model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
    })
    expect((openai.requests[0]?.body as { model: string }).model).toBe('flaky')
  })

  it('chains rules on the rewritten model, up to client.routing_chain_max_depth', async () => {
    await rule({
      name: 'a-to-b',
      priority: 0,
      chain_rule: true,
      cel_expression: 'model == "a"',
      targets: [{ model: 'b', weight: 1 }],
    })
    await rule({
      name: 'b-to-c',
      priority: 1,
      chain_rule: true,
      cel_expression: 'model == "b"',
      targets: [{ model: 'c', weight: 1 }],
    })
    await rule({
      name: 'c-to-groq',
      priority: 2,
      cel_expression: 'model == "c"',
      targets: [{ provider: 'groq', model: 'd', weight: 1 }],
    })
    const full = await send('openai/a')
    expect(full).toMatchObject({ served: 'groq', model: 'd', rule: 'c-to-groq' })
    expect(full.data.extra_fields?.routing_info?.rule_chain).toHaveLength(3)

    // A second gateway whose chains stop after two steps: a → b → c, never routed to groq.
    const shallow = await startHeimdall(config({ client: { routing_chain_max_depth: 2 } as never }))
    try {
      await rule(
        {
          name: 'a-to-b',
          priority: 0,
          chain_rule: true,
          cel_expression: 'model == "a"',
          targets: [{ model: 'b', weight: 1 }],
        },
        shallow,
      )
      await rule(
        {
          name: 'b-to-c',
          priority: 1,
          chain_rule: true,
          cel_expression: 'model == "b"',
          targets: [{ model: 'c', weight: 1 }],
        },
        shallow,
      )
      await rule(
        {
          name: 'c-to-groq',
          priority: 2,
          cel_expression: 'model == "c"',
          targets: [{ provider: 'groq', model: 'd', weight: 1 }],
        },
        shallow,
      )
      openai.reset()
      groq.reset()
      await client(shallow).chat.completions.create({
        model: 'openai/a',
        messages: [{ role: 'user', content: 'hi' }],
      })
      expect(groq.requests).toHaveLength(0)
      expect((openai.requests[0]?.body as { model: string }).model).toBe('c')
    } finally {
      await shallow.close()
    }
  })
})

describe('scopes and governance variables', () => {
  beforeEach(() => clearRules())

  it('evaluates VK, then team, then customer, then global rules, with their ids and names', async () => {
    const customer = (await api('POST', '/api/governance/customers', { name: 'acme' })).body.customer
    const team = (
      await api('POST', '/api/governance/teams', { name: 'ml-research', customer_id: customer.id })
    ).body.team
    const vk = (
      await api('POST', '/api/governance/virtual-keys', {
        name: 'prod-agent',
        team_id: team.id,
        budgets: [{ max_limit: 100, reset_duration: '1d' }],
        provider_configs: [
          { provider: 'openai', allowed_models: ['*'], key_ids: ['*'] },
          { provider: 'groq', allowed_models: ['*'], key_ids: ['*'] },
        ],
      })
    ).body.virtual_key
    const asKey = (model: string, headers: Record<string, string> = {}) =>
      send(model, { apiKey: vk.value, headers })

    await rule({ name: 'global', cel_expression: 'true', targets: [{ model: 'global-model', weight: 1 }] })
    expect(await asKey('openai/gpt-4o-mini')).toMatchObject({ model: 'global-model', rule: 'global' })
    await rule({
      name: 'customer',
      scope: 'customer',
      scope_id: customer.id,
      cel_expression: `customer_name == "acme" && customer_id == "${customer.id}"`,
      targets: [{ model: 'customer-model', weight: 1 }],
    })
    expect(await asKey('openai/gpt-4o-mini')).toMatchObject({ model: 'customer-model', rule: 'customer' })
    await rule({
      name: 'team',
      scope: 'team',
      scope_id: team.id,
      cel_expression: `team_name == "ml-research" && team_id == "${team.id}"`,
      targets: [{ model: 'team-model', weight: 1 }],
    })
    expect(await asKey('openai/gpt-4o-mini')).toMatchObject({ model: 'team-model', rule: 'team' })
    await rule({
      name: 'vk',
      scope: 'virtual_key',
      scope_id: vk.id,
      cel_expression: `virtual_key_name.startsWith("prod-") && virtual_key_id == "${vk.id}"`,
      targets: [{ provider: 'groq', weight: 1 }],
    })
    expect(await asKey('openai/gpt-4o-mini')).toMatchObject({ served: 'groq', rule: 'vk' })
    // Without the key, only the global rule applies.
    expect(await send('openai/gpt-4o-mini')).toMatchObject({ model: 'global-model', rule: 'global' })

    // budget_used: the key's budget in percent; 0 until it is spent.
    await clearRules()
    await rule({
      name: 'budget',
      cel_expression: 'budget_used > 50.0',
      targets: [{ provider: 'groq', weight: 1 }],
    })
    await rule({
      name: 'usage',
      priority: 1,
      cel_expression: 'tokens_used == 0.0 && request == 0.0 && budget_used < 50.0',
      targets: [{ model: 'cheap', weight: 1 }],
    })
    expect(await asKey('openai/gpt-4o-mini')).toMatchObject({
      served: 'openai',
      model: 'cheap',
      rule: 'usage',
    })
    const budgetId = (await api('GET', `/api/governance/virtual-keys/${vk.id}`)).body.virtual_key.budgets[0]
      .id
    const counters = gw.heimdall.cluster.counters
    const b = (await api('GET', `/api/governance/virtual-keys/${vk.id}`)).body.virtual_key.budgets[0]
    await counters.add(`budget:${budgetId}`, Date.parse(b.last_reset), 86_400_000, 60)
    expect(await asKey('openai/gpt-4o-mini')).toMatchObject({ served: 'groq', rule: 'budget' })
  })
})

describe('rules that outlive the process', () => {
  it('come back after a restart, and config.json governance.routing_rules are imported', async () => {
    const appDir = await mkdtemp(join(tmpdir(), 'heimdall-rules-'))
    const fileRule = {
      name: 'from-file',
      cel_expression: 'headers["x-file"] == "1"',
      scope: 'global',
      priority: 0,
      targets: [{ provider: 'groq', model: 'file-model', weight: 1 }],
    }
    const cfg = config({ governance: { routing_rules: [fileRule] } as never })
    let node = await startHeimdall(cfg, { appDir })
    try {
      await rule(
        {
          name: 'from-api',
          priority: 1,
          cel_expression: 'headers["x-api"] == "1"',
          targets: [{ provider: 'groq', model: 'api-model', weight: 1 }],
        },
        node,
      )
      await node.close()
      node = await startHeimdall(cfg, { appDir })
      const listed = await api('GET', '/api/routing/rules', undefined, node)
      // The file's rule is not imported twice.
      expect(listed.body.rules.map((r: { name: string }) => r.name).sort()).toEqual(['from-api', 'from-file'])
      groq.reset()
      await client(node, { 'x-api': '1' }).chat.completions.create({
        model: 'openai/gpt-4o-mini',
        messages: [{ role: 'user', content: 'hi' }],
      })
      await client(node, { 'x-file': '1' }).chat.completions.create({
        model: 'openai/gpt-4o-mini',
        messages: [{ role: 'user', content: 'hi' }],
      })
      expect(groq.requests.map((r) => (r.body as { model: string }).model)).toEqual([
        'api-model',
        'file-model',
      ])
    } finally {
      await node.close()
      await rm(appDir, { recursive: true, force: true })
    }
  })
})
