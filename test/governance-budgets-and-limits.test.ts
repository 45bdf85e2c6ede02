import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import OpenAI from 'openai'
import { describe, expect, it } from 'vitest'
import {
  ALL_OPENAI,
  ask,
  caller,
  costOf,
  createKey,
  enforcementServers,
  expectDecision,
  expectDollars,
  getKey,
  MODEL,
  ok,
  refused,
  SETUPS,
  uniqueName,
} from './helpers/governance-enforcement.js'
import { startHeimdall } from './helpers/heimdall.js'

/**
 * Governance budgets and rate limits end to end: a user creates a customer, a team and a virtual key through
 * the management API, calls the gateway with the key from the official OpenAI SDK until a limit stops it, and
 * reads exact usage back. Run on every store and counter backend a deployment can choose.
 */

describe.each(SETUPS)('governance enforcement on $name', (s) => {
  const { config, server } = enforcementServers(s)

  it('a customer, a team and a key with a daily budget and a request limit: five calls, a 429, exact usage read back', async () => {
    const { gw } = await server()
    const { customer } = await ok(gw, 'POST', '/api/governance/customers', {
      name: uniqueName('customer'),
      budget: { max_limit: 50, reset_duration: '1M' },
    })
    const { team } = await ok(gw, 'POST', '/api/governance/teams', {
      name: uniqueName('team'),
      customer_id: customer.id,
      budget: { max_limit: 20, reset_duration: '1d' },
    })
    const created = await ok(gw, 'POST', '/api/governance/virtual-keys', {
      name: uniqueName('acceptance'),
      team_id: team.id,
      budgets: [
        { max_limit: 10, reset_duration: '1d' },
        { max_limit: 100, reset_duration: '1M' },
      ],
      rate_limit: { request_max_limit: 5, request_reset_duration: '1h' },
      provider_configs: [ALL_OPENAI],
    })
    const { id, value } = created.virtual_key
    expect(value).toMatch(/^sk-bf-[0-9A-Za-z]{20,}$/)
    // The full value is in the create answer only.
    expect((await getKey(gw, id)).value).not.toBe(value)
    const list = await ok(gw, 'GET', '/api/governance/virtual-keys')
    expect(JSON.stringify(list)).not.toContain(value)

    const c = caller(gw, value)
    let spent = 0
    const remaining: (string | null)[] = []
    for (let i = 0; i < 5; i++) {
      const { data, response } = await ask(c, `call number ${i + 1}`)
      expect(data.choices[0].message.content).toBe(`Echo: call number ${i + 1}`)
      spent += costOf(data.usage)
      remaining.push(response.headers.get('x-ratelimit-remaining-requests'))
      expect(response.headers.get('x-ratelimit-limit-requests')).toBe('5')
      expect(Number(response.headers.get('x-ratelimit-reset-requests')?.replace(/s$/, ''))).toBeGreaterThan(0)
    }
    expect(remaining).toEqual(['4', '3', '2', '1', '0'])

    const sixth = await refused(c, ask(c, 'one too many'))
    expect(sixth.err).toBeInstanceOf(OpenAI.RateLimitError)
    expect(sixth.err.status).toBe(429)
    expectDecision(sixth, 'request_limited', 429)
    const tripped = sixth.body.extra_fields.governance
    expect(tripped).toMatchObject({
      scope: 'virtual_key',
      scope_id: id,
      scope_name: expect.stringContaining(created.virtual_key.name),
      limit_kind: 'requests',
      limit: 5,
      used: 5,
      reset_duration: '1h',
    })
    expect(sixth.body.error.message).toContain('5/5')
    const retryAfter = Number(sixth.headers.get('retry-after'))
    expect(retryAfter).toBeGreaterThan(0)
    expect(retryAfter).toBeLessThanOrEqual(3600)
    expect(Date.parse(tripped.reset_at)).toBeGreaterThan(Date.now())
    expect(sixth.headers.get('x-ratelimit-remaining-requests')).toBe('0')
    expect(sixth.headers.get('x-ratelimit-limit-requests')).toBe('5')
    // A streamed request is refused the same way, before any event.
    const streamed = await refused(
      c,
      c.client.chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content: 'stream it' }],
        stream: true,
      }),
    )
    expect(streamed.err).toBeInstanceOf(OpenAI.RateLimitError)
    expectDecision(streamed, 'request_limited', 429)

    const vk = await getKey(gw, id)
    expect(vk.rate_limit.request_current_usage).toBe(5)
    expect(vk.rate_limit.request_reset_at).toBe(tripped.reset_at)
    expect(vk.budgets).toHaveLength(2)
    for (const b of vk.budgets) expectDollars(b.current_usage, spent)

    const teamNow = (await ok(gw, 'GET', `/api/governance/teams/${team.id}`)).team
    expectDollars(teamNow.budget.current_usage, spent)
    const customerNow = (await ok(gw, 'GET', `/api/governance/customers/${customer.id}`)).customer
    expectDollars(customerNow.budget.current_usage, spent)

    // The key reads its own allowance, with itself as the credential.
    const quota = await fetch(`${gw.url}/api/governance/virtual-keys/quota`, {
      headers: { authorization: `Bearer ${value}` },
    })
    expect(quota.status).toBe(200)
    const q: any = await quota.json()
    expect(q.is_active).toBe(true)
    expect(q.rate_limit.request_current_usage).toBe(5)
    expect(q.budgets).toHaveLength(2)
    for (const b of q.budgets) expectDollars(b.current_usage, spent)
    expectDollars(q.team.budgets[0].current_usage, spent)
    expectDollars(q.customer.budgets[0].current_usage, spent)
  })

  it('a tiny key budget admits one request, then refuses with 402 naming the key', async () => {
    const { gw } = await server()
    const { id, value } = await createKey(gw, {
      budgets: [{ max_limit: 0.000001, reset_duration: '1d' }],
      provider_configs: [ALL_OPENAI],
    })
    const c = caller(gw, value)
    const { data, response } = await ask(c, 'hi')
    const cost = costOf(data.usage)
    expect(cost).toBeGreaterThan(0.000001)
    expect(Number(response.headers.get('x-bifrost-cost-usd'))).toBeCloseTo(cost, 8)

    const r = await refused(c, ask(c, 'hi again'))
    expect(r.err.status).toBe(402)
    expectDecision(r, 'budget_exceeded', 402)
    expect(r.body.extra_fields.governance).toMatchObject({
      scope: 'virtual_key',
      scope_id: id,
      limit_kind: 'budget',
      limit: 0.000001,
      reset_duration: '1d',
    })
    expectDollars(r.body.extra_fields.governance.used, cost)
    expect(Date.parse(r.body.extra_fields.governance.reset_at)).toBeGreaterThan(Date.now())
    expect(r.body.error.message).toMatch(/budget exceeded/)
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0)
    // The one admitted request is charged in full, overshoot included.
    expectDollars((await getKey(gw, id)).budgets[0].current_usage, cost)
  })

  it('an exhausted team budget refuses another key of the team; a customer budget, keys under the customer', async () => {
    const { gw, fake: f } = await server()
    const { team } = await ok(gw, 'POST', '/api/governance/teams', {
      name: uniqueName('team'),
      budget: { max_limit: 0.000001, reset_duration: '1d' },
    })
    const spender = await createKey(gw, { team_id: team.id, provider_configs: [ALL_OPENAI] })
    const sibling = await createKey(gw, { team_id: team.id, provider_configs: [ALL_OPENAI] })
    await ask(caller(gw, spender.value), 'hi')
    const s1 = caller(gw, sibling.value)
    const byTeam = await refused(s1, ask(s1, 'hi'))
    expectDecision(byTeam, 'budget_exceeded', 402)
    expect(byTeam.body.extra_fields.governance).toMatchObject({ scope: 'team', scope_id: team.id })

    const { customer } = await ok(gw, 'POST', '/api/governance/customers', {
      name: uniqueName('customer'),
      budget: { max_limit: 0.000001, reset_duration: '1d' },
    })
    const { team: teamOfCustomer } = await ok(gw, 'POST', '/api/governance/teams', {
      name: uniqueName('team'),
      customer_id: customer.id,
    })
    const viaTeam = await createKey(gw, { team_id: teamOfCustomer.id, provider_configs: [ALL_OPENAI] })
    const direct = await createKey(gw, { customer_id: customer.id, provider_configs: [ALL_OPENAI] })
    await ask(caller(gw, viaTeam.value), 'hi')
    for (const key of [direct, viaTeam]) {
      const c = caller(gw, key.value)
      const byCustomer = await refused(c, ask(c, 'hi'))
      expectDecision(byCustomer, 'budget_exceeded', 402)
      expect(byCustomer.body.extra_fields.governance).toMatchObject({
        scope: 'customer',
        scope_id: customer.id,
      })
    }
    // Two requests reached the provider; the refused ones did not.
    expect(f.requests).toHaveLength(2)
  })

  it('charges a streamed request like a plain one, whether or not the client asked for usage', async () => {
    const { gw, fake: f } = await server()
    const { id, value } = await createKey(gw, {
      budgets: [{ max_limit: 10, reset_duration: '1d' }],
      provider_configs: [ALL_OPENAI],
    })
    const c = caller(gw, value)
    const text = 'stream me the same answer'
    const usageNow = async () => (await getKey(gw, id)).budgets[0].current_usage as number

    const { data } = await ask(c, text)
    const cost = costOf(data.usage)
    expectDollars(await usageNow(), cost)

    const plain = await c.client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: text }],
      stream: true,
    })
    let content = ''
    for await (const chunk of plain) {
      expect(chunk.usage ?? null).toBeNull()
      content += chunk.choices[0]?.delta?.content ?? ''
    }
    expect(content).toBe(`Echo: ${text}`)
    expectDollars(await usageNow(), 2 * cost)

    const withUsage = await c.client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: text }],
      stream: true,
      stream_options: { include_usage: true },
    })
    let streamedUsage: OpenAI.CompletionUsage | undefined
    for await (const chunk of withUsage) if (chunk.usage) streamedUsage = chunk.usage
    expect(costOf(streamedUsage)).toBeCloseTo(cost, 12)
    expectDollars(await usageNow(), 3 * cost)
    // The upstream was asked for usage both times.
    expect(f.requests.slice(1).map((r) => r.body.stream_options)).toEqual([
      { include_usage: true },
      { include_usage: true },
    ])
  })

  it('refuses with token_limited once the tokens are spent, and shows the exact token usage', async () => {
    const { gw } = await server()
    const { id, value } = await createKey(gw, {
      rate_limit: { token_max_limit: 40, token_reset_duration: '1h' },
      provider_configs: [ALL_OPENAI],
    })
    const c = caller(gw, value)
    const text = 'hello there friend'
    // max_tokens bounds the hold each request takes at admission, so that the header has room to count down.
    const limits = { max_tokens: 8 }
    const totals: number[] = []
    const remaining: number[] = []
    while (totals.reduce((a, b) => a + b, 0) < 40 && totals.length < 10) {
      const { data, response } = await ask(c, text, limits)
      expect(response.headers.get('x-ratelimit-limit-tokens')).toBe('40')
      remaining.push(Number(response.headers.get('x-ratelimit-remaining-tokens')))
      totals.push(data.usage!.total_tokens)
    }
    const tokens = totals.reduce((a, b) => a + b, 0)
    // The request that crossed the limit started under it, so it was served.
    expect(tokens - totals[totals.length - 1]).toBeLessThan(40)
    expect(remaining[0]).toBeGreaterThan(0)
    expect(remaining[0]).toBeLessThan(40)
    for (let i = 1; i < remaining.length; i++) expect(remaining[i]).toBeLessThanOrEqual(remaining[i - 1])
    expect(remaining[remaining.length - 1]).toBe(0)

    const refusal = await refused(c, ask(c, text, limits))
    expect(refusal.err).toBeInstanceOf(OpenAI.RateLimitError)
    expectDecision(refusal, 'token_limited', 429)
    expect(refusal.body.extra_fields.governance).toMatchObject({
      scope: 'virtual_key',
      scope_id: id,
      limit_kind: 'tokens',
      limit: 40,
      used: tokens,
    })
    expect(Number(refusal.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(refusal.headers.get('x-ratelimit-remaining-tokens')).toBe('0')
    const vk = await getKey(gw, id)
    expect(vk.rate_limit.token_current_usage).toBe(tokens)
  })

  it('admits exactly the request limit out of 40 parallel calls', async () => {
    const { gw, fake: f } = await server()
    const { id, value } = await createKey(gw, {
      rate_limit: { request_max_limit: 10, request_reset_duration: '1h' },
      provider_configs: [ALL_OPENAI],
    })
    const c = caller(gw, value)
    const results = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => ask(c, `parallel ${i}`)))
    const admitted = results.filter((r) => r.status === 'fulfilled')
    const limited = results.filter(
      (r) => r.status === 'rejected' && r.reason instanceof OpenAI.RateLimitError && r.reason.status === 429,
    )
    expect(admitted).toHaveLength(10)
    expect(limited).toHaveLength(30)
    expect(c.refusals.every((r) => r.body.type === 'request_limited')).toBe(true)
    expect(f.requests).toHaveLength(10)
    expect((await getKey(gw, id)).rate_limit.request_current_usage).toBe(10)
  })

  // In memory the counters come back from the store; with Redis they outlive the process.
  it('keeps the spent budget across a restart on the same app dir', async () => {
    const appDir = await mkdtemp(join(tmpdir(), 'heimdall-restart-'))
    try {
      const cfg = await config()
      let gw = await startHeimdall(cfg, { appDir })
      let id: string
      let value: string
      let cost: number
      let limited: string
      try {
        ;({ id, value } = await createKey(gw, {
          budgets: [{ max_limit: 10, reset_duration: '1d' }],
          rate_limit: { request_max_limit: 100, request_reset_duration: '1h' },
          provider_configs: [ALL_OPENAI],
        }))
        const { data } = await ask(caller(gw, value), 'remember me')
        cost = costOf(data.usage)
        limited = (
          await createKey(gw, {
            budgets: [{ max_limit: 0.000001, reset_duration: '1d' }],
            provider_configs: [ALL_OPENAI],
          })
        ).value
        await ask(caller(gw, limited), 'hi')
      } finally {
        await gw.close()
      }
      gw = await startHeimdall(cfg, { appDir })
      try {
        const vk = await getKey(gw, id)
        expectDollars(vk.budgets[0].current_usage, cost)
        expect(vk.rate_limit.request_current_usage).toBe(1)
        // The new process enforces what the old one counted.
        const c = caller(gw, limited)
        expectDecision(await refused(c, ask(c, 'hi')), 'budget_exceeded', 402)
        await ask(caller(gw, value), 'still fine')
      } finally {
        await gw.close()
      }
    } finally {
      await rm(appDir, { recursive: true, force: true })
    }
  })
})
