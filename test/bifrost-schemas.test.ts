import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bifrostResponse, schemaErrors } from './helpers/bifrost-openapi.js'
import { callJson, fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

/**
 * Management answers, for data created through the API, checked against the response schemas of
 * Bifrost's OpenAPI description: a Bifrost client (its UI, its SDKs, typed wrappers) must be able
 * to read them.
 */

let h: RunningHeimdall

const api = (method: string, path: string, body?: unknown) => callJson(h.url, method, path, body)

function expectValid(file: string, entry: string, body: unknown): void {
  const validate = bifrostResponse(file, entry, 'get')
  const ok = validate(body)
  expect(schemaErrors(validate.errors), JSON.stringify(body, null, 1)).toEqual([])
  expect(ok).toBe(true)
}

const GOV = 'paths/management/governance.yaml'
const PROFILES = 'paths/management/accessprofiles.yaml'

let vkId: string
let teamId: string
let customerId: string
let profileId: number

beforeAll(async () => {
  h = await startHeimdall({ providers: { openai: fakeProvider('http://127.0.0.1:9') } })
  const customer = await api('POST', '/api/governance/customers', {
    name: 'acme',
    budget: { max_limit: 100, reset_duration: '1M' },
  })
  expect(customer.status).toBe(200)
  customerId = customer.body.customer.id
  const team = await api('POST', '/api/governance/teams', {
    name: 'platform',
    customer_id: customerId,
    budget: { max_limit: 50, reset_duration: '1w' },
  })
  expect(team.status).toBe(200)
  teamId = team.body.team.id
  const vk = await api('POST', '/api/governance/virtual-keys', {
    name: 'ci',
    team_id: teamId,
    provider_configs: [{ provider: 'openai', allowed_models: ['*'], weight: 1 }],
    budget: { max_limit: 10, reset_duration: '1d' },
    // Requests only: no token limit.
    rate_limit: { request_max_limit: 100, request_reset_duration: '1h' },
  })
  expect(vk.status, JSON.stringify(vk.body)).toBe(200)
  vkId = vk.body.virtual_key.id
  const profile = await api('POST', '/api/access-profiles', {
    name: 'everything',
    provider_configs: [
      { provider_name: 'openai', allowed_models: ['*'] },
      { provider_name: 'anthropic', allowed_models: ['claude-sonnet-4'] },
    ],
    budgets: [{ max_limit: 20, reset_duration: '1M' }],
    rate_limit: { token_max_limit: 1000, token_reset_duration: '1h' },
  })
  expect(profile.status, JSON.stringify(profile.body)).toBe(201)
  profileId = profile.body.access_profile.id
})

afterAll(async () => {
  await h?.close()
})

describe("management answers match Bifrost's OpenAPI response schemas", () => {
  it('virtual keys: list and one, with a budget and a request-only rate limit', async () => {
    const list = await api('GET', '/api/governance/virtual-keys')
    expectValid(GOV, 'virtual-keys', list.body)
    const one = await api('GET', `/api/governance/virtual-keys/${vkId}`)
    expectValid(GOV, 'virtual-keys-by-id', one.body)
    const vk = one.body.virtual_key
    expect(vk.config_hash).toEqual(expect.any(String))
    // No token limit: the token fields are left out rather than sent as null.
    expect(vk.rate_limit).toMatchObject({ request_max_limit: 100, request_reset_duration: '1h' })
    expect(vk.rate_limit).not.toHaveProperty('token_max_limit')
    expect(vk.rate_limit).not.toHaveProperty('token_reset_duration')
  })

  it('the quota a virtual key reads for itself', async () => {
    const rotated = await api('POST', `/api/governance/virtual-keys/${vkId}/rotate`)
    const res = await fetch(`${h.url}/api/governance/virtual-keys/quota`, {
      headers: { 'x-bf-vk': rotated.body.virtual_key.value },
    })
    expect(res.status).toBe(200)
    expectValid(GOV, 'virtual-keys-quota', await res.json())
  })

  it('teams: list and one', async () => {
    expectValid(GOV, 'teams', (await api('GET', '/api/governance/teams')).body)
    const one = await api('GET', `/api/governance/teams/${teamId}`)
    expectValid(GOV, 'teams-by-id', one.body)
    expect(one.body.team.config_hash).toEqual(expect.any(String))
  })

  it('customers: list and one', async () => {
    expectValid(GOV, 'customers', (await api('GET', '/api/governance/customers')).body)
    const one = await api('GET', `/api/governance/customers/${customerId}`)
    expectValid(GOV, 'customers-by-id', one.body)
    expect(one.body.customer.config_hash).toEqual(expect.any(String))
  })

  it('budgets and rate limits', async () => {
    expectValid(GOV, 'budgets', (await api('GET', '/api/governance/budgets')).body)
    const limits = await api('GET', '/api/governance/rate-limits')
    expectValid(GOV, 'rate-limits', limits.body)
    for (const limit of limits.body.rate_limits) expect(limit).not.toHaveProperty('token_max_limit', null)
  })

  it('access profiles: list and one; ["*"] reads back as all models allowed', async () => {
    expectValid(PROFILES, 'access-profiles', (await api('GET', '/api/access-profiles')).body)
    const one = await api('GET', `/api/access-profiles/${profileId}`)
    expectValid(PROFILES, 'access-profiles-by-id', one.body)
    const [openai, anthropic] = one.body.access_profile.provider_configs
    expect(openai).toMatchObject({ provider_name: 'openai', all_models_allowed: true })
    expect(anthropic).toMatchObject({ provider_name: 'anthropic', all_models_allowed: false })
    // No provider-level rate limit: left out, not null.
    expect(openai).not.toHaveProperty('rate_limit')
    expect(one.body.access_profile.rate_limit).not.toHaveProperty('request_reset_duration')
  })

  it('the client settings and the providers', async () => {
    const config = 'paths/management/config.yaml'
    expectValid(config, 'config', (await api('GET', '/api/config')).body)
    const providers = 'paths/management/providers.yaml'
    expectValid(providers, 'providers', (await api('GET', '/api/providers')).body)
    expectValid(providers, 'providers-by-name', (await api('GET', '/api/providers/openai')).body)
  })

  it('GET /api/version answers a JSON string', async () => {
    const res = await fetch(`${h.url}/api/version`)
    expect(res.headers.get('content-type')).toMatch(/^application\/json/)
    const version: unknown = await res.json()
    expect(version).toEqual(expect.any(String))
    const validate = bifrostResponse('paths/management/config.yaml', 'version', 'get')
    expect(validate(version)).toBe(true)
  })
})
