import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { AxeBuilder } from '@axe-core/playwright'
import { type Browser, chromium, type Locator, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ConfigFile } from '../src/core/schemas/index.js'
import { UI_DIST } from '../src/http/ui.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { callJson, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

/**
 * The web UI's defects of a first look, each checked as a user meets it in a real Chromium, at
 * desktop (1280 px) and phone (390 px) widths, light and dark: switches that tell what the server
 * does, real sidebar links and page titles, a not-found page, every provider (clouds and custom
 * ones) set up from the UI, forms that name every problem at once, a dashboard that reads at a
 * glance, a first-run checklist, and no serious accessibility violation on any of these pages.
 */

const CHROMIUM = '/usr/bin/chromium'
const OWNED = [
  'dashboard',
  'providers',
  'virtual-keys',
  'teams',
  'customers',
  'users',
  'access-profiles',
  'settings',
]

let fake: FakeServer
let gw: RunningHeimdall
let browser: Browser
let desk: Page
let phone: Page
const problems: string[] = []

async function newPage(width: number, height: number): Promise<Page> {
  const context = await browser.newContext({ viewport: { width, height } })
  const page = await context.newPage()
  page.setDefaultTimeout(8000)
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`${page.url()}: ${m.text()}`)
  })
  page.on('pageerror', (err) => problems.push(`${page.url()}: ${err.message}`))
  return page
}

const api = async <T = any>(method: string, path: string, body?: unknown): Promise<T> => {
  const res = await callJson(gw.url, method, path, body)
  if (res.status >= 400) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body as T
}
const open = async (page: Page, path: string) => {
  await page.goto(`${gw.url}${path}`)
  await page.locator('h2').first().waitFor()
}
const dialog = (page: Page) => page.getByRole('dialog').last()
async function choose(page: Page, input: Locator, option: string) {
  await input.click()
  await page.getByRole('option', { name: option, exact: true }).click()
}
/** Axe's serious and critical findings on the page as it is now. */
async function violations(page: Page): Promise<string[]> {
  const result = await new AxeBuilder({ page }).analyze()
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${page.url()} ${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)
}

beforeAll(async () => {
  if (!existsSync(join(UI_DIST, 'index.html'))) throw new Error('the UI is not built: run `npm run build:ui`')
  fake = await startFakeOpenAI()
  gw = await startHeimdall({
    logs_store: { type: 'sqlite', flush_interval_ms: 10 } as ConfigFile['logs_store'],
  } as ConfigFile)
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
    ],
  })
  desk = await newPage(1280, 900)
  phone = await newPage(390, 844)
}, 30_000)

afterAll(async () => {
  await browser?.close()
  await gw?.close()
  await fake?.close()
})

describe('web UI defects', () => {
  it('first run: a checklist instead of Playground advice; no 0.0% without requests', async () => {
    await open(desk, '/dashboard')
    const checklist = desk.getByTestId('first-run')
    await checklist.getByText('0 of 3 done').waitFor()
    expect(await checklist.getByRole('link').allTextContents()).toEqual(['Add a provider'])
    await desk.getByTestId('stat-requests').filter({ hasText: '0' }).waitFor()
    expect(await desk.getByTestId('stat-success-rate').textContent()).toBe('—')
    expect(await desk.getByText(/send a request from the playground/i).count()).toBe(0)
  })

  it('sidebar items are links: Tab reaches them, Enter follows them; each page has a title; unknown pages say so', async () => {
    await open(desk, '/dashboard')
    const nav = desk.locator('nav a')
    const hrefs = await nav.evaluateAll((links) => links.map((a) => a.getAttribute('href')))
    expect(hrefs).toEqual(expect.arrayContaining(OWNED.map((p) => `/${p}`)))
    const link = desk.getByRole('link', { name: 'Model & provider limits' })
    const focused = () => desk.evaluate<string | null>("document.activeElement?.getAttribute('href') ?? null")
    await link.focus()
    expect(await focused()).toBe('/model-limits')
    await desk.keyboard.press('Tab')
    expect(await focused()).toBe('/teams')
    await desk.keyboard.press('Enter')
    await desk.waitForURL('**/teams')
    await desk.getByRole('heading', { name: 'Teams' }).waitFor()
    expect(await desk.title()).toBe('Teams · Heimdall')
    expect(await desk.getByRole('link', { name: 'Teams' }).getAttribute('aria-current')).toBe('page')

    await desk.goto(`${gw.url}/no-such-page`)
    await desk.getByRole('heading', { name: 'Page not found' }).waitFor()
    expect(await desk.title()).toBe('Page not found · Heimdall')
    await desk.getByRole('link', { name: 'Go to the dashboard' }).click()
    await desk.waitForURL('**/dashboard')
    // A browser asking for an unknown API path still gets the API's JSON 404.
    for (const path of [
      '/v1/no-such',
      '/api/no-such',
      '/mcp/no-such',
      '/anthropic/no-such',
      '/assets/x.js',
    ]) {
      const res = await fetch(`${gw.url}${path}`, { headers: { accept: 'text/html,*/*' } })
      expect([path, res.status, res.headers.get('content-type')]).toEqual([
        path,
        404,
        expect.stringMatching(/json/),
      ])
    }
  })

  it('Settings shows request logging on, as the server does it', async () => {
    const config = await api('GET', '/api/config')
    expect(config.client_config.enable_logging).toBe(true)
    await open(desk, '/settings')
    await expect.poll(() => desk.getByRole('switch', { name: 'Log requests' }).isChecked()).toBe(true)
    expect(
      await desk
        .getByRole('switch', { name: 'Require a virtual key on every inference request' })
        .isChecked(),
    ).toBe(false)
  })

  it('adds every provider: searchable, hidden key, every problem at once, Azure, Bedrock, Vertex and custom ones', async () => {
    await open(desk, '/providers')
    await desk.getByRole('button', { name: 'Add provider' }).click()
    const d = dialog(desk)
    const select = d.getByRole('textbox', { name: 'Provider' })
    await select.click()
    const offered = await desk.getByRole('option').allTextContents()
    expect(offered.length).toBeGreaterThanOrEqual(22)
    expect(offered).toEqual(
      expect.arrayContaining(['Azure OpenAI', 'AWS Bedrock', 'Google Vertex AI', 'xAI (Grok)']),
    )
    expect(offered.some((o) => /custom provider/i.test(o))).toBe(true)
    await select.fill('bedr')
    expect(await desk.getByRole('option').allTextContents()).toEqual(['AWS Bedrock'])
    await select.fill('OpenAI')
    await desk.getByRole('option', { name: 'OpenAI', exact: true }).click()

    // The key is hidden until shown; every problem shows at once, in words, and leaves when fixed.
    const key = d.getByLabel(/^API key( \*)?$/)
    expect(await key.getAttribute('type')).toBe('password')
    await d.locator('.mantine-PasswordInput-visibilityToggle').click()
    expect(await key.getAttribute('type')).toBe('text')
    await d.getByLabel('Base URL (optional)').fill('ftp://nowhere')
    await d.getByRole('button', { name: 'Add' }).click()
    await d.getByText('The base URL must start with https:// or http://').waitFor()
    await d.getByText('The API key is required (or env.VAR)').waitFor()
    await d.getByText('correct the 2 fields marked below').waitFor()
    await d.getByLabel('Base URL (optional)').fill('not a url')
    await d.getByText('The base URL must start with https:// or http://').waitFor()
    await key.fill('sk-test')
    expect(await d.getByText('The API key is required').count()).toBe(0)
    await d.getByLabel('Base URL (optional)').fill(fake.url)
    await d.getByRole('button', { name: 'Add' }).click()
    await d.waitFor({ state: 'hidden' })

    // Azure: endpoint, API version and deployments, as Bifrost's azure_key_config.
    await desk.getByRole('button', { name: 'Add provider' }).click()
    await choose(desk, dialog(desk).getByRole('textbox', { name: 'Provider' }), 'Azure OpenAI')
    await dialog(desk).getByRole('button', { name: 'Add' }).click()
    await dialog(desk)
      .getByText(/The endpoint is required/)
      .waitFor()
    await dialog(desk).getByText('Give the API key, or the Entra ID app below').waitFor()
    await dialog(desk)
      .getByLabel(/^API key( \*)?$/)
      .fill('az-secret-key-123456')
    await dialog(desk).getByLabel('Endpoint').fill('https://my-resource.openai.azure.com')
    await dialog(desk).getByLabel('API version').fill('2024-10-21')
    await dialog(desk).getByLabel('Deployments (optional)').fill('gpt-4o = gpt-4o-prod')
    await dialog(desk).getByRole('button', { name: 'Add' }).click()
    await dialog(desk).waitFor({ state: 'hidden' })
    const azure = await api('GET', '/api/providers/azure')
    expect(azure.keys[0].azure_key_config).toEqual({
      endpoint: 'https://my-resource.openai.azure.com',
      api_version: '2024-10-21',
      deployments: { 'gpt-4o': 'gpt-4o-prod' },
    })

    // Bedrock: AWS access keys, session token, region and ARN.
    await desk.getByRole('button', { name: 'Add provider' }).click()
    await choose(desk, dialog(desk).getByRole('textbox', { name: 'Provider' }), 'AWS Bedrock')
    await dialog(desk).getByLabel('Access key ID').fill('AKIAEXAMPLE')
    await dialog(desk).getByRole('button', { name: 'Add' }).click()
    await dialog(desk).getByText('The secret key goes with the access key').waitFor()
    await dialog(desk).getByLabel('Secret access key', { exact: true }).fill('aws-secret-value-0001')
    await dialog(desk).getByLabel('Session token (optional)', { exact: true }).fill('env.AWS_SESSION_TOKEN')
    await dialog(desk).getByLabel('Region').fill('eu-west-1')
    await dialog(desk)
      .getByLabel('ARN (optional)')
      .fill('arn:aws:bedrock:eu-west-1:123456789012:inference-profile')
    await dialog(desk).getByRole('button', { name: 'Add' }).click()
    await dialog(desk).waitFor({ state: 'hidden' })
    const bedrock = (await api('GET', '/api/providers/bedrock')).keys[0].bedrock_key_config
    expect(bedrock).toMatchObject({ access_key: expect.stringMatching(/^AKIA/), region: 'eu-west-1' })
    expect(bedrock.secret_key).not.toBe('aws-secret-value-0001')

    // Vertex: service account JSON, project and region.
    await desk.getByRole('button', { name: 'Add provider' }).click()
    await choose(desk, dialog(desk).getByRole('textbox', { name: 'Provider' }), 'Google Vertex AI')
    expect(
      await dialog(desk)
        .getByLabel(/^API key( \*)?$/)
        .count(),
    ).toBe(0)
    await dialog(desk)
      .getByLabel(/Service account JSON/)
      .fill('{ not json')
    await dialog(desk).getByRole('button', { name: 'Add' }).click()
    await dialog(desk)
      .getByText(/This is not JSON/)
      .waitFor()
    await dialog(desk).getByText('The project ID is required').waitFor()
    await dialog(desk)
      .getByText(/The region is required/)
      .waitFor()
    await dialog(desk)
      .getByLabel(/Service account JSON/)
      .fill('env.GOOGLE_SERVICE_ACCOUNT_JSON')
    await dialog(desk).getByLabel('Project ID').fill('my-project')
    await dialog(desk).getByLabel('Region (location)').fill('us-central1')
    await dialog(desk).getByRole('button', { name: 'Add' }).click()
    await dialog(desk).waitFor({ state: 'hidden' })
    expect((await api('GET', '/api/providers/vertex')).keys[0].vertex_key_config).toEqual({
      auth_credentials: 'env.GOOGLE_SERVICE_ACCOUNT_JSON',
      project_id: 'my-project',
      region: 'us-central1',
    })

    // A custom provider, submitted with Enter.
    await desk.getByRole('button', { name: 'Add provider' }).click()
    await choose(
      desk,
      dialog(desk).getByRole('textbox', { name: 'Provider' }),
      'Custom provider (an endpoint of your own)…',
    )
    await dialog(desk).getByLabel('Provider name').fill('my-llm')
    await choose(
      desk,
      dialog(desk).getByRole('textbox', { name: 'It speaks the API of' }),
      'OpenAI-compatible',
    )
    await dialog(desk)
      .getByLabel(/^API key( \*)?$/)
      .fill('sk-custom')
    await dialog(desk).getByLabel('Base URL').fill(fake.url)
    await dialog(desk).getByLabel('Base URL').press('Enter')
    await dialog(desk).waitFor({ state: 'hidden' })
    expect((await api('GET', '/api/providers/my-llm')).custom_provider_config).toMatchObject({
      base_provider_type: 'openai',
    })
    await desk.getByTestId('provider-my-llm').getByText('custom, openai API').waitFor()
  }, 60_000)

  it('key forms: limits refused with words, owner choices explained, rotation confirmed, owners and teams shown', async () => {
    const customer = (await api('POST', '/api/governance/customers', { name: 'Acme' })).customer
    await api('POST', '/api/governance/teams', { name: 'Platform', customer_id: customer.id })
    // The table waits for its answer with a loading state.
    let release = () => {}
    const held = new Promise<void>((r) => (release = r))
    await desk.route('**/api/governance/virtual-keys', async (route) => {
      await held
      await route.continue()
    })
    await desk.goto(`${gw.url}/virtual-keys`)
    await desk.getByTestId('loading').getByText('Loading virtual keys…').waitFor()
    release()
    await desk.getByText('No virtual key yet').waitFor()
    await desk.unroute('**/api/governance/virtual-keys')

    await desk.getByRole('button', { name: 'Create virtual key' }).click()
    const d = dialog(desk)
    await d.getByLabel('Name').fill('billing')
    await d.getByRole('button', { name: 'Add budget' }).click()
    await d.getByLabel('Budget (USD)').fill('-5')
    await d.getByLabel('Max requests').fill('-3')
    await d.getByRole('button', { name: 'Create' }).click()
    await d.getByText('A budget cannot be negative').waitFor()
    await d.getByText('The request limit must be a whole number of at least 1').waitFor()
    // Nothing was changed behind the user's back, and the first problem is in view.
    expect(await d.getByLabel('Budget (USD)').inputValue()).toBe('-5')
    expect(await d.getByLabel('Budget (USD)').isVisible()).toBe(true)
    await d.getByLabel('Budget (USD)').fill('25')
    await d.getByLabel('Max requests').fill('100')
    expect(await d.getByText('cannot be negative').count()).toBe(0)

    await choose(desk, d.getByRole('textbox', { name: 'Team' }), 'Platform')
    await choose(desk, d.getByRole('textbox', { name: 'Customer' }), 'Acme')
    await d
      .getByTestId('vk-owner-note')
      .getByText(/team Platform was cleared/)
      .waitFor()
    await choose(desk, d.getByRole('textbox', { name: 'Team' }), 'Platform')
    await d.getByLabel('Name').press('Enter')
    await d.getByText('Copy your key now').waitFor()
    const value = (await desk.getByTestId('vk-value').textContent())!.trim()
    await desk.keyboard.press('Escape')
    const row = desk.getByTestId('vk-billing')
    await row.getByTestId('vk-owner').getByText('team Platform').waitFor()

    // Rotation says what happens to the old value, and nothing happens without a yes.
    await row.getByRole('button', { name: 'Rotate' }).click()
    await desk.getByText(/The old value stops working at once/).waitFor()
    await desk.getByRole('button', { name: 'Cancel' }).click()
    const chat = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${value}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    })
    expect(chat.status).toBe(200)

    // A key an access profile issued names its user and profile.
    const profile = await api('POST', '/api/access-profiles', {
      name: 'Engineers',
      provider_configs: [{ provider_name: 'openai', all_models_allowed: true }],
    })
    const user = await api('POST', '/api/users', { name: 'Ada', email: 'ada@example.com' })
    await api('POST', `/api/users/${user.user?.id ?? user.id}/access-profiles`, {
      profile_id: profile.access_profile?.id ?? profile.id,
    })
    await desk.reload()
    await desk.getByTestId('vk-owner').getByText('ada@example.com (profile Engineers)').waitFor()

    await open(desk, '/customers')
    await desk.getByTestId('customer-Acme').getByTestId('customer-teams').getByText('Platform').waitFor()
  }, 45_000)

  it('dashboard: names, legends, straight lines, units, dates on a 24 h axis, one money format', async () => {
    await open(desk, '/dashboard')
    await desk.getByTestId('stat-success-rate').filter({ hasText: '%' }).waitFor()
    expect(await desk.getByTestId('first-run').count()).toBe(0)
    await desk.getByText('24 hours').click()
    const ticks = desk.locator('.recharts-cartesian-axis-tick-value')
    await expect
      .poll(async () => (await ticks.allTextContents()).join(' '))
      .toMatch(/[A-Z][a-z]{2} \d{1,2}, \d\d:\d\d/)
    expect(await desk.locator('.recharts-legend-wrapper').count()).toBe(4)
    const paths = await desk
      .locator('.recharts-line-curve')
      .evaluateAll((p) => p.map((e) => e.getAttribute('d') ?? ''))
    expect(paths.length).toBeGreaterThan(0)
    expect(paths.filter((d) => /[CcSsQq]/.test(d))).toEqual([])
    expect(await desk.getByText('Latency percentiles').count()).toBe(1)
    const cost = await desk.getByTestId('stat-cost').textContent()
    expect(cost).toMatch(/^(\$\d{1,3}(,\d{3})*\.\d{2}|\$0\.\d{4}|<\$0\.0001)$/)
    const dimension = (name: string) =>
      desk.locator('.mantine-SegmentedControl-label', { hasText: new RegExp(`^${name}$`) })
    await dimension('Key').click()
    await desk.getByTestId('breakdown').getByText('billing').waitFor()
    await dimension('Team').click()
    await desk.getByTestId('breakdown').getByText('Platform').waitFor()
    expect(await desk.getByTestId('breakdown').textContent()).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-/)
    // Counts tick on whole numbers (no 0.5 request); costs are written out ($0.00001, never $1e-5)
    // and every tick label stays inside its card.
    const yTicks = (chart: string) =>
      desk.getByTestId(`chart-${chart}`).locator('.recharts-yAxis .recharts-cartesian-axis-tick-value')
    for (const chart of ['requests', 'tokens']) {
      const labels = await yTicks(chart).allTextContents()
      expect(labels.length).toBeGreaterThan(1)
      expect(labels.filter((l) => !/^\d+$|^\d+(\.\d)?[KMBT]$/.test(l))).toEqual([])
    }
    const costLabels = await yTicks('cost').allTextContents()
    expect(costLabels.length).toBeGreaterThan(1)
    expect(costLabels.filter((l) => !/^\$\d+(\.\d+)?[KMBT]?$/.test(l))).toEqual([])
    const card = (await desk.getByTestId('chart-cost').boundingBox())!
    for (const tick of await yTicks('cost').all()) {
      expect((await tick.boundingBox())!.x).toBeGreaterThanOrEqual(card.x)
    }
  })

  it('at 390 px: the key dialog fills the screen, fields keep their width, tables hint at scrolling, toasts leave the toggle free', async () => {
    for (const scheme of ['light', 'dark'] as const) {
      await phone.emulateMedia({ colorScheme: scheme })
      await open(phone, '/virtual-keys')
      await phone.getByTestId('scroll-hint').waitFor()
      await phone.getByTestId('vk-billing').getByRole('button', { name: 'Edit' }).click()
      const d = dialog(phone)
      await d.getByLabel('Name').waitFor()
      const box = (await d.boundingBox())!
      expect(box.width).toBeGreaterThanOrEqual(380)
      const row = d.getByTestId('vk-provider-row').first()
      const select = (await row.getByRole('textbox', { name: 'Provider' }).boundingBox())!
      expect(select.width).toBeGreaterThan(300)
      const trash = (await row.getByRole('button', { name: /Remove/ }).boundingBox())!
      expect(trash.x + trash.width).toBeLessThanOrEqual(390)
      // No label is squeezed narrower than its words.
      const squeezed = await d
        .locator('label')
        .evaluateAll((ls) => ls.filter((l) => l.scrollWidth > l.clientWidth + 1).map((l) => l.textContent))
      expect(squeezed).toEqual([])
      await phone.keyboard.press('Escape')
      await d.waitFor({ state: 'hidden' })
    }
    // The provider dialog fills the phone too; its problems show there; the sidebar opens links.
    await open(phone, '/providers')
    await phone.getByRole('button', { name: 'Add provider' }).click()
    expect((await dialog(phone).boundingBox())!.width).toBeGreaterThanOrEqual(380)
    await dialog(phone)
      .getByLabel(/^Base URL/)
      .fill('ftp://nowhere')
    await dialog(phone)
      .getByLabel(/^Base URL/)
      .press('Enter')
    await dialog(phone).getByText('The base URL must start with https:// or http://').waitFor()
    await dialog(phone).getByRole('button', { name: 'Close' }).click()
    await dialog(phone).waitFor({ state: 'hidden' })
    await phone.getByRole('button', { name: 'Menu' }).click()
    await phone.getByRole('link', { name: 'Settings' }).click()
    await phone.waitForURL('**/settings')
    expect(await phone.title()).toBe('Settings · Heimdall')
    await expect.poll(() => phone.getByRole('switch', { name: 'Log requests' }).isChecked()).toBe(true)

    await open(phone, '/virtual-keys')
    await phone.getByTestId('vk-billing').getByRole('button', { name: 'Deactivate' }).click()
    const toast = phone.locator('.mantine-Notification-root').first()
    await toast.waitFor()
    const t = (await toast.boundingBox())!
    const toggle = (await phone.getByRole('button', { name: 'Toggle color scheme' }).boundingBox())!
    const overlaps =
      t.x < toggle.x + toggle.width &&
      toggle.x < t.x + t.width &&
      t.y < toggle.y + toggle.height &&
      toggle.y < t.y + t.height
    expect(overlaps).toBe(false)
  })

  it('no serious accessibility violation and no console error on these pages, light and dark, desktop and phone', async () => {
    const found: string[] = []
    for (const scheme of ['light', 'dark'] as const) {
      await desk.emulateMedia({ colorScheme: scheme })
      for (const name of [...OWNED, 'no-such-page']) {
        await open(desk, `/${name}`)
        await desk.locator('[data-testid="loading"]').waitFor({ state: 'detached' })
        found.push(...(await violations(desk)))
      }
    }
    await open(desk, '/providers')
    await desk.getByRole('button', { name: 'Add provider' }).click()
    await dialog(desk)
      .getByLabel(/^API key( \*)?$/)
      .waitFor()
    found.push(...(await violations(desk)))
    await phone.emulateMedia({ colorScheme: 'dark' })
    for (const name of OWNED) await open(phone, `/${name}`)
    found.push(...(await violations(phone)))
    expect(found).toEqual([])
    expect(problems).toEqual([])
  }, 150_000)
})
