/**
 * The MCP conformance suite's client under test (`conformance client --command "tsx <this>"`):
 * Heimdall, started in this process with the suite's server URL as a per_user_oauth HTTP MCP
 * client, driven only through its API as an admin and a virtual key would: the admin's
 * verification login, then a key's tool call, the login link it answers with, and the call again.
 * The suite's authorization servers approve at once, so each login is a chain of redirects that
 * is followed here. Exits 0 when a tool call succeeded.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { callJson, startHeimdall } from '../helpers/heimdall.js'
import { perUserOAuthClient } from '../helpers/mcp.js'

const serverUrl = process.argv.at(-1) ?? ''
/** `client_id`/`client_secret` of scenarios with a pre-registered client. */
const context = JSON.parse(process.env.MCP_CONFORMANCE_CONTEXT ?? '{}') as {
  client_id?: string
  client_secret?: string
}
/** Logins a key makes at most for one call (the first, and step-ups). */
const MAX_LOGINS = 3

const log = (...parts: unknown[]) => console.error('[heimdall-auth-client]', ...parts)

/** Follows a login's redirects (authorization server, then Heimdall's callback) and answers the last page. */
async function followLogin(start: string, init: RequestInit): Promise<Response> {
  let cookie: string | undefined
  let url = new URL(start)
  let res = await fetch(url, { ...init, redirect: 'manual' })
  for (let hop = 0; hop < 10 && res.status >= 300 && res.status < 400; hop++) {
    cookie ??= res.headers.get('set-cookie')?.split(';')[0]
    await res.body?.cancel()
    url = new URL(res.headers.get('location') ?? '', url)
    res = await fetch(url, { headers: cookie ? { cookie } : {}, redirect: 'manual' })
  }
  return res
}

async function main(): Promise<number> {
  const appDir = await mkdtemp(join(tmpdir(), 'heimdall-conformance-client-'))
  const oauth_config = context.client_id
    ? { client_id: context.client_id, client_secret: context.client_secret }
    : undefined
  const gw = await startHeimdall(
    {
      mcp: {
        client_configs: [
          { ...perUserOAuthClient('conf', serverUrl), ...(oauth_config ? { oauth_config } : {}) },
        ],
      },
    },
    { appDir },
  )
  try {
    const api = (method: string, path: string, body?: unknown, vk?: string) =>
      callJson(gw.url, method, path, body, vk)
    const clientId: string = (await api('GET', '/api/mcp/clients')).body.clients[0].config.client_id

    const init = await api('POST', `/api/mcp/client/${clientId}/initiate-verification`)
    if (init.status !== 200) {
      log('verification refused:', init.status, JSON.stringify(init.body))
      return 1
    }
    const verified = await followLogin(init.body.authorize_url, {})
    log('verification:', verified.status, (await verified.text()).slice(0, 300))
    const client = (await api('GET', '/api/mcp/clients')).body.clients[0]
    const tool: string | undefined = client.tools?.[0]?.name
    if (!tool) {
      log('no tools after verification:', client.state)
      return 1
    }

    const vk: string = (
      await api('POST', '/api/governance/virtual-keys', {
        name: 'conformance',
        mcp_configs: [{ mcp_client_name: 'conf', tools_to_execute: ['*'] }],
      })
    ).body.virtual_key.value
    const call = () =>
      api(
        'POST',
        '/v1/mcp/tool/execute?format=chat',
        { id: 'call_1', type: 'function', function: { name: tool, arguments: '{}' } },
        vk,
      )
    for (let logins = 0; ; logins++) {
      const answer = await call()
      if (answer.status === 200) {
        log('tool call:', JSON.stringify(answer.body).slice(0, 300))
        return 0
      }
      const required = answer.body?.extra_fields?.mcp_auth_required
      if (answer.body?.error?.type !== 'mcp_auth_required' || logins >= MAX_LOGINS) {
        log('tool call failed:', answer.status, JSON.stringify(answer.body).slice(0, 500))
        return 1
      }
      const done = await followLogin(required.login_url, { headers: { 'x-bf-vk': vk } })
      log('key login:', done.status, (await done.text()).slice(0, 300))
    }
  } finally {
    await gw.close()
    await rm(appDir, { recursive: true, force: true })
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(err)
    process.exit(1)
  },
)
