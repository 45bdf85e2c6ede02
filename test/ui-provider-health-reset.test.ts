import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { UI_DIST } from '../src/http/ui.js'
import { handle as openAIAnswer } from './fakes/openai.js'
import { FakeServer } from './fakes/server.js'
import { launchChromium, SCREENSHOTS, type HeadlessChromium } from './helpers/chromium.js'
import { callJson, fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

/**
 * The providers page in a real Chromium: a provider whose key failed shows its open circuit beside
 * the health badge, and "Reset circuits" closes it (seen through the API and by the next request
 * reaching the key again).
 */

let failing = true
let fake: FakeServer
let gw: RunningHeimdall
let browser: HeadlessChromium

beforeAll(async () => {
  if (!existsSync(join(UI_DIST, 'index.html')))
    throw new Error('the UI is not built: run `npm run build:ui` (npm ci does it) before this test')
  fake = await new FakeServer(async (ctx) => {
    if (failing) {
      ctx.res.writeHead(500, { 'content-type': 'application/json' })
      ctx.res.end(JSON.stringify({ error: { message: 'injected 500', type: 'server_error' } }))
      return
    }
    openAIAnswer(ctx)
  }).start()
  gw = await startHeimdall({
    providers: {
      openai: fakeProvider(
        fake.url,
        { circuit_breaker: { enabled: true, failure_threshold: 1, open_seconds: 300 } },
        [{ id: 'main', name: 'main', value: 'sk-main', models: ['*'] }],
      ),
    },
  })
  browser = await launchChromium()
}, 30_000)

afterAll(async () => {
  await browser?.close()
  await gw?.close()
  await fake?.close()
})

const chat = () =>
  callJson(gw.url, 'POST', '/v1/chat/completions', {
    model: 'openai/gpt-4o-mini',
    messages: [{ role: 'user', content: 'hi' }],
  })

describe('provider health on the providers page', () => {
  it('shows an open circuit and closes it with Reset circuits', async () => {
    expect((await chat()).status).toBe(500)
    const refused = await chat()
    expect(refused.status).toBe(503)
    expect(refused.body.error.message).toContain('circuit open')
    failing = false

    const { page } = browser
    await page.goto(`${gw.url}/providers`)
    const card = page.getByTestId('provider-openai')
    await expect.poll(() => card.getByTestId('provider-live-health').textContent()).toBe('1 circuit open')
    await page.screenshot({ path: join(SCREENSHOTS, 'provider-health-open.png') })
    await card.getByRole('button', { name: 'Reset circuits' }).click()
    await expect.poll(() => card.getByRole('button', { name: 'Reset circuits' }).count()).toBe(0)

    const health = await callJson(gw.url, 'GET', '/api/provider-health?provider=openai')
    expect(health.body.providers[0].targets[0]).toMatchObject({ key_id: 'main', circuit: 'closed' })
    const before = fake.requests.length
    expect((await chat()).status).toBe(200)
    expect(fake.requests.length).toBe(before + 1)
  })
})
