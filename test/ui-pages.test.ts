import { existsSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { AxeBuilder } from '@axe-core/playwright'
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ConfigFile } from '../src/core/schemas/index.js'
import { UI_DIST } from '../src/http/ui.js'
import { fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'
import { EVERYTHING } from './helpers/mcp.js'

/**
 * The web UI pages added for issue 17, in a real Chromium: a streaming multi-turn Playground with
 * the cost and log entry of each answer; Logs with filters in the URL, deep links and a detail
 * panel whose long JSON scrolls in its own box; MCP tools' schemas, a "try this tool" form and
 * server editing; MCP tool logs; pricing overrides; a provider's advanced settings; the login
 * hint. Each page at desktop (1280) and phone (390) widths, light and dark, with no console error
 * and no serious or critical axe finding.
 */

const CHROMIUM = '/usr/bin/chromium'
const ADMIN = { username: 'admin', password: 'correct-horse-battery' }
const BASIC = `Basic ${Buffer.from(`${ADMIN.username}:${ADMIN.password}`).toString('base64')}`
/** The slow upstream's answer, streamed a word every STEP_MS. */
const WORDS = ['The', ' gateway', ' streams', ' every', ' token', ' as', ' it', ' arrives.']
const STEP_MS = 150

let upstream: Server
const upstreamBodies: {
  messages: { role: string; content: string }[]
  stream?: boolean
  temperature?: number
  max_tokens?: number
}[] = []
let gw: RunningHeimdall
let browser: Browser
let context: BrowserContext
let desk: Page
let phone: Page
let keyValue = ''
const problems: string[] = []

/**
 * An OpenAI-compatible upstream that streams its answer slowly, so that a test can see the first
 * words on screen before the last have been sent.
 */
async function startSlowUpstream(): Promise<string> {
  const read = async (req: IncomingMessage) => {
    let text = ''
    for await (const chunk of req) text += String(chunk)
    return text ? JSON.parse(text) : undefined
  }
  upstream = createServer((req, res) => {
    void (async () => {
      if (req.method === 'GET' && req.url?.endsWith('/models')) {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(
          JSON.stringify({
            object: 'list',
            data: ['gpt-4o-mini', 'gpt-4o'].map((id) => ({ id, object: 'model' })),
          }),
        )
        return
      }
      const body = await read(req)
      upstreamBodies.push(body)
      const usage = { prompt_tokens: 1200, completion_tokens: 8, total_tokens: 1208 }
      const base = { id: 'chatcmpl-slow', created: 1700000000, model: body.model }
      if (!body.stream) {
        res.writeHead(200, { 'content-type': 'application/json' })
        const message = { role: 'assistant', content: WORDS.join('') }
        res.end(
          JSON.stringify({
            ...base,
            object: 'chat.completion',
            choices: [{ index: 0, message, finish_reason: 'stop' }],
            usage,
          }),
        )
        return
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      const send = (o: unknown) =>
        res.write(
          `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', ...(o as object) })}\n\n`,
        )
      for (const word of WORDS) {
        send({ choices: [{ index: 0, delta: { content: word }, finish_reason: null }] })
        await new Promise((r) => setTimeout(r, STEP_MS))
      }
      send({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })
      if (body.stream_options?.include_usage) send({ choices: [], usage })
      res.end('data: [DONE]\n\n')
    })()
  })
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r))
  return `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`
}

async function admin<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${gw.url}${path}`, {
    method,
    headers: { authorization: BASIC, ...(body !== undefined && { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`)
  return (text ? JSON.parse(text) : {}) as T
}

function watch(page: Page): Page {
  page.setDefaultTimeout(8000)
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`${page.url()}: ${m.text()}`)
  })
  page.on('pageerror', (err) => problems.push(`${page.url()}: ${err.message}`))
  return page
}
const open = async (page: Page, path: string) => {
  await page.goto(`${gw.url}${path}`)
  await page.locator('h2').first().waitFor()
}
const dialog = (page: Page) => page.getByRole('dialog').last()

/** What the tests read of the browser's window, typed without the DOM library. */
interface Styles {
  getComputedStyle(element: unknown): { textAlign: string }
  document: { documentElement: { scrollWidth: number } }
  innerWidth: number
}

/** Axe's serious and critical findings on the page as it is now. */
async function violations(page: Page): Promise<string[]> {
  const result = await new AxeBuilder({ page }).analyze()
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map(
      (v) =>
        `${page.url()} ${v.id}: ${v.nodes.map((n) => `${n.target.join(' ')} (${n.failureSummary})`).join(', ')}`,
    )
}

/** Whether an element lies wholly inside the window, as a user would see it without scrolling. */
async function inView(page: Page, selector: ReturnType<Page['locator']>): Promise<boolean> {
  const box = await selector.boundingBox()
  const size = page.viewportSize()!
  return (
    !!box &&
    box.y >= 0 &&
    box.x >= 0 &&
    box.y + box.height <= size.height &&
    box.x + box.width <= size.width + 1
  )
}

/** The id of a request log entry; one is made when there is none yet. */
async function anyLogId(): Promise<string> {
  const first = async () => (await admin<{ logs: { id: string }[] }>('GET', '/api/logs?limit=1')).logs[0]?.id
  const id = await first()
  if (id) return id
  await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${keyValue}` },
    body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
  })
  for (let tries = 0; tries < 50 && !(await first()); tries++) await new Promise((r) => setTimeout(r, 100))
  return (await first())!
}

beforeAll(async () => {
  if (!existsSync(join(UI_DIST, 'index.html'))) throw new Error('the UI is not built: run `npm run build:ui`')
  const url = await startSlowUpstream()
  gw = await startHeimdall({
    auth_config: { is_enabled: true, admin_username: ADMIN.username, admin_password: ADMIN.password },
    logs_store: { type: 'sqlite', flush_interval_ms: 10 } as ConfigFile['logs_store'],
    providers: { openai: fakeProvider(url) },
  } as ConfigFile)
  await admin('POST', '/api/mcp/client', {
    name: 'everything',
    connection_type: 'stdio',
    stdio_config: { command: process.execPath, args: [EVERYTHING] },
    tools_to_execute: ['*'],
  })
  const created = await admin<{ virtual_key: { value: string } }>('POST', '/api/governance/virtual-keys', {
    name: 'pages-key',
    provider_configs: [{ provider: 'openai', allowed_models: ['*'], key_ids: ['*'] }],
    mcp_configs: [{ mcp_client_name: 'everything', tools_to_execute: ['*'] }],
  })
  keyValue = created.virtual_key.value
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
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  desk = watch(await context.newPage())
  await desk.goto(`${gw.url}/login`)
  await desk.getByLabel('Username').fill(ADMIN.username)
  await desk.getByLabel('Password').fill(ADMIN.password)
  await desk.getByRole('button', { name: 'Sign in' }).click()
  await desk.waitForURL('**/dashboard')
  phone = watch(await context.newPage())
  await phone.setViewportSize({ width: 390, height: 844 })
  // The MCP server's tools are listed once it is connected.
  for (let tries = 0; tries < 150; tries++) {
    const { clients } = await admin<{ clients: { state: string }[] }>('GET', '/api/mcp/clients')
    if (clients[0]?.state === 'connected') break
    await new Promise((r) => setTimeout(r, 100))
  }
}, 40_000)

afterAll(async () => {
  await browser?.close()
  await gw?.close()
  await new Promise((r) => upstream?.close(r))
})

describe('web UI pages', () => {
  it('Playground: streams a multi-turn chat with a system prompt and parameters, each answer with its latency, tokens, cost and log entry', async () => {
    await open(desk, '/playground')
    await desk.getByLabel('Virtual key').fill(keyValue)
    // The model list comes from /v1/models.
    const model = desk.getByRole('textbox', { name: 'Model' })
    await model.fill('gpt-4o')
    await desk.getByRole('option', { name: 'openai/gpt-4o-mini' }).click()
    await desk.getByLabel('System prompt').fill('Answer in one sentence.')
    await desk.getByLabel('Temperature').fill('0.3')
    await desk.getByLabel('Max tokens').fill('1000')
    await desk.getByLabel('Message').fill('How does streaming work?')
    await desk.getByRole('button', { name: 'Send' }).click()
    const answer = desk.getByTestId('playground-answer').first()
    // The first words show while the upstream is still sending the rest.
    await answer.getByTestId('answer-text').filter({ hasText: 'The gateway' }).waitFor()
    expect(await answer.getByText('answering…').count()).toBe(1)
    expect(await answer.getByTestId('answer-text').textContent()).not.toContain('arrives.')
    await answer.getByTestId('answer-text').filter({ hasText: 'as it arrives.' }).waitFor()
    const stats = answer.getByTestId('answer-stats')
    await expect
      .poll(() => stats.textContent())
      .toMatch(/^(\d+ ms|\d+\.\d s) \(first token \d+ ms\) · 1,208 tokens · \$0\.\d{4}$/)
    expect(upstreamBodies.at(-1)).toMatchObject({
      stream: true,
      temperature: 0.3,
      max_tokens: 1000,
      messages: [
        { role: 'system', content: 'Answer in one sentence.' },
        { role: 'user', content: 'How does streaming work?' },
      ],
    })

    // A second turn carries the first exchange.
    await desk.getByLabel('Message').fill('And again?')
    await desk.getByRole('button', { name: 'Send' }).click()
    await desk.getByTestId('playground-answer').nth(1).getByText('answering…').waitFor({ state: 'detached' })
    expect(upstreamBodies.at(-1)!.messages.map((m) => m.role)).toEqual([
      'system',
      'user',
      'assistant',
      'user',
    ])
    expect(upstreamBodies.at(-1)!.messages[2].content).toBe(WORDS.join(''))

    // The key stays for the tab's session; the answer links to its log entry.
    await desk.reload()
    await desk.getByRole('heading', { name: 'Playground' }).waitFor()
    expect(await desk.getByLabel('Virtual key').inputValue()).toBe(keyValue)
    await desk.getByLabel('Message').fill('One more')
    await desk.getByRole('button', { name: 'Send' }).click()
    await desk.getByRole('link', { name: 'Open its log entry' }).click()
    await desk.waitForURL(/\/logs\?entry=/)
    const id = new URL(desk.url()).searchParams.get('entry')!
    const detail = desk.getByTestId('log-detail')
    expect(await detail.getByTestId('field-Request id').textContent()).toBe(id)
    expect(await detail.getByTestId('field-Virtual key').textContent()).toBe('pages-key')
    expect(await detail.getByTestId('field-Status').textContent()).toBe('200 success')
    expect(await detail.getByTestId('field-Route').textContent()).toBe('/v1/chat/completions')
  }, 30_000)

  it('Logs: filters live in the URL, an entry has a link of its own, and long JSON scrolls inside its box on desktop and phone', async () => {
    // One request with a long prompt (about 40 KB), one without a key.
    const long = Array.from({ length: 800 }, (_, i) => `line ${i}: ${'x'.repeat(40)}`).join('\n')
    const send = (headers: Record<string, string>, content: string) =>
      fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content }] }),
      })
    const withKey = await send({ authorization: `Bearer ${keyValue}` }, long)
    expect(withKey.status).toBe(200)
    const longId = withKey.headers.get('x-request-id')!
    expect((await send({ authorization: BASIC }, 'no key')).status).toBe(200)
    const total = async (q: string) =>
      (await admin<{ pagination: { total_count: number } }>('GET', `/api/logs?${q}`)).pagination.total_count
    await expect.poll(() => total(`request_id=${longId}`), { timeout: 5000 }).toBe(1)
    const keyId = (
      await admin<{ virtual_keys: { id: string; name: string }[] }>('GET', '/api/governance/virtual-keys')
    ).virtual_keys.find((k) => k.name === 'pages-key')!.id

    await open(desk, '/logs')
    await desk.getByRole('textbox', { name: 'Virtual keys' }).click()
    await desk.getByRole('option', { name: 'pages-key' }).click()
    await desk.keyboard.press('Escape')
    await expect.poll(() => new URL(desk.url()).searchParams.get('virtual_key_ids')).toBe(keyId)
    const byKey = await total(`virtual_key_ids=${keyId}`)
    await expect
      .poll(() => desk.getByTestId('logs-total').textContent())
      .toBe(`${byKey} ${byKey === 1 ? 'entry' : 'entries'}`)
    expect(byKey).toBeLessThan(await total(''))
    expect(await desk.getByTestId('log-row').filter({ hasNotText: 'pages-key' }).count()).toBe(0)
    // Numbers read right-aligned.
    const align = await desk
      .getByTestId('log-row')
      .first()
      .locator('td')
      .nth(4)
      .evaluate((td) => (globalThis as unknown as Styles).getComputedStyle(td).textAlign)
    expect(align).toBe('right')
    // The filtered view survives a reload, and the time range narrows it to the last 15 minutes.
    await desk.reload()
    await expect
      .poll(() => desk.getByTestId('logs-total').textContent())
      .toBe(`${byKey} ${byKey === 1 ? 'entry' : 'entries'}`)
    await desk.getByRole('textbox', { name: 'Time range' }).click()
    await desk.getByRole('option', { name: 'Last 15 minutes' }).click()
    await expect.poll(() => new URL(desk.url()).searchParams.get('period')).toBe('15m')
    await expect
      .poll(() => desk.getByTestId('logs-total').textContent())
      .toBe(`${byKey} ${byKey === 1 ? 'entry' : 'entries'}`)

    for (const page of [desk, phone]) {
      await open(page, `/logs?entry=${longId}`)
      const detail = page.getByTestId('log-detail')
      await detail.waitFor()
      expect(await detail.getByTestId('field-Request id').textContent()).toBe(longId)
      const request = page.getByTestId('json-request')
      await request.getByText('line 0:', { exact: false }).first().waitFor()
      // The long body is a box of its own: the drawer keeps its close button, latency and cost in sight.
      expect((await request.boundingBox())!.height).toBeLessThanOrEqual(330)
      expect(await inView(page, page.getByRole('button', { name: 'Close' }))).toBe(true)
      expect(await inView(page, detail.getByTestId('field-Latency'))).toBe(true)
      expect(await inView(page, detail.getByTestId('field-Cost'))).toBe(true)
      const drawerWidth = (await page.locator('.mantine-Drawer-content').boundingBox())!.width
      expect((await request.boundingBox())!.width).toBeLessThanOrEqual(drawerWidth)
      expect(await detail.getByRole('button', { name: 'Copy request id' }).count()).toBe(1)
      await page.getByRole('button', { name: 'Close' }).click()
      await expect.poll(() => new URL(page.url()).searchParams.get('entry')).toBeNull()
    }
  }, 30_000)

  it('MCP: a tool shows its description and schema, runs from a form made from it, and lands in the MCP tool logs; a server can be edited', async () => {
    await open(desk, '/mcp-servers')
    const card = desk.getByTestId('mcp-everything')
    await card.getByRole('button', { name: /^Tool echo:/ }).click()
    const tool = dialog(desk)
    await tool.getByTestId('tool-description').filter({ hasText: 'Echoes back the input string' }).waitFor()
    await tool.getByTestId('json-input schema').getByText('"message"').first().waitFor()
    // Empty required field: named at once, nothing sent.
    await tool.getByLabel('Virtual key').fill(keyValue)
    await tool.getByRole('button', { name: 'Run' }).click()
    await tool.getByText('Required', { exact: true }).waitFor()
    await tool.getByLabel('message').fill('hello from the UI')
    await tool.getByRole('button', { name: 'Run' }).click()
    await tool.getByTestId('tool-result').getByText('Echo: hello from the UI').waitFor()
    await desk.keyboard.press('Escape')

    await card.getByRole('button', { name: 'Edit' }).click()
    const edit = dialog(desk)
    const tools = edit.getByRole('textbox', { name: 'Tools keys may call' })
    await tools.focus()
    await tools.press('Backspace') // the "*" that was there
    await tools.fill('echo')
    await tools.press('Enter')
    // Enter in a field submits the dialog.
    await edit.getByRole('textbox', { name: 'Tool timeout (seconds)' }).press('Enter')
    await edit.waitFor({ state: 'detached' })
    const stored = await admin<{ clients: { config: { tools_to_execute: string[] } }[] }>(
      'GET',
      '/api/mcp/clients',
    )
    expect(stored.clients[0].config.tools_to_execute).toEqual(['echo'])

    await open(desk, '/mcp-logs')
    const row = desk.getByTestId('mcp-log-row').filter({ hasText: 'echo' }).first()
    await row.getByText('pages-key').waitFor()
    await row.click()
    const detail = desk.getByTestId('mcp-log-detail')
    await detail.getByTestId('json-arguments').getByText('hello from the UI', { exact: false }).waitFor()
    await detail.getByTestId('json-result').getByText('Echo: hello from the UI', { exact: false }).waitFor()
  }, 30_000)

  it('pricing overrides are added from the UI and change the cost of the next request', async () => {
    await open(desk, '/pricing')
    await desk.getByText('No pricing override').waitFor()
    await desk.getByRole('button', { name: 'Add override' }).click()
    const d = dialog(desk)
    await d.getByLabel('Name').fill('negotiated')
    await d.getByLabel('Model').fill('gpt-4o-mini')
    await d.getByLabel('Input, $ per 1M tokens').fill('1000')
    await d.getByLabel('Output, $ per 1M tokens').fill('2000')
    await d.getByRole('button', { name: 'Add' }).click()
    const row = desk.getByTestId('pricing-row').filter({ hasText: 'negotiated' })
    await row.getByText('$1,000.00 / 1M').waitFor()
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${keyValue}` },
      body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'priced' }] }),
    })
    const id = res.headers.get('x-request-id')!
    // 1,200 prompt tokens at $1,000 per million and 8 at $2,000: $1.216.
    await expect
      .poll(
        async () =>
          (await admin<{ cost?: number }>('GET', `/api/logs/${id}`).catch(() => ({ cost: undefined }))).cost,
      )
      .toBeCloseTo(1.216, 6)
  }, 20_000)

  it("a provider's advanced page sets its queue, proxy, blocked models and aliases, and discovers its models", async () => {
    await open(desk, '/providers')
    await desk.getByRole('link', { name: 'Advanced' }).first().click()
    await desk.waitForURL('**/providers/openai/advanced')
    await desk.getByLabel('Concurrent requests').fill('5')
    await desk.getByLabel('Queue size').fill('1,200')
    await desk.getByRole('button', { name: 'Save' }).first().click()
    await expect
      .poll(async () => (await admin('GET', '/api/providers/openai')).concurrency_and_buffer_size)
      .toEqual({ concurrency: 5, buffer_size: 1200 })

    await desk.getByRole('textbox', { name: 'Proxy' }).click()
    await desk.getByRole('option', { name: 'HTTP(S) proxy' }).click()
    await desk.getByLabel('URL').fill('not a url')
    await desk.getByRole('button', { name: 'Save' }).nth(1).click()
    await desk.getByText('Not a URL: write it as http://host:port or socks5://host:port').waitFor()
    await desk.getByLabel('URL').fill('http://127.0.0.1:3128')
    await desk.getByRole('button', { name: 'Save' }).nth(1).click()
    await expect
      .poll(async () => (await admin('GET', '/api/providers/openai')).proxy_config?.url)
      .toBe('http://127.0.0.1:3128')
    // Back to no proxy of its own, so that requests reach the upstream directly.
    await desk.getByRole('textbox', { name: 'Proxy' }).click()
    await desk.getByRole('option', { name: /^None/ }).click()
    await desk.getByRole('button', { name: 'Save' }).nth(1).click()
    await expect
      .poll(async () => (await admin('GET', '/api/providers/openai')).proxy_config?.type)
      .toBe('none')

    await desk.getByRole('textbox', { name: 'Blocked models' }).fill('gpt-4o')
    await desk.getByRole('textbox', { name: 'Blocked models' }).press('Enter')
    await desk.getByRole('textbox', { name: 'Aliases' }).fill('fast = gpt-4o-mini')
    await desk.getByRole('button', { name: 'Save' }).nth(2).click()
    await expect
      .poll(async () => (await admin('GET', '/api/providers/openai')).keys[0])
      .toMatchObject({ blacklisted_models: ['gpt-4o'], aliases: { fast: 'gpt-4o-mini' } })

    await desk.getByRole('button', { name: 'Discover models' }).click()
    await desk.getByTestId('discovered-models').waitFor()
    expect(await desk.getByTestId('discovered-models').textContent()).toBe(
      '3 modelsopenai/gpt-4o-miniopenai/gpt-4oopenai/fast',
    )
  }, 40_000)

  it('the login page tells where the admin login and the setup token come from', async () => {
    const fresh = await browser.newContext({ viewport: { width: 390, height: 844 } })
    const page = watch(await fresh.newPage())
    try {
      await page.goto(`${gw.url}/login`)
      await page.getByRole('button', { name: 'Where does the admin login come from?' }).click()
      await page
        .getByTestId('login-hint')
        .getByText('HEIMDALL_ADMIN_USERNAME', { exact: false })
        .first()
        .waitFor()
      expect(await page.getByRole('button', { name: 'Copy command' }).count()).toBe(1)
      for (const scheme of ['light', 'dark'] as const) {
        await page.emulateMedia({ colorScheme: scheme })
        expect(await violations(page)).toEqual([])
      }
    } finally {
      await fresh.close()
    }
  }, 20_000)

  const PAGES = [
    '/playground',
    '/logs',
    '/logs?entry=',
    '/mcp-servers',
    '/mcp-logs',
    '/pricing',
    '/providers/openai/advanced',
    '/lookup',
  ]
  for (const [width, scheme] of [
    [1280, 'light'],
    [1280, 'dark'],
    [390, 'light'],
    [390, 'dark'],
  ] as const) {
    it(`every page of these at ${width} px, ${scheme}: no console error, nothing wider than the window, no serious accessibility finding`, async () => {
      const page = width === 390 ? phone : desk
      const logId = await anyLogId()
      await page.emulateMedia({ colorScheme: scheme })
      const found: string[] = []
      for (const path of PAGES) {
        await open(page, path.endsWith('=') ? `${path}${logId}` : path)
        if (path.endsWith('=')) await page.getByTestId('log-detail').waitFor()
        await page.locator('[data-testid="loading"]').first().waitFor({ state: 'detached' })
        // Nothing wider than the window: a phone scrolls tables in their own box, not the page.
        const overflow = await page.evaluate(() => {
          const w = globalThis as unknown as Styles
          return w.document.documentElement.scrollWidth - w.innerWidth
        })
        if (overflow > 1) found.push(`${path} at ${width}px is ${overflow}px too wide`)
        found.push(...(await violations(page)))
      }
      expect(found).toEqual([])
      expect(problems).toEqual([])
    }, 45_000)
  }
})
