import { createHash, randomUUID } from 'node:crypto'
import type { Kysely } from 'kysely'
import { GatewayError } from '../../core/errors.js'
import type {
  ConfigStoreTables,
  McpOAuthCredentialsTables,
  McpOAuthFlowsTable,
  McpOAuthTokensTable,
} from '../../store/index.js'
import type { McpClientConfig } from '../clients/config.js'
import { ADMIN_AUTH_MODE, type McpIdentity } from './identity.js'
import type { LoginBinding } from './login-binding.js'

const LOGIN_PATH_PREFIX = '/api/oauth/upstream/'

/** The path of the login link a `mcp_auth_required` answer carries; it redirects to the upstream. */
export const loginPath = (flowId: string) => `${LOGIN_PATH_PREFIX}${encodeURIComponent(flowId)}/start`

// A relative login link: at the start, or after a space, quote or bracket (never inside a URL).
const RELATIVE_LOGIN_LINK = /(^|[\s"'(<])\/api\/oauth\/upstream\//g

/**
 * Login links are relative unless `mcp_external_client_url` is set: the HTTP edges that send them
 * (error answers, /mcp tool results, agent-mode tool results, the re-auth answer, consent pages)
 * make them absolute on the origin the caller used, so that a user can open them from an MCP client.
 */
export function absoluteLoginLinks(text: string, origin: string): string {
  if (!text.includes(LOGIN_PATH_PREFIX)) return text
  return text.replace(RELATIVE_LOGIN_LINK, `$1${origin.replace(/\/+$/, '')}${LOGIN_PATH_PREFIX}`)
}

/** The outcome of the upstream's redirect back to Heimdall, for the page the browser sees. */
export interface CallbackOutcome {
  status: 200 | 400 | 403 | 502
  message: string
  /** The local page the login was started from (the consent page), to go back to. */
  returnTo?: string
}

export interface LoginFlowsOptions {
  db: Kysely<ConfigStoreTables & McpOAuthCredentialsTables>
  binding: LoginBinding
  now: () => number
  /** How long a login flow stays open; default 15 minutes (Bifrost's). */
  flowTtlMs?: number
  /** `client.mcp_external_client_url`: the base of login links; without it they are relative. */
  externalUrl?: () => string | undefined
  names?: { user?(id: string): string | undefined; virtualKey?(id: string): string | undefined }
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')
const iso = (ms: number) => new Date(ms).toISOString()
export const UNKNOWN_LOGIN: CallbackOutcome = {
  status: 400,
  message: 'This login is unknown or has expired.',
}

/**
 * The pending upstream logins of per-user OAuth (`mcp_oauth_flows`): one per (identity, MCP
 * client), behind a login link, claimed once by the upstream's redirect back.
 */
export class LoginFlows {
  constructor(private readonly o: LoginFlowsOptions) {}

  /** The `mcp_auth_required` error, with a login link; an open flow of the same binding is reused. */
  async authRequired(cfg: McpClientConfig, who: McpIdentity): Promise<GatewayError> {
    const open = await this.o.db
      .selectFrom('mcp_oauth_flows')
      .selectAll()
      .where('mcp_client_id', '=', cfg.client_id)
      .where('auth_mode', '=', who.mode)
      .where('identity_id', '=', who.id)
      .where('status', '=', 'pending')
      .where('expires_at', '>', iso(this.o.now() + 60_000))
      .orderBy('created_at', 'desc')
      .executeTakeFirst()
    const flow = open ?? (await this.create(cfg.client_id, who))
    const loginUrl = this.loginUrl(flow.id)
    return new GatewayError(
      'unauthorized',
      `MCP client ${cfg.name} needs you to log in: open ${loginUrl}, then call the tool again`,
      {
        type: 'mcp_auth_required',
        retryable: false,
        extra: {
          mcp_auth_required: {
            mcp_client: { client_id: cfg.client_id, name: cfg.name },
            flow_id: flow.id,
            login_url: loginUrl,
            authorize_url: loginUrl,
            expires_at: flow.expires_at,
          },
        },
      },
    )
  }

  async create(mcpClientId: string, who: McpIdentity): Promise<McpOAuthFlowsTable> {
    const row: McpOAuthFlowsTable = {
      id: randomUUID(),
      mcp_client_id: mcpClientId,
      auth_mode: who.mode,
      identity_id: who.id,
      state_hash: null,
      code_verifier: null,
      oauth_config_id: null,
      status: 'pending',
      error: null,
      expires_at: iso(this.o.now() + (this.o.flowTtlMs ?? 15 * 60_000)),
      created_at: iso(this.o.now()),
    }
    await this.o.db.insertInto('mcp_oauth_flows').values(row).execute()
    return row
  }

  async fail(id: string, error: string): Promise<void> {
    await this.o.db
      .updateTable('mcp_oauth_flows')
      .set({ status: 'failed', error, code_verifier: null })
      .where('id', '=', id)
      .execute()
  }

  async deleteFor(binding: Pick<McpOAuthTokensTable, 'mcp_client_id' | 'auth_mode' | 'identity_id'>) {
    await this.o.db
      .deleteFrom('mcp_oauth_flows')
      .where('mcp_client_id', '=', binding.mcp_client_id)
      .where('auth_mode', '=', binding.auth_mode)
      .where('identity_id', '=', binding.identity_id)
      .execute()
  }

  /** A flow that is pending and not expired; not_found otherwise. */
  async open(flowId: string): Promise<McpOAuthFlowsTable> {
    const flow = await this.o.db
      .selectFrom('mcp_oauth_flows')
      .selectAll()
      .where('id', '=', flowId)
      .executeTakeFirst()
    if (!flow || flow.status !== 'pending' || Date.parse(flow.expires_at) <= this.o.now())
      throw new GatewayError(
        'not_found',
        'this login link is unknown or has expired: call the tool again for a new one',
      )
    return flow
  }

  /** Records a started login: the hash of its signed state, its sealed PKCE verifier, its registration. */
  async started(flowId: string, state: string, sealedVerifier: string, oauthConfigId: string): Promise<void> {
    await this.o.db
      .updateTable('mcp_oauth_flows')
      .set({ state_hash: sha256(state), code_verifier: sealedVerifier, oauth_config_id: oauthConfigId })
      .where('id', '=', flowId)
      .execute()
  }

  /**
   * The flow the upstream's redirect names by its state, claimed (once: whoever clears the state
   * first completes the login) when the state was signed for it and, but for an admin
   * verification, this is the browser that started it; otherwise the outcome to show.
   */
  async claim(
    state: string | undefined,
    browserCookie: ((flowId: string) => string | undefined) | undefined,
  ): Promise<{ flow: McpOAuthFlowsTable; returnTo?: string } | CallbackOutcome> {
    if (!state) return UNKNOWN_LOGIN
    const stateHash = sha256(state)
    const flow = await this.o.db
      .selectFrom('mcp_oauth_flows')
      .selectAll()
      .where('state_hash', '=', stateHash)
      .executeTakeFirst()
    if (!flow || flow.status !== 'pending' || Date.parse(flow.expires_at) <= this.o.now())
      return UNKNOWN_LOGIN
    if (!(await this.o.binding.stateMatches(state, flow))) return UNKNOWN_LOGIN
    let returnTo: string | undefined
    if (flow.auth_mode !== ADMIN_AUTH_MODE) {
      const browser = await this.o.binding.browserMatches(state, browserCookie?.(flow.id))
      if (!browser.ok)
        return {
          status: 403,
          message: `This login was started in another browser, for ${this.label(flow)}: nothing was connected. Open your own login link.`,
        }
      returnTo = browser.returnTo
    }
    const claimed = await this.o.db
      .updateTable('mcp_oauth_flows')
      .set({ state_hash: null })
      .where('id', '=', flow.id)
      .where('state_hash', '=', stateHash)
      .executeTakeFirst()
    if (Number(claimed.numUpdatedRows) !== 1) return UNKNOWN_LOGIN
    return returnTo === undefined ? { flow } : { flow, returnTo }
  }

  /** On `mcp_external_client_url` when set, else relative (see absoluteLoginLinks). */
  loginUrl(flowId: string): string {
    const base = this.o.externalUrl?.() || ''
    return `${base.replace(/\/+$/, '')}${loginPath(flowId)}`
  }

  /** Whom a flow logs in, as its pages say it: the key's name, never its value. */
  label(flow: Pick<McpOAuthFlowsTable, 'auth_mode' | 'identity_id'>): string {
    if (flow.auth_mode === 'vk')
      return `virtual key “${this.o.names?.virtualKey?.(flow.identity_id) ?? flow.identity_id}”`
    if (flow.auth_mode === 'user')
      return `user “${this.o.names?.user?.(flow.identity_id) ?? flow.identity_id}”`
    if (flow.auth_mode === 'session') return 'this MCP session'
    return 'the administrator’s verification'
  }
}
