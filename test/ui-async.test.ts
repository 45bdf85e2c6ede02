import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { UI_DIST } from '../src/http/ui.js'
import { verifyWebhook } from '../src/webhooks/index.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { launchChromium, SCREENSHOTS, type HeadlessChromium } from './helpers/chromium.js'
import {
  callJson,
  createVirtualKey,
  fakeProvider,
  startHeimdall,
  type RunningHeimdall,
} from './helpers/heimdall.js'
import { WebhookReceiver } from './helpers/webhook-receiver.js'

/**
 * Async jobs and webhooks in the web UI (Chromium): an endpoint added from the Webhooks page shows
 * its secret once, and a job that names it is delivered signed with that secret; the job is on the
 * Async jobs page with its key, model and status; a failed delivery is sent again from the page.
 */
let fake: FakeServer
let gw: RunningHeimdall
let browser: HeadlessChromium
let receiver: WebhookReceiver

beforeAll(async () => {
  if (!existsSync(join(UI_DIST, 'index.html')))
    throw new Error('the UI is not built: run `npm run build:ui` (npm ci does it) before this test')
  fake = await startFakeOpenAI()
  receiver = await new WebhookReceiver().start()
  gw = await startHeimdall({
    providers: { openai: fakeProvider(fake.url) },
    client: { webhook_config: { max_attempts: 1 } } as never,
  })
  browser = await launchChromium()
}, 30_000)

afterAll(async () => {
  await browser?.close()
  await gw?.close()
  await receiver?.close()
  await fake?.close()
})

describe('async jobs and webhooks in the web UI', () => {
  it('adds an endpoint, shows its secret once, lists the job and its delivery, redelivers a failed one', async () => {
    const { page } = browser
    await page.goto(`${gw.url}/webhooks`)
    await page.getByRole('button', { name: 'Add endpoint' }).click()
    const dialog = page.getByRole('dialog')
    await dialog.getByLabel('Name').fill('ops')
    await dialog.getByLabel('URL').fill(`${receiver.url}/hook`)
    await dialog.getByLabel('Allow loopback and private addresses').check()
    await dialog.getByRole('button', { name: 'Add' }).click()
    const secret = (await page.getByTestId('webhook-secret').textContent())?.trim() ?? ''
    expect(secret).toMatch(/^whsec_/)
    await page.getByTestId('endpoint-ops').waitFor()

    // A job that names the endpoint: the receiver fails the first delivery (one attempt only).
    const key = await createVirtualKey(gw.url, { name: 'ui-jobs' })
    receiver.statuses = [500]
    const res = await fetch(`${gw.url}/v1/async/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-bf-vk': key.value, 'x-bf-async-webhook': 'ops' },
      body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'later' }] }),
    })
    const job = (await res.json()) as { id: string }
    await expect.poll(() => receiver.received.length, { timeout: 10_000 }).toBe(1)
    await expect
      .poll(
        async () => (await callJson(gw.url, 'GET', '/api/webhooks/deliveries')).body.deliveries[0]?.status,
      )
      .toBe('failed')

    await page.goto(`${gw.url}/async-jobs`)
    const row = page.getByTestId(`job-${job.id}`)
    await row.waitFor()
    const text = await row.textContent()
    expect(text).toContain('completed')
    expect(text).toContain('ui-jobs')
    expect(text).toContain('openai/gpt-4o-mini')
    // Its cost, as the synchronous route charged it.
    const listed = (await callJson(gw.url, 'GET', '/api/async/jobs')).body.jobs[0]
    expect(listed).toMatchObject({ id: job.id, status: 'completed', virtual_key_name: 'ui-jobs' })
    expect(listed.cost).toBeGreaterThan(0)
    expect(listed.duration_ms).toBeGreaterThanOrEqual(0)

    await page.goto(`${gw.url}/webhooks`)
    const delivery = page.locator('[data-testid^="delivery-"]').first()
    await delivery.getByText('failed').waitFor()
    await page.screenshot({ path: join(SCREENSHOTS, 'webhooks.png') })
    await delivery.getByRole('button', { name: 'Redeliver' }).click()
    await delivery.getByText('delivered').waitFor()
    expect(receiver.received).toHaveLength(2)
    const got = receiver.received[1]
    expect(JSON.parse(got.body).data.id).toBe(job.id)
    expect(verifyWebhook(secret, got.headers, got.body)).toBe(true)
    // The secret is in no list the page reads.
    expect(JSON.stringify((await callJson(gw.url, 'GET', '/api/webhooks')).body)).not.toContain(secret)
  })
})
