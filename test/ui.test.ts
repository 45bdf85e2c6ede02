import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import Fastify from 'fastify'
import { type Browser, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ConfigFile } from '../src/core/schemas/index.js'
import { registerUi, UI_DIST } from '../src/http/ui.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

/**
 * The web UI end to end in a real Chromium: sign in, add a provider, create a team and a key with a
 * budget, spend it from the playground until the budget refuses, then find those requests in the
 * logs and the dashboard. Screenshots of each page go to docs/screenshots/.
 */

const CHROMIUM = '/usr/bin/chromium'
const SHOTS = join(import.meta.dirname, '..', 'docs', 'screenshots')
const ADMIN = { username: 'admin', password: 'correct-horse-battery' }
const PAGES = [
  'dashboard',
  'providers',
  'virtual-keys',
  'teams',
  'customers',
  'users',
  'access-profiles',
  'lookup',
  'mcp-servers',
  'logs',
  'playground',
  'settings',
]

let fake: FakeServer
let gw: RunningHeimdall
let browser: Browser
let page: Page
/** Console errors and uncaught exceptions, each with the page it happened on. */
const problems: string[] = []

beforeAll(async () => {
  if (!existsSync(join(UI_DIST, 'index.html'))) {
    throw new Error('the UI is not built: run `npm run build:ui` (npm ci does it) before this test')
  }
  await mkdir(SHOTS, { recursive: true })
  fake = await startFakeOpenAI()
  gw = await startHeimdall({
    auth_config: { is_enabled: true, admin_username: ADMIN.username, admin_password: ADMIN.password },
    logs_store: { type: 'sqlite', flush_interval_ms: 10 } as ConfigFile['logs_store'],
  } as ConfigFile)
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  })
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, colorScheme: 'light' })
  page = await context.newPage()
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`${page.url()}: ${m.text()}`)
  })
  page.on('pageerror', (err) => problems.push(`${page.url()}: ${err.message}`))
}, 30_000)

afterAll(async () => {
  await browser?.close()
  await gw?.close()
  await fake?.close()
})

/** Pages test/ui-manage.test.ts shows with data in them; its screenshots of them are the ones kept. */
const shots = new Set<string>([
  'providers',
  'customers',
  'users',
  'access-profiles',
  'mcp-servers',
  'settings',
])
const shot = (name: string) => {
  shots.add(name)
  return page.screenshot({
    path: join(SHOTS, `${name}.png`),
    style: '.mantine-Notifications-root { display: none !important }',
  })
}
const go = async (name: string) => {
  await page
    .getByRole('link', { name })
    .or(page.locator('.mantine-NavLink-root', { hasText: name }))
    .first()
    .click()
}

describe('web UI', () => {
  it('without a build, / says how to build it instead of a 404', async () => {
    const app = Fastify()
    registerUi(app, join(SHOTS, 'no-such-build'))
    const res = await app.inject({ method: 'GET', url: '/' })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toContain('text/html')
    expect(res.body).toContain('npm run build:ui')
    await app.close()
  })

  it('is served at / with long-cached assets and refuses the API without a login', async () => {
    const index = await fetch(`${gw.url}/`)
    expect(index.status).toBe(200)
    expect(index.headers.get('cache-control')).toBe('no-cache')
    expect(index.headers.get('content-security-policy')).toMatch(/script-src 'self';.*frame-ancestors 'none'/)
    expect(index.headers.get('x-frame-options')).toBe('DENY')
    expect(index.headers.get('x-content-type-options')).toBe('nosniff')
    const html = await index.text()
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1]
    expect(asset).toBeDefined()
    const js = await fetch(`${gw.url}${asset}`)
    expect(js.status).toBe(200)
    expect(js.headers.get('cache-control')).toContain('immutable')
    expect(js.headers.get('x-content-type-options')).toBe('nosniff')
    // A client route gets the page; an API path never does.
    expect((await fetch(`${gw.url}/virtual-keys`)).headers.get('content-type')).toContain('text/html')
    expect((await fetch(`${gw.url}/api/providers`)).status).toBe(401)
  })

  it('signs in, adds a provider, creates a team and a key, spends its budget, and finds the requests', async () => {
    await page.goto(`${gw.url}/`)
    await page.waitForURL('**/login')
    await shot('login')
    await page.getByLabel('Password').fill('wrong')
    await page.getByLabel('Username').fill(ADMIN.username)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/invalid|credentials|password/i)
    await page.getByLabel('Password').fill(ADMIN.password)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.waitForURL('**/dashboard')
    // The session lives in the HttpOnly cookie only: nothing a script could read.
    expect(await page.evaluate('Object.keys(localStorage)')).toEqual([])
    const cookies = await page.context().cookies()
    expect(cookies.find((c) => c.name === 'heimdall_session')).toMatchObject({
      httpOnly: true,
      sameSite: 'Lax',
    })

    // A provider pointing at the fake, tested with a one-shot request.
    await go('Providers & keys')
    await page.getByText('No provider yet').waitFor()
    await page.getByRole('button', { name: 'Add provider' }).click()
    await page.getByLabel('API key').fill('sk-test')
    await page.getByLabel('Base URL (optional)').fill(fake.url)
    await page.getByRole('button', { name: 'Add', exact: true }).click()
    const card = page.getByTestId('provider-openai')
    await card.waitFor()
    await card.getByRole('button', { name: 'Test' }).click()
    await expect.poll(() => card.getByTestId('provider-health').textContent()).toBe('healthy')

    // A team with a budget.
    await go('Teams')
    await page.getByRole('button', { name: 'Create team' }).click()
    await page.getByLabel('Name').fill('Research')
    await page.getByRole('button', { name: 'Add budget' }).click()
    await page.getByLabel('Budget (USD)').fill('10')
    await page.getByRole('button', { name: 'Create', exact: true }).click()
    await page.getByRole('cell', { name: 'Research' }).waitFor()

    // A key in that team with a budget that one request spends.
    await go('Virtual keys')
    await page.getByRole('button', { name: 'Create virtual key' }).click()
    await page.getByLabel('Name').fill('playground-key')
    await page.getByRole('textbox', { name: 'Team' }).click()
    await page.getByRole('option', { name: 'Research' }).click()
    await page.getByRole('button', { name: 'Add budget' }).click()
    await page.getByLabel('Budget (USD)').fill('0.000001')
    await page.getByRole('button', { name: 'Create', exact: true }).click()
    const value = (await page.getByTestId('vk-value').textContent())!.trim()
    expect(value).toMatch(/^sk-bf-/)
    await page.keyboard.press('Escape')

    // The playground, governed by the key, until the budget refuses.
    await go('Playground')
    await page.getByLabel('Virtual key').fill(value)
    let sent = 0
    while ((await page.getByTestId('playground-error').count()) === 0 && sent < 6) {
      await page.getByRole('button', { name: 'Send' }).click()
      sent++
      await expect.poll(() => page.locator('[data-testid^=playground-]').count()).toBe(sent + 1)
    }
    const refusal = await page.getByTestId('playground-error').first().textContent()
    expect(refusal).toMatch(/budget/i)
    const answered = await page.getByTestId('playground-answer').count()
    expect(answered).toBeGreaterThanOrEqual(1)
    await shot('playground')

    // The key's usage bar shows the spent budget.
    await go('Virtual keys')
    await page.getByText('playground-key').waitFor()
    await shot('virtual-keys')
    await go('Teams')
    await shot('teams')

    // The logs list the requests the key made; the drawer shows one of them.
    await go('Logs')
    const rows = page.getByTestId('log-row').filter({ hasText: 'playground-key' })
    await expect.poll(() => rows.count()).toBeGreaterThanOrEqual(answered)
    await shot('logs')
    await rows.filter({ hasText: 'success' }).first().click()
    await page.getByText('Tokens in / out').waitFor()
    await shot('log-detail')
    await page.keyboard.press('Escape')

    // The dashboard counts them (the provider test and every playground request went through).
    await go('Dashboard')
    await page.getByText('1 hour').click()
    await expect
      .poll(async () => Number(await page.getByTestId('stat-requests').textContent()))
      .toBeGreaterThanOrEqual(answered + 1)
    await page.getByTestId('breakdown').getByText('openai').waitFor()
    await shot('dashboard')
  }, 45_000)

  it('every page loads without a console error, in light and dark, and fits a phone', async () => {
    for (const name of PAGES) {
      await page.goto(`${gw.url}/${name}`)
      await page.locator('h2').first().waitFor()
      await page.waitForLoadState('networkidle')
      if (!shots.has(name)) await shot(name)
    }
    await page.emulateMedia({ colorScheme: 'dark' })
    await page.goto(`${gw.url}/dashboard`)
    await page.waitForLoadState('networkidle')
    await shot('dashboard-dark')
    await page.setViewportSize({ width: 390, height: 844 })
    await page.goto(`${gw.url}/virtual-keys`)
    await page.waitForLoadState('networkidle')
    await shot('phone-virtual-keys')
    // The browser logs the answers the test provoked as failed resources: the wrong password's 401
    // on the login page, the budget's 402 in the playground. Nothing else may show up.
    const expected = /\/login: .* 401 \(Unauthorized\)|\/playground: .* 402 \(Payment Required\)/
    expect(problems.filter((p) => !expected.test(p))).toEqual([])
  }, 30_000)
})
