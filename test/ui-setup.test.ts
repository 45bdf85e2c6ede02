import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Browser, chromium } from 'playwright-core'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHeimdall, type Heimdall } from '../src/http/app.js'
import { UI_DIST } from '../src/http/ui.js'

/**
 * The web UI of a gateway configured to listen beyond loopback without an admin login: it asks
 * for the setup token and the admin login, then the dashboard opens with the session cookie alone.
 */

const CHROMIUM = '/usr/bin/chromium'
const TOKEN = 'setup-token-for-the-ui-test'
const PASSWORD = 'a long admin password'

let browser: Browser
let heimdall: Heimdall
let url: string
let appDir: string

beforeAll(async () => {
  if (!existsSync(join(UI_DIST, 'index.html')))
    throw new Error('the UI is not built: run `npm run build:ui` (npm ci does it) before this test')
  appDir = await mkdtemp(join(tmpdir(), 'heimdall-ui-setup-'))
  heimdall = await createHeimdall({
    appDir,
    config: {},
    // Configured as if bound to every interface; the test listens on loopback only.
    host: '0.0.0.0',
    port: 0,
    logger: pino({ level: 'silent' }),
    env: { ...process.env, HEIMDALL_SETUP_TOKEN: TOKEN },
  })
  await heimdall.app.listen({ host: '127.0.0.1', port: 0 })
  const address = heimdall.app.server.address()
  url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
  })
}, 30_000)

afterAll(async () => {
  await browser?.close()
  await heimdall?.close()
  if (appDir) await rm(appDir, { recursive: true, force: true })
})

describe('web UI of a gateway that is not set up', () => {
  it('asks for the setup token and the admin login, then opens the dashboard', async () => {
    const page = await browser.newPage()
    page.setDefaultTimeout(8000)
    const problems: string[] = []
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text())
    })
    await page.goto(`${url}/`)
    await page.waitForURL('**/login')
    await page.getByLabel(/^Setup token/).fill('not the token')
    await page.getByLabel('Username').fill('admin')
    await page.getByLabel('Password').fill(PASSWORD)
    await page.getByRole('button', { name: 'Set up' }).click()
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/invalid setup token/i)
    await page.getByLabel(/^Setup token/).fill(TOKEN)
    await page.getByRole('button', { name: 'Set up' }).click()
    await page.waitForURL('**/dashboard')
    expect(await page.evaluate('Object.keys(localStorage)')).toEqual([])
    const status = await page.evaluate(async () => (await fetch('/api/providers')).status)
    expect(status).toBe(200)
    // The wrong token's 401 is the only failed resource the browser reports.
    expect(problems.filter((p) => !/401 \(Unauthorized\)/.test(p))).toEqual([])
    await page.close()
  }, 30_000)
})
