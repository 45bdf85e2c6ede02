import { existsSync } from 'node:fs'
import { join } from 'node:path'
import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { UI_DIST } from '../src/http/ui.js'
import { startFakeBagOfWordsEmbeddings } from './fakes/bag-of-words-embeddings.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { launchChromium, SCREENSHOTS, type HeadlessChromium } from './helpers/chromium.js'
import { callJson, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'
import { cacheConfig, debugOf, untilHit } from './helpers/semantic-cache.js'

/**
 * The response cache in the web UI (Chromium): hits carry a badge in the logs and can be filtered
 * on, the dashboard shows the hit rate and the money saved, and Settings changes the cache plugin.
 */
let chat: FakeServer
let embed: FakeServer
let gw: RunningHeimdall
let browser: HeadlessChromium

beforeAll(async () => {
  if (!existsSync(join(UI_DIST, 'index.html')))
    throw new Error('the UI is not built: run `npm run build:ui` (npm ci does it) before this test')
  chat = await startFakeOpenAI()
  embed = await startFakeBagOfWordsEmbeddings()
  gw = await startHeimdall(cacheConfig(chat.url, embed.url))
  browser = await launchChromium()
}, 30_000)

afterAll(async () => {
  await browser?.close()
  await gw?.close()
  await chat?.close()
  await embed?.close()
})

describe('the response cache in the web UI', () => {
  it('logs badge and filter, dashboard hit rate and savings, settings saved through /api/plugins', async () => {
    const openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-unused', maxRetries: 0 })
    const ask = () =>
      openai.chat.completions.create(
        { model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'Which is the tallest tree?' }] },
        { headers: { 'x-bf-cache-key': 'ui', 'x-bf-cache-type': 'direct' } },
      )
    await ask()
    expect(debugOf(await untilHit(ask, debugOf))?.cache_hit).toBe(true)
    const { page } = browser

    await page.goto(`${gw.url}/logs`)
    await page.getByTestId('cache-hit').first().waitFor()
    expect(await page.getByTestId('cache-hit').first().textContent()).toBe('cache direct')
    // Only hits, from a link that keeps the filter.
    await page.goto(`${gw.url}/logs?cache_hit_types=direct`)
    await page.getByTestId('logs-total').waitFor()
    const rows = await page.getByTestId('log-row').count()
    expect(rows).toBeGreaterThan(0)
    expect(await page.getByTestId('cache-hit').count()).toBe(rows)
    await page.getByTestId('log-row').first().click()
    await expect
      .poll(() => page.getByTestId('log-detail').textContent())
      .toMatch(/direct hit, saved <?\$0\.\d+/)
    await page.screenshot({ path: join(SCREENSHOTS, 'cache-logs.png') })

    await page.goto(`${gw.url}/dashboard`)
    await expect.poll(() => page.getByTestId('stat-cache-hit-rate').textContent()).toMatch(/^\d+(\.\d)?%$/)
    expect(await page.getByTestId('stat-cache-hit-rate').textContent()).not.toBe('0.0%')
    // gpt-4o is priced: the hit saved what the provider call cost.
    expect(await page.getByTestId('stat-saved-by-cache').textContent()).toMatch(/^(\$|<\$)0\.\d+$/)

    await page.goto(`${gw.url}/settings`)
    const section = page.getByTestId('cache-settings')
    await expect.poll(() => section.getByLabel('Cache answers (semantic_cache)').isChecked()).toBe(true)
    await section.getByLabel('Time to live').fill('10m')
    await section.getByLabel('Default cache key').fill('everyone')
    await section.getByRole('button', { name: 'Save cache settings' }).click()
    await expect
      .poll(async () => (await callJson(gw.url, 'GET', '/api/plugins/semantic_cache')).body.config)
      .toMatchObject({ ttl: '10m', default_cache_key: 'everyone', embedding_model: 'bag-of-words' })
    // A bad value is refused with the server's reason beside the form, and nothing changes.
    await section.getByLabel('Time to live').fill('soon')
    await section.getByRole('button', { name: 'Save cache settings' }).click()
    await expect.poll(() => section.textContent()).toMatch(/Not saved: .*ttl/)
    expect((await callJson(gw.url, 'GET', '/api/plugins/semantic_cache')).body.config.ttl).toBe('10m')
    await page.screenshot({ path: join(SCREENSHOTS, 'cache-settings.png'), fullPage: true })
  }, 60_000)
})
