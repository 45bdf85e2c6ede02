import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { computeCost } from '../src/governance/pricing/index.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { bifrostResponse, schemaErrors } from './helpers/bifrost-openapi.js'
import { callJson, fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

/**
 * POST /api/pricing/force-sync reloads prices now: two gateways share a config store but no change
 * bus, so an override created on one is priced by the other only once it syncs.
 */

let fake: FakeServer | undefined
const gateways: RunningHeimdall[] = []
let appDir: string | undefined
afterAll(async () => {
  for (const g of gateways) await g.close()
  await fake?.close()
  if (appDir) await rm(appDir, { recursive: true, force: true })
})

async function chatCost(gw: RunningHeimdall): Promise<{ cost: number; usage: any }> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'price me' }] }),
  })
  const body = (await res.json()) as any
  expect(res.status).toBe(200)
  return { cost: Number(res.headers.get('x-bifrost-cost-usd')), usage: body.usage }
}

describe('POST /api/pricing/force-sync', () => {
  it('makes a node price with the overrides stored by another', async () => {
    fake = await startFakeOpenAI()
    appDir = await mkdtemp(join(tmpdir(), 'heimdall-force-sync-'))
    const config = { providers: { openai: fakeProvider(fake.url) } }
    const a = await startHeimdall(config, { appDir })
    gateways.push(a)
    const b = await startHeimdall(config, { appDir })
    gateways.push(b)

    const created = await callJson(a.url, 'POST', '/api/governance/pricing-overrides', {
      name: 'negotiated',
      scope_kind: 'global',
      match_type: 'exact',
      pattern: 'gpt-4o-mini',
      pricing_patch: { input_cost_per_token: 0.001, output_cost_per_token: 0.002 },
    })
    expect(created.status).toBe(201)

    const stale = await chatCost(b)
    expect(stale.cost).toBeCloseTo(computeCost('openai', 'gpt-4o-mini', stale.usage).cost, 8)

    const synced = await callJson(b.url, 'POST', '/api/pricing/force-sync')
    expect(synced.status).toBe(200)
    expect(synced.body).toEqual({ status: 'success', message: 'pricing synced successfully' })
    const validate = bifrostResponse('paths/management/config.yaml', 'force-sync-pricing', 'post')
    expect(validate(synced.body), schemaErrors(validate.errors).join('\n')).toBe(true)

    const fresh = await chatCost(b)
    expect(fresh.cost).toBeCloseTo(
      fresh.usage.prompt_tokens * 0.001 + fresh.usage.completion_tokens * 0.002,
      8,
    )
  })
})
