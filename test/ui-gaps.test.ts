import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { AxeBuilder } from '@axe-core/playwright'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ConfigFile } from '../src/core/schemas/index.js'
import { UI_DIST } from '../src/http/ui.js'
import { completeLogin, startOAuthMcpServer, type OAuthMcpServer } from './fakes/oauth-mcp-server.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { launchChromium, type HeadlessChromium } from './helpers/chromium.js'
import { fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'
import { perUserOAuthClient } from './helpers/mcp.js'

/**
 * The last pages of issue 17 in a real Chromium, at desktop (1280) and phone (390) widths, with no
 * console error and no serious or critical axe finding: every key's per-user MCP sessions listed
 * for the admin (revoke, log in again), the logs filtered by status code and by route (kept in the
 * URL, a bad code said in words), and a virtual key's expiry and content-logging switch.
 */

const ADMIN = { username: 'admin', password: 'correct-horse-battery' }
const BASIC = `Basic ${Buffer.from(`${ADMIN.username}:${ADMIN.password}`).toString('base64')}`

let fake: FakeServer
let upstream: OAuthMcpServer
let gw: RunningHeimdall
let chrome: HeadlessChromium
let desk: Page
let phone: Page
let agentKey = ''
const problems: string[] = []

async function call(method: string, path: string, headers: Record<string, string> = {}, body?: unknown) {
  const res = await fetch(`${gw.url}${path}`, {
    method,
    headers: { ...headers, ...(body !== undefined && { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as any }
}
const admin = (method: string, path: string, body?: unknown) =>
  call(method, path, { authorization: BASIC }, body).then((r) => r.body)
const whoami = (vk: string) =>
  call(
    'POST',
    '/v1/mcp/tool/execute?format=chat',
    { authorization: `Bearer ${vk}` },
    { id: 'c1', type: 'function', function: { name: 'oidc-whoami', arguments: '{}' } },
  )
const chat = (path: string, model: string) =>
  fetch(`${gw.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${agentKey}` },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hello there' }] }),
  }).then((r) => r.status)

function watch(page: Page): Page {
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
  upstream = await startOAuthMcpServer()
  gw = await startHeimdall({
    auth_config: { is_enabled: true, admin_username: ADMIN.username, admin_password: ADMIN.password },
    logs_store: { type: 'sqlite', flush_interval_ms: 10 } as ConfigFile['logs_store'],
    providers: { openai: fakeProvider(fake.url) },
    mcp: { client_configs: [perUserOAuthClient('oidc', upstream.mcpUrl)] },
  } as ConfigFile)
  const callback = `${gw.url}/api/oauth/callback`
  const clients = (await admin('GET', '/api/mcp/clients')).clients
  const clientId = clients.find((c: any) => c.config.name === 'oidc').config.client_id
  const init = await admin('POST', `/api/mcp/client/${clientId}/initiate-verification`)
  expect((await completeLogin(init.authorize_url, 'admin', callback)).status).toBe(200)
  const created = await admin('POST', '/api/governance/virtual-keys', {
    name: 'agent-key',
    provider_configs: [{ provider: 'openai', allowed_models: ['*'], key_ids: ['*'] }],
    mcp_configs: [{ mcp_client_name: 'oidc', tools_to_execute: ['whoami'] }],
  })
  agentKey = created.virtual_key.value
  // The key logs in to the OAuth MCP server on its first tool call: it then holds a session.
  const link = (await whoami(agentKey)).body.extra_fields.mcp_auth_required.login_url
  const proof = { headers: { 'x-bf-vk': agentKey } }
  expect((await completeLogin(link, 'alice', callback, proof)).status).toBe(200)
  expect((await whoami(agentKey)).status).toBe(200)

  chrome = await launchChromium(8_000)
  desk = watch(chrome.page)
  await desk.setViewportSize({ width: 1280, height: 900 })
  await desk.goto(`${gw.url}/login`)
  await desk.getByLabel('Username').fill(ADMIN.username)
  await desk.getByLabel('Password').fill(ADMIN.password)
  await desk.getByRole('button', { name: 'Sign in' }).click()
  await desk.waitForURL('**/dashboard')
  phone = watch(await chrome.context.newPage())
  await phone.setViewportSize({ width: 390, height: 844 })
}, 40_000)

afterAll(async () => {
  await chrome?.close()
  await gw?.close()
  await fake?.close()
  await upstream?.close()
})

describe('web UI: MCP sessions, log filters by status and route, key expiry and content logging', () => {
  it("lists every key's MCP session for the admin, re-authorizes and revokes one", async () => {
    for (const page of [desk, phone]) {
      await open(page, '/mcp-servers')
      const row = page.getByTestId('mcp-session')
      await row.getByText('agent-key').waitFor()
      for (const text of ['Virtual key', 'oidc', 'active'])
        await row.getByText(text, { exact: true }).waitFor()
      expect(await violations(page)).toEqual([])
    }
    // Log in again: the API hands a new login link, opened in a tab.
    const answer = desk.waitForResponse((r) => r.url().endsWith('/reauth') && r.request().method() === 'POST')
    const tab = chrome.context.waitForEvent('page')
    await desk.getByTestId('mcp-session').getByRole('button', { name: 'Log in again' }).click()
    const reauth = await answer
    expect(reauth.status()).toBe(200)
    expect(((await reauth.json()) as { authorize_url: string }).authorize_url).toMatch(
      /\/api\/oauth\/upstream\/[^/]+\/start$/,
    )
    await (await tab).close()
    // Revoke: the key's next tool call asks for a login again.
    await desk.getByTestId('mcp-session').getByRole('button', { name: 'Revoke', exact: true }).click()
    await desk.getByRole('button', { name: 'Yes, revoke' }).click()
    await desk.getByText('No per-user session yet').waitFor()
    expect((await whoami(agentKey)).status).toBe(401)
    expect(problems).toEqual([])
  }, 30_000)

  it('filters the logs by status code and by route, kept in the URL, and says what is wrong with a bad code', async () => {
    expect(await chat('/v1/chat/completions', 'openai/gpt-4o-mini')).toBe(200)
    expect(await chat('/openai/v1/chat/completions', 'gpt-4o-mini')).toBe(200)
    fake.fail({ kind: 'status', status: 401 })
    const failed = await chat('/v1/chat/completions', 'openai/gpt-4o-mini')
    expect(failed).toBeGreaterThanOrEqual(400)
    for (let i = 0; i < 100 && (await admin('GET', '/api/logs?limit=5')).logs.length < 3; i++)
      await new Promise((r) => setTimeout(r, 50))

    await open(desk, '/logs')
    await expect.poll(() => desk.getByTestId('log-row').count()).toBe(3)
    await desk.getByRole('textbox', { name: 'Status codes' }).click()
    await desk.getByRole('option', { name: String(failed), exact: true }).click()
    await desk.keyboard.press('Escape')
    await expect.poll(() => new URL(desk.url()).searchParams.get('status_codes')).toBe(String(failed))
    await expect.poll(() => desk.getByTestId('log-row').count()).toBe(1)
    expect(await violations(desk)).toEqual([])

    // The route filter, from a shared link, on a phone: only the drop-in OpenAI request.
    const route = (await admin('GET', '/api/logs/filterdata')).routes.find((r: string) =>
      r.startsWith('/openai'),
    )
    expect(route).toBeDefined()
    await open(phone, `/logs?routes=${encodeURIComponent(route)}`)
    await expect.poll(() => phone.getByTestId('log-row').count()).toBe(1)
    await phone.getByText(route).first().waitFor()
    expect(await violations(phone)).toEqual([])

    // A code no status can have is refused by the API, and the page says so in words.
    await open(desk, '/logs?status_codes=999')
    await desk.getByText(/status codes from 100 to 599/).waitFor()
    expect(problems.filter((p) => !p.includes('400'))).toEqual([])
    problems.length = 0
  }, 30_000)

  it("sets a virtual key's expiry and turns its content logging off; the list shows both", async () => {
    await open(desk, '/virtual-keys')
    await desk.getByRole('button', { name: 'Create virtual key' }).click()
    const dialog = desk.getByRole('dialog').last()
    await dialog.getByLabel('Name').fill('expiring-key')
    await dialog.getByLabel('Expires').fill('2020-01-01T10:00')
    await dialog.getByRole('button', { name: 'Create' }).click()
    await dialog.getByText('The expiry must be in the future').waitFor()
    const year = new Date().getFullYear() + 1
    await dialog.getByLabel('Expires').fill(`${year}-06-30T18:30`)
    await dialog.getByText('The expiry must be in the future').waitFor({ state: 'detached' })
    await dialog.getByText('Log request and response content').click()
    expect(await dialog.getByLabel('Log request and response content').isChecked()).toBe(false)
    expect(await violations(desk)).toEqual([])
    await dialog.getByRole('button', { name: 'Create' }).click()
    await desk.getByTestId('vk-value').waitFor()
    await desk.keyboard.press('Escape')
    await desk.getByTestId('vk-value').waitFor({ state: 'detached' })

    const keys = (await admin('GET', '/api/governance/virtual-keys')).virtual_keys as any[]
    const saved = keys.find((k) => k.name === 'expiring-key')
    expect(saved.disable_content_logging).toBe(true)
    expect(new Date(saved.expires_at).getFullYear()).toBe(year)
    expect(new Date(saved.expires_at).getMonth()).toBe(5)

    for (const page of [desk, phone]) {
      if (page === phone) await open(phone, '/virtual-keys')
      const status = page.getByTestId('vk-expiring-key').getByTestId('vk-status')
      await status.getByText(new RegExp(`^expires .*${year}`)).waitFor()
      await status.getByText('content not logged').waitFor()
      expect(await violations(page)).toEqual([])
    }
    // The form shows them again when the key is edited (on a phone).
    await phone.getByTestId('vk-expiring-key').getByRole('button', { name: 'Edit' }).click()
    const edit = phone.getByRole('dialog').last()
    expect(await edit.getByLabel('Expires').inputValue()).toBe(`${year}-06-30T18:30`)
    expect(await edit.getByLabel('Log request and response content').isChecked()).toBe(false)
    expect(await violations(phone)).toEqual([])
    expect(problems).toEqual([])
  }, 30_000)
})
