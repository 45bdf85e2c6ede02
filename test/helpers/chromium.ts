import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type BrowserContext, chromium, type Page } from 'playwright-core'

/** Debian's Chromium, driven by playwright-core. */
export const CHROMIUM = '/usr/bin/chromium'
/** Where browser tests leave their screenshots. */
export const SCREENSHOTS = join(process.cwd(), 'test-results')

export interface HeadlessChromium {
  context: BrowserContext
  page: Page
  close(): Promise<void>
}

/** A headless Chromium with its own profile (cookies start empty), every wait bounded by `waitMs`. */
export async function launchChromium(waitMs = 15_000): Promise<HeadlessChromium> {
  await mkdir(SCREENSHOTS, { recursive: true })
  const userDataDir = await mkdtemp(join(tmpdir(), 'heimdall-chromium-'))
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    timeout: waitMs,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  })
  context.setDefaultTimeout(waitMs)
  context.setDefaultNavigationTimeout(waitMs)
  const page = context.pages()[0] ?? (await context.newPage())
  return {
    context,
    page,
    close: async () => {
      await context.close().catch(() => {})
      await rm(userDataDir, { recursive: true, force: true })
    },
  }
}
