import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RunningHeimdall, startHeimdall } from './helpers/heimdall.js'

const REDIRECT = 'http://127.0.0.1:54321/callback'
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuKcJ8Yf4KM'

/**
 * Dynamic client registration on Heimdall's authorization server is open to anyone, so it is
 * bounded: registrations per client IP and window (429 with Retry-After), the size of what one
 * registers (400 `invalid_redirect_uri` / `invalid_client_metadata`), and registrations never
 * used for an authorization are purged.
 */

async function register(gw: RunningHeimdall, metadata: unknown) {
  const res = await fetch(`${gw.url}/api/oauth/per-user/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof metadata === 'string' ? metadata : JSON.stringify(metadata),
  })
  return { status: res.status, headers: res.headers, body: (await res.json()) as any }
}

function authorize(gw: RunningHeimdall, clientId: string) {
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT,
    code_challenge: CHALLENGE,
    code_challenge_method: 'S256',
  })
  return fetch(`${gw.url}/api/oauth/per-user/authorize?${query}`, { redirect: 'manual' })
}

describe('registration rate per client IP', () => {
  let gw: RunningHeimdall
  beforeAll(async () => {
    gw = await startHeimdall({})
  })
  afterAll(() => gw?.close())

  it('allows 20 registrations in 10 minutes by default, then answers 429 with Retry-After', async () => {
    for (let i = 0; i < 20; i++) expect((await register(gw, { redirect_uris: [REDIRECT] })).status).toBe(201)
    const refused = await register(gw, { redirect_uris: [REDIRECT] })
    expect(refused.status).toBe(429)
    const retryAfter = Number(refused.headers.get('retry-after'))
    expect(retryAfter).toBeGreaterThan(500)
    expect(retryAfter).toBeLessThanOrEqual(600)
    expect(refused.body).toEqual({
      error: 'temporarily_unavailable',
      error_description: expect.stringContaining('too many client registrations'),
    })
  })
})

describe('registration limits set in config.json', () => {
  let gw: RunningHeimdall
  beforeAll(async () => {
    gw = await startHeimdall({
      client: {
        oauth2_server_config: {
          registration: { max_per_ip: 3, window_seconds: 1, unused_client_ttl_seconds: 1 },
        },
      },
    } as never)
  })
  afterAll(() => gw?.close())

  it('counts per window as configured', async () => {
    for (let i = 0; i < 3; i++) expect((await register(gw, { redirect_uris: [REDIRECT] })).status).toBe(201)
    const refused = await register(gw, { redirect_uris: [REDIRECT] })
    expect(refused.status).toBe(429)
    expect(refused.headers.get('retry-after')).toBe('1')
    await sleep(1100)
    expect((await register(gw, { redirect_uris: [REDIRECT] })).status).toBe(201)
  })

  it('purges registrations never used for an authorization, and keeps used ones', async () => {
    await sleep(1100)
    const unused = (await register(gw, { redirect_uris: [REDIRECT] })).body.client_id
    const used = (await register(gw, { redirect_uris: [REDIRECT] })).body.client_id
    expect((await authorize(gw, used)).status).toBe(302)
    await sleep(1100)
    // Any registration sweeps; the hourly timer does the same.
    expect((await register(gw, { redirect_uris: [REDIRECT] })).status).toBe(201)
    const gone = await authorize(gw, unused)
    expect(gone.status).toBe(400)
    expect(await gone.json()).toMatchObject({ error: 'invalid_client' })
    expect((await authorize(gw, used)).status).toBe(302)
  })
})

describe('registration sizes', () => {
  let gw: RunningHeimdall
  beforeAll(async () => {
    gw = await startHeimdall({
      client: { oauth2_server_config: { registration: { max_per_ip: 1000 } } },
    } as never)
  })
  afterAll(() => gw?.close())

  it('refuses more than 10 redirect URIs, or one longer than 2,000 characters', async () => {
    const many = await register(gw, {
      redirect_uris: Array.from({ length: 11 }, (_, i) => `http://127.0.0.1:${1000 + i}/cb`),
    })
    expect(many.status).toBe(400)
    expect(many.body).toEqual({
      error: 'invalid_redirect_uri',
      error_description: expect.stringContaining('at most 10 redirect_uris'),
    })
    const long = await register(gw, { redirect_uris: [`https://app.example/${'a'.repeat(2000)}`] })
    expect(long.status).toBe(400)
    expect(long.body.error).toBe('invalid_redirect_uri')
    expect((await register(gw, { redirect_uris: Array(10).fill(REDIRECT) })).status).toBe(201)
  })

  it('refuses a client_name longer than 200 characters', async () => {
    const r = await register(gw, { redirect_uris: [REDIRECT], client_name: 'n'.repeat(201) })
    expect(r.status).toBe(400)
    expect(r.body).toEqual({
      error: 'invalid_client_metadata',
      error_description: expect.stringContaining('client_name'),
    })
  })

  it('refuses a body over 16 KiB in OAuth’s error shape', async () => {
    const uris = Array.from({ length: 20_000 }, (_, i) => `http://127.0.0.1/${i}`)
    const r = await register(gw, { redirect_uris: uris })
    expect(r.status).toBe(400)
    expect(r.body).toEqual({
      error: 'invalid_client_metadata',
      error_description: expect.stringContaining('larger than 16384 bytes'),
    })
    const padded = await register(gw, { redirect_uris: [REDIRECT], software_statement: 'x'.repeat(17_000) })
    expect(padded.status).toBe(400)
    expect(padded.body.error).toBe('invalid_client_metadata')
  })
})
