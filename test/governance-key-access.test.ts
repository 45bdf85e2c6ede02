import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import OpenAI from 'openai'
import { describe, expect, it } from 'vitest'
import {
  ALL_OPENAI,
  api,
  ask,
  caller,
  createKey,
  enforcementServers,
  expectDecision,
  getKey,
  MODEL,
  ok,
  PROVIDER_AUTH,
  refused,
  SETUPS,
  type Caller,
} from './helpers/governance-enforcement.js'

/**
 * Which requests a virtual key lets through, from the official OpenAI SDK: its providers, models and provider
 * keys; inactive, expired, unknown, rotated and deleted keys; every header Bifrost reads the key from. Run on
 * every store and counter backend a deployment can choose.
 */

describe.each(SETUPS)('governance enforcement on $name', (s) => {
  const { start, server } = enforcementServers(s)

  it('lets a key reach only its providers, models and provider keys', async () => {
    const { gw, fake: f } = await server()
    const attempt = async (providerConfigs: unknown[], model = MODEL) => {
      const { value } = await createKey(gw, { provider_configs: providerConfigs })
      const c = caller(gw, value)
      return refused(
        c,
        c.client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] }),
      )
    }

    const noProvider = await attempt([{ provider: 'anthropic', allowed_models: ['*'], key_ids: ['*'] }])
    expect(noProvider.err).toBeInstanceOf(OpenAI.PermissionDeniedError)
    expectDecision(noProvider, 'provider_blocked', 403)
    expectDecision(await attempt([]), 'provider_blocked', 403)

    const otherModel = await attempt([{ provider: 'openai', allowed_models: ['gpt-4o'], key_ids: ['*'] }])
    expectDecision(otherModel, 'model_blocked', 403)
    expect(otherModel.body.error.message).toContain('gpt-4o-mini')

    const blacklisted = await attempt([
      { provider: 'openai', allowed_models: ['*'], blacklisted_models: ['gpt-4o-mini'], key_ids: ['*'] },
    ])
    expectDecision(blacklisted, 'model_blocked', 403)
    expectDecision(
      await attempt([{ provider: 'openai', allowed_models: ['regex:gpt-4o(-mini)?'], key_ids: [] }]),
      'provider_blocked',
      403,
    )
    expect(f.requests).toHaveLength(0)

    // The allow-list admits what it names, and a regex entry its pattern.
    const { value } = await createKey(gw, {
      provider_configs: [{ provider: 'openai', allowed_models: ['regex:gpt-4o(-mini)?'], key_ids: ['*'] }],
    })
    const { data } = await ask(caller(gw, value), 'allowed')
    expect(data.choices[0].message.content).toBe('Echo: allowed')
  })

  it('sends every request of a key restricted to one provider key with that key', async () => {
    const { gw, fake: f } = await server()
    const { value } = await createKey(gw, {
      provider_configs: [{ provider: 'openai', allowed_models: ['*'], key_ids: ['openai-key-b'] }],
    })
    const c = caller(gw, value)
    for (let i = 0; i < 8; i++) await ask(c, `restricted ${i}`)
    expect(f.requests).toHaveLength(8)
    expect(new Set(f.requests.map((r) => r.headers.authorization))).toEqual(new Set(['Bearer sk-provider-b']))
  })

  it('blocks an inactive key and an expired one with 403', async () => {
    const { gw, fake: f } = await server()
    const inactive = await createKey(gw, { is_active: false, provider_configs: [ALL_OPENAI] })
    const c1 = caller(gw, inactive.value)
    const blocked = await refused(c1, ask(c1))
    expect(blocked.err).toBeInstanceOf(OpenAI.PermissionDeniedError)
    expectDecision(blocked, 'virtual_key_blocked', 403)

    const expiresAt = new Date(Date.now() + 1500).toISOString()
    const expiring = await createKey(gw, { expires_at: expiresAt, provider_configs: [ALL_OPENAI] })
    const c2 = caller(gw, expiring.value)
    await ask(c2, 'before expiry')
    // An expiry in the past cannot be set through the API.
    const past = await api(gw, 'PUT', `/api/governance/virtual-keys/${expiring.id}`, {
      expires_at: '2001-01-01T00:00:00Z',
    })
    expect(past.status).toBe(400)
    await sleep(Math.max(0, Date.parse(expiresAt) - Date.now()) + 50)
    const expired = await refused(c2, ask(c2, 'after expiry'))
    expectDecision(expired, 'virtual_key_blocked', 403)
    expect(expired.body.error.message).toMatch(/expired/)
    expect(f.requests).toHaveLength(1)
  })

  it('answers 401 virtual_key_not_found to an unknown key, and lets a request without one through ungoverned', async () => {
    const { gw, fake: f } = await server()
    const c = caller(gw, `sk-bf-${randomBytes(24).toString('hex')}`)
    const unknown = await refused(c, ask(c))
    expect(unknown.err).toBeInstanceOf(OpenAI.AuthenticationError)
    expectDecision(unknown, 'virtual_key_not_found', 401)
    expect(f.requests).toHaveLength(0)

    // Without enforce_auth_on_inference, a provider-looking key is no virtual key: no governance applies.
    const { data, response } = await ask(caller(gw, 'sk-not-a-virtual-key'), 'ungoverned')
    expect(data.choices[0].message.content).toBe('Echo: ungoverned')
    expect(response.headers.get('x-ratelimit-limit-requests')).toBeNull()
    expect(PROVIDER_AUTH.has(String(f.requests[0].headers.authorization))).toBe(true)
  })

  it('with enforce_auth_on_inference, refuses a request without a key with 401 and serves one with a key', async () => {
    const gw = await start({ enforce_auth_on_inference: true })
    const none = caller(gw, 'sk-not-a-virtual-key')
    const required = await refused(none, ask(none))
    expect(required.err).toBeInstanceOf(OpenAI.AuthenticationError)
    expectDecision(required, 'virtual_key_required', 401)
    const { value } = await createKey(gw, { provider_configs: [ALL_OPENAI] })
    const { data } = await ask(caller(gw, value), 'with a key')
    expect(data.choices[0].message.content).toBe('Echo: with a key')
  })

  it('accepts the key in every header Bifrost reads, and never passes it on to the provider', async () => {
    const { gw, fake: f } = await server()
    const { id, value } = await createKey(gw, {
      rate_limit: { request_max_limit: 100, request_reset_duration: '1h' },
      provider_configs: [ALL_OPENAI],
    })
    const ways: [string, Caller][] = [
      ['x-bf-vk', caller(gw, 'sk-unused', { 'x-bf-vk': value })],
      ['authorization', caller(gw, value)],
      ['x-api-key', caller(gw, 'sk-unused', { 'x-api-key': value })],
      ['api-key', caller(gw, 'sk-unused', { 'api-key': value })],
      ['x-goog-api-key', caller(gw, 'sk-unused', { 'x-goog-api-key': value })],
    ]
    for (const [header, c] of ways) {
      const { data, response } = await ask(c, `via ${header}`)
      expect(data.choices[0].message.content, header).toBe(`Echo: via ${header}`)
      // Governed: the key's own request limit answers.
      expect(response.headers.get('x-ratelimit-limit-requests'), header).toBe('100')
    }
    expect((await getKey(gw, id)).rate_limit.request_current_usage).toBe(5)
    expect(f.requests).toHaveLength(5)
    for (const r of f.requests) {
      expect(PROVIDER_AUTH.has(String(r.headers.authorization))).toBe(true)
      expect(r.headers['x-bf-vk']).toBeUndefined()
      expect(JSON.stringify(r.headers)).not.toContain(value)
    }
  })

  it('refuses the very next request once a key is deactivated or deleted', async () => {
    const { gw } = await server()
    const a = await createKey(gw, { provider_configs: [ALL_OPENAI] })
    const ca = caller(gw, a.value)
    await ask(ca)
    await ok(gw, 'PUT', `/api/governance/virtual-keys/${a.id}`, { is_active: false })
    expectDecision(await refused(ca, ask(ca)), 'virtual_key_blocked', 403)
    await ok(gw, 'PUT', `/api/governance/virtual-keys/${a.id}`, { is_active: true })
    await ask(ca)

    const b = await createKey(gw, { provider_configs: [ALL_OPENAI] })
    const cb = caller(gw, b.value)
    await ask(cb)
    await ok(gw, 'DELETE', `/api/governance/virtual-keys/${b.id}`)
    expectDecision(await refused(cb, ask(cb)), 'virtual_key_not_found', 401)
  })

  it('rotating a key retires the old value at once and the new one works', async () => {
    const { gw } = await server()
    const { id, value } = await createKey(gw, { provider_configs: [ALL_OPENAI] })
    await ask(caller(gw, value))
    const rotated = (await ok(gw, 'POST', `/api/governance/virtual-keys/${id}/rotate`)).virtual_key
    expect(rotated.value).toMatch(/^sk-bf-/)
    expect(rotated.value).not.toBe(value)
    const old = caller(gw, value)
    expectDecision(await refused(old, ask(old)), 'virtual_key_not_found', 401)
    const { data } = await ask(caller(gw, rotated.value), 'rotated')
    expect(data.choices[0].message.content).toBe('Echo: rotated')
  })
})
