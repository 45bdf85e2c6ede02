import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { AxeBuilder } from '@axe-core/playwright'
import type { Locator } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ConfigFile } from '../src/core/schemas/index.js'
import { UI_DIST } from '../src/http/ui.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { launchChromium, SCREENSHOTS, type HeadlessChromium } from './helpers/chromium.js'
import { callJson, fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

/**
 * The routing-rules page (Chromium): a rule made with a CEL expression and a target, a bad
 * expression refused beside its field, the rule tester, the rule named in the log drawer, edit and
 * delete; and the model and provider limits page. No serious or critical axe finding.
 */
let openai: FakeServer
let groq: FakeServer
let gw: RunningHeimdall
let browser: HeadlessChromium

beforeAll(async () => {
  if (!existsSync(join(UI_DIST, 'index.html'))) throw new Error('the UI is not built: run `npm run build:ui`')
  openai = await startFakeOpenAI()
  groq = await startFakeOpenAI()
  gw = await startHeimdall({
    logs_store: { type: 'sqlite', flush_interval_ms: 10 } as ConfigFile['logs_store'],
    providers: { openai: fakeProvider(openai.url), groq: fakeProvider(groq.url) },
  } as ConfigFile)
  browser = await launchChromium()
}, 30_000)

afterAll(async () => {
  await browser?.close()
  await gw?.close()
  await openai?.close()
  await groq?.close()
})

async function violations(): Promise<string[]> {
  const result = await new AxeBuilder({ page: browser.page }).analyze()
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)
}

describe('routing rules and limits in the web UI', () => {
  it('adds, tests, shows in the logs, edits and deletes a routing rule', async () => {
    const { page } = browser
    const dialog = () => page.getByRole('dialog').last()
    await page.goto(`${gw.url}/routing-rules`)
    await page.getByText('No routing rule').waitFor()

    await page.getByRole('button', { name: 'Add rule' }).click()
    await dialog().getByLabel('Name', { exact: true }).fill('beta-to-groq')
    const cel = dialog().getByLabel('When (CEL expression)')
    await cel.fill('headers["x-tier"] ==')
    await dialog().getByLabel('Provider', { exact: true }).fill('groq')
    await dialog().getByLabel('Model', { exact: true }).fill('llama')
    await dialog().getByRole('button', { name: 'Add', exact: true }).click()
    // A broken expression is refused at write time, beside its field.
    await expect.poll(() => dialog().textContent()).toMatch(/position|column|expect/i)
    await cel.fill('headers["x-tier"] == "beta"')
    await dialog().getByRole('button', { name: 'Add', exact: true }).click()
    const row = page.getByTestId('rule-row')
    await row.first().waitFor()
    expect(await row.first().textContent()).toContain('groq/llama')

    const tester = page.getByTestId('rule-tester')
    await tester.getByLabel('Headers').fill('x-tier: beta')
    await tester.getByRole('button', { name: 'Test' }).click()
    await expect
      .poll(() => tester.getByTestId('rule-test-result').textContent())
      .toMatch(/beta-to-groq.*groq\/llama/)
    await tester.getByLabel('Headers').fill('')
    await tester.getByRole('button', { name: 'Test' }).click()
    await expect
      .poll(() => tester.getByTestId('rule-test-result').textContent())
      .toMatch(/No rule matches: it goes to openai\/gpt-4o-mini/)
    expect(openai.requests.length + groq.requests.length).toBe(0)
    expect(await violations()).toEqual([])
    await page.screenshot({ path: join(SCREENSHOTS, 'routing-rules.png'), fullPage: true })

    // A request the rule routes: its log entry names the rule.
    const sent = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-tier': 'beta' },
      body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    })
    expect(sent.status).toBe(200)
    expect(groq.requests).toHaveLength(1)
    await page.goto(`${gw.url}/logs`)
    await page.getByTestId('log-row').first().click()
    await expect.poll(() => page.getByTestId('log-detail').textContent()).toContain('beta-to-groq')

    await page.goto(`${gw.url}/routing-rules`)
    await row.first().getByRole('button', { name: 'Edit' }).click()
    await dialog().getByLabel('Priority').fill('7')
    await dialog().getByRole('button', { name: 'Save' }).click()
    await expect
      .poll(async () => (await callJson(gw.url, 'GET', '/api/routing/rules')).body.rules[0]?.priority)
      .toBe(7)
    await confirm(row.first(), 'Delete')
    await page.getByText('No routing rule').waitFor()
    expect((await callJson(gw.url, 'GET', '/api/routing/rules')).body.rules).toHaveLength(0)
  }, 90_000)

  it('adds a model limit and a provider limit with live usage bars', async () => {
    const { page } = browser
    const dialog = () => page.getByRole('dialog').last()
    await page.goto(`${gw.url}/model-limits`)
    await page.getByText('No model limit').waitFor()
    await page.getByRole('button', { name: 'Add model limit' }).click()
    await dialog().getByLabel('Model', { exact: true }).fill('gpt-4o-mini')
    await dialog().getByLabel('Max requests').fill('5')
    await dialog().getByRole('button', { name: 'Save' }).click()
    await page.getByTestId('model-limit-row').first().waitFor()
    const mc = (await callJson(gw.url, 'GET', '/api/governance/model-configs')).body.model_configs
    expect(mc).toHaveLength(1)
    expect(mc[0]).toMatchObject({
      model_name: 'gpt-4o-mini',
      scope: 'global',
      rate_limit: { request_max_limit: 5 },
    })

    await page.getByRole('button', { name: 'Limit a provider' }).click()
    await choose(dialog().getByLabel('Provider'), 'groq')
    await dialog().getByRole('button', { name: 'Add budget' }).click()
    await dialog().getByLabel('Budget (USD)').fill('25')
    await dialog().getByRole('button', { name: 'Save' }).click()
    await page.getByTestId('provider-limit-row').first().waitFor()
    expect(await page.getByTestId('provider-limit-row').first().textContent()).toContain('groq')
    const governed = (await callJson(gw.url, 'GET', '/api/governance/providers')).body.providers
    expect(governed[0]).toMatchObject({ provider: 'groq', budgets: [{ max_limit: 25 }] })
    expect(await violations()).toEqual([])
    await page.screenshot({ path: join(SCREENSHOTS, 'model-limits.png'), fullPage: true })
  }, 60_000)
})

async function choose(input: Locator, option: string) {
  await input.click()
  await browser.page.getByRole('option', { name: option, exact: true }).click()
}

async function confirm(scope: Locator, label: string) {
  await scope.getByRole('button', { name: label, exact: true }).click()
  await browser.page.getByRole('button', { name: `Yes, ${label.toLowerCase()}` }).click()
}
