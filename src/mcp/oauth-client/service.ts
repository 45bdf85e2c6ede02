import { randomUUID } from 'node:crypto'
import { exchangeAuthorization, startAuthorization } from '@modelcontextprotocol/sdk/client/auth.js'
import { OAuthError } from '@modelcontextprotocol/sdk/server/auth/errors.js'
import type { OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js'
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js'
import type { Kysely } from 'kysely'
import { GatewayError } from '../../core/errors.js'
import type {
  ConfigStore,
  ConfigStoreTables,
  McpOAuthCredentialsTables,
  McpOAuthFlowsTable,
  McpOAuthTokensTable,
} from '../../store/index.js'
import type { McpClientConfig } from '../clients/config.js'
import { callbackBase } from './callback-url.js'
import { clientMetadataDocument, clientMetadataUrlFor, CLIENT_METADATA_PATH } from './client-metadata.js'
import { DiscoveryAddressRefused, type HostResolver } from './discovery-guard.js'
import { scopeSet } from './discovery.js'
import { expiryOf, TokenRefresher } from './token-refresh.js'
import { UpstreamRegistrations } from './upstream-registration.js'
import { ADMIN_AUTH_MODE, parseIdentity, type McpIdentity, type McpSessionCaller } from './identity.js'
import { isLocalPath, LoginBinding } from './login-binding.js'
import { LoginFlows, UNKNOWN_LOGIN, type CallbackOutcome } from './login-flows.js'
import {
  listSessionRows,
  visibleFlow,
  visibleToken,
  type McpSessionRow,
  type SessionLabels,
} from './session-rows.js'

/** What the MCP client manager needs from per-user OAuth: a token per (client, identity). */
export interface PerUserTokenSource {
  /** The identity's access token for the client, refreshed if due; else GatewayError `mcp_auth_required`. */
  accessToken(cfg: McpClientConfig, identity: string): Promise<string>
  /**
   * The upstream refused the token (401, or 403 `insufficient_scope` with its challenge): it needs
   * a new login (with more scopes for a 403). Returns the error to throw.
   */
  rejectToken(cfg: McpClientConfig, identity: string, challenge?: UpstreamChallenge): Promise<GatewayError>
  /**
   * The upstream answered 401 to a token before its expiry: one refresh grant. True when a new
   * token is stored (call again once); false when only a new login helps.
   */
  refreshRejected?(cfg: McpClientConfig, identity: string): Promise<boolean>
  /**
   * The admin verification credential of the client (discovery only: never used for anyone's
   * calls), refreshed if due; undefined when the client has none that works.
   */
  discoveryToken?(cfg: McpClientConfig): Promise<string | undefined>
  /** The upstream refused the admin verification credential (401). */
  rejectDiscoveryToken?(cfg: McpClientConfig): Promise<void>
}

/** The `WWW-Authenticate` parameters of an upstream's 401 or 403. */
export interface UpstreamChallenge {
  error?: string
  scope?: string
}

export { ADMIN_AUTH_MODE }
const adminIdentity = (mcpClientId: string): McpIdentity => ({ mode: ADMIN_AUTH_MODE, id: mcpClientId })

/** What `initiateVerification` answers: the upstream authorization URL of the admin's login. */
export interface VerificationFlow {
  flow_id: string
  authorize_url: string
  expires_at: string
  oauth_config_id: string
}

export interface PerUserOAuthOptions {
  store: Pick<ConfigStore, 'db' | 'secrets'>
  /**
   * The MCP clients' configs by id, unredacted; `verified` is told (and awaited) when an admin
   * verification login of a client completed, to discover its tools.
   */
  clients: {
    config(id: string): McpClientConfig | undefined
    verified?(id: string): Promise<void>
  }
  /** `client.mcp_external_client_url`: the public base URL of Heimdall, for login and callback URLs. */
  externalUrl?: () => string | undefined
  /** The address Heimdall listens on: without an external URL, the only Host besides loopback names a callback may use. */
  listenHost?: () => string | undefined
  /** Resolves the hosts of upstream OAuth URLs before they are fetched; default `dns.lookup`. */
  resolveHost?: HostResolver
  /** Names shown with user- and key-bound rows. */
  names?: { user?(id: string): string | undefined; virtualKey?(id: string): string | undefined }
  fetchFn?: FetchLike
  now?: () => number
  /** Refresh this long before expiry; default 60 s. */
  refreshSkewMs?: number
  /** How long a login flow stays open; default 15 minutes (Bifrost's). */
  flowTtlMs?: number
}

export { absoluteLoginLinks, loginPath, type CallbackOutcome } from './login-flows.js'

/** How the browser opening a login link proved whose it is, and where it goes back afterwards. */
export interface LoginStart {
  /** The identity the browser proved (its virtual key, its consent flow, its MCP session id). */
  proven?: McpIdentity
  /** A local path to return to after the upstream login (validated). */
  returnTo?: string
}

/** The upstream authorization URL, and the cookie binding the login to the browser that opened it. */
export interface StartedLogin {
  url: URL
  browserCookie: string
}

/** An upstream server of the consent page: connected already, or the link to log in to it. */
export interface UpstreamLogin {
  client_name: string
  connected: boolean
  login_url?: string
}

/** Where upstream authorization servers send the browser back (Bifrost's path). */
export const CALLBACK_PATH = '/api/oauth/callback'

const iso = (ms: number) => new Date(ms).toISOString()
const MAX_SHOWN_ERROR = 200

/**
 * Heimdall as the per-user OAuth client of upstream MCP servers (`auth_type: per_user_oauth`):
 * discovery (RFC 9728 protected-resource metadata, then RFC 8414 / OIDC metadata, path issuers
 * included), dynamic client registration when no client id is configured, PKCE S256, RFC 8707
 * resource indicators. Tokens are kept sealed per (identity, MCP client).
 */
export class PerUserOAuth implements PerUserTokenSource {
  private readonly db: Kysely<ConfigStoreTables & McpOAuthCredentialsTables>
  private readonly now: () => number
  private readonly registrations: UpstreamRegistrations
  private readonly refresher: TokenRefresher
  private readonly binding: LoginBinding
  private readonly flows: LoginFlows

  constructor(private readonly opts: PerUserOAuthOptions) {
    this.db = opts.store.db.withTables<McpOAuthCredentialsTables>()
    this.now = opts.now ?? Date.now
    this.registrations = new UpstreamRegistrations({
      db: this.db,
      secrets: opts.store.secrets,
      now: this.now,
      fetchFn: opts.fetchFn,
      resolveHost: opts.resolveHost,
      clientMetadataUrl: clientMetadataUrlFor,
    })
    this.refresher = new TokenRefresher({
      db: this.db,
      secrets: opts.store.secrets,
      registrations: this.registrations,
      now: this.now,
    })
    this.binding = new LoginBinding({ db: opts.store.db, secrets: opts.store.secrets })
    this.flows = new LoginFlows({ ...opts, db: this.db, binding: this.binding, now: this.now })
  }

  /** Names shown with session rows. */
  private get labels(): SessionLabels {
    return {
      user: (id) => this.opts.names?.user?.(id),
      virtualKey: (id) => this.opts.names?.virtualKey?.(id),
      client: (id) => this.opts.clients.config(id)?.name,
    }
  }

  private get secrets() {
    return this.opts.store.secrets
  }

  async accessToken(cfg: McpClientConfig, identity: string): Promise<string> {
    return this.tokenFor(cfg, parseIdentity(identity))
  }

  async discoveryToken(cfg: McpClientConfig): Promise<string | undefined> {
    const row = await this.tokenOf(cfg.client_id, adminIdentity(cfg.client_id))
    if (row?.status !== 'active') return undefined
    try {
      return await this.tokenFor(cfg, adminIdentity(cfg.client_id))
    } catch {
      return undefined
    }
  }

  /** The upstream refused the admin verification credential: it needs a new verification. */
  async rejectDiscoveryToken(cfg: McpClientConfig): Promise<void> {
    const row = await this.tokenOf(cfg.client_id, adminIdentity(cfg.client_id))
    if (row?.status === 'active') await this.setStatus(row.id, 'needs_reauth')
  }

  /**
   * Starts the admin verification of a per_user_oauth client (Bifrost's initiate-verification): a
   * fresh login flow for the client's admin identity, and the upstream authorization URL to open.
   * When the upstream redirects back to the callback, the token is kept as the client's discovery
   * credential and `clients.verified` is told.
   */
  async initiateVerification(mcpClientId: string, requestOrigin: string): Promise<VerificationFlow> {
    const cfg = this.clientConfig(mcpClientId)
    const who = adminIdentity(cfg.client_id)
    await this.flows.deleteFor({ mcp_client_id: cfg.client_id, auth_mode: who.mode, identity_id: who.id })
    const flow = await this.flows.create(cfg.client_id, who)
    const { url } = await this.start(flow.id, requestOrigin)
    const started = await this.db
      .selectFrom('mcp_oauth_flows')
      .select('oauth_config_id')
      .where('id', '=', flow.id)
      .executeTakeFirst()
    return {
      flow_id: flow.id,
      authorize_url: url.href,
      expires_at: flow.expires_at,
      oauth_config_id: started?.oauth_config_id ?? '',
    }
  }

  private async tokenFor(cfg: McpClientConfig, who: McpIdentity): Promise<string> {
    const row = await this.tokenOf(cfg.client_id, who)
    if (row?.status === 'active') {
      const expiresAt = row.expires_at === null ? Infinity : Date.parse(row.expires_at)
      const skew = this.opts.refreshSkewMs ?? 60_000
      if (expiresAt - skew > this.now()) return this.secrets.open(row.access_token)
      if (row.refresh_token !== null) return this.refreshDue(cfg, row)
      if (expiresAt > this.now()) return this.secrets.open(row.access_token)
      await this.setStatus(row.id, 'needs_reauth')
    }
    throw await this.authRequired(cfg, who)
  }

  /**
   * The per-user clients of an identity as the consent pages of Heimdall's own authorization
   * server list them: connected, or with a login link (open flows are reused).
   */
  async upstreamLogins(configs: readonly McpClientConfig[], identity: string): Promise<UpstreamLogin[]> {
    const who = parseIdentity(identity)
    const out: UpstreamLogin[] = []
    for (const cfg of configs) {
      if (cfg.auth_type !== 'per_user_oauth') continue
      if ((await this.tokenOf(cfg.client_id, who))?.status === 'active') {
        out.push({ client_name: cfg.name, connected: true })
        continue
      }
      const required = (await this.authRequired(cfg, who)).extra?.mcp_auth_required as
        { login_url?: string } | undefined
      if (required?.login_url)
        out.push({ client_name: cfg.name, connected: false, login_url: required.login_url })
    }
    return out
  }

  /** Whose login a link is, for the page that asks the browser to prove it; not_found when unknown or expired. */
  async loginView(
    flowId: string,
  ): Promise<{ clientName: string; identity: McpIdentity; identityLabel: string }> {
    const flow = await this.flows.open(flowId)
    return {
      clientName: this.clientConfig(flow.mcp_client_id).name,
      identity: { mode: flow.auth_mode, id: flow.identity_id },
      identityLabel: this.flows.label(flow),
    }
  }

  async rejectToken(
    cfg: McpClientConfig,
    identity: string,
    challenge?: UpstreamChallenge,
  ): Promise<GatewayError> {
    const who = parseIdentity(identity)
    const row = await this.tokenOf(cfg.client_id, who)
    const reg = row?.oauth_config_id ? await this.registrations.byId(row.oauth_config_id) : undefined
    if (challenge?.error === 'insufficient_scope' && reg) {
      // Step-up: a new login asking for the union of the scopes; none when nothing new is asked.
      const held = scopeSet(reg.row.scope, row?.scope)
      const missing = [...scopeSet(challenge.scope)].filter((s) => !held.has(s))
      if (missing.length === 0)
        return new GatewayError(
          'forbidden',
          `MCP client ${cfg.name} refused the call for lack of scope${challenge.scope ? ` (${challenge.scope})` : ''}, which a new login would not grant`,
          { retryable: false },
        )
      await this.registrations.widenScope(reg.row.id, [...held, ...missing].join(' '))
    }
    if (row?.status === 'active') await this.setStatus(row.id, 'needs_reauth')
    return this.authRequired(cfg, who)
  }

  async refreshRejected(cfg: McpClientConfig, identity: string): Promise<boolean> {
    const row = await this.tokenOf(cfg.client_id, parseIdentity(identity))
    if (row?.status !== 'active' || row.refresh_token === null) return false
    const outcome = await this.refresher.refresh(cfg, row)
    if (outcome.kind === 'unavailable') throw this.refreshUnavailable(cfg, outcome.cause)
    return outcome.kind === 'refreshed'
  }

  /** Heimdall's client ID metadata document, served on the origin it names (see client-metadata.ts). */
  clientMetadata(requestOrigin: string) {
    const base = this.baseUrl(requestOrigin)
    return clientMetadataDocument(`${base}${CLIENT_METADATA_PATH}`, [`${base}${CALLBACK_PATH}`])
  }

  /**
   * The upstream authorization URL a login link leads to; registers Heimdall with the upstream
   * first if needed. Only a browser that proved the flow's identity may start it (admin
   * verifications are started through the management API); the OAuth state is signed for the
   * flow's identity, and the returned cookie binds the upstream's redirect to this browser.
   */
  async start(flowId: string, requestOrigin: string, login: LoginStart = {}): Promise<StartedLogin> {
    const flow = await this.flows.open(flowId)
    const proven = login.proven
    if (
      flow.auth_mode !== ADMIN_AUTH_MODE &&
      (proven?.mode !== flow.auth_mode || proven.id !== flow.identity_id)
    )
      throw new GatewayError(
        'forbidden',
        `this login link belongs to ${this.flows.label(flow)}, and only its owner may use it`,
        { retryable: false },
      )
    if (login.returnTo !== undefined && !isLocalPath(login.returnTo))
      throw new GatewayError('invalid_request', 'return_to must be a path on this gateway', {
        param: 'return_to',
      })
    const cfg = this.clientConfig(flow.mcp_client_id)
    const redirectUri = `${this.baseUrl(requestOrigin)}${CALLBACK_PATH}`
    const reg = await this.registrations.forCallback(cfg, redirectUri)
    const state = await this.binding.stateFor(flow)
    const { authorizationUrl, codeVerifier } = await startAuthorization(reg.row.authorization_server, {
      metadata: reg.metadata,
      clientInformation: reg.client,
      redirectUrl: redirectUri,
      scope: reg.row.scope ?? undefined,
      state,
      resource: reg.row.resource ?? undefined,
    })
    await this.flows.started(flowId, state, this.secrets.seal(codeVerifier), reg.row.id)
    return { url: authorizationUrl, browserCookie: await this.binding.browserCookie(state, login.returnTo) }
  }

  /**
   * Completes a login from the upstream's redirect: exchanges the code and stores the token. The
   * state must be the one signed for the flow's identity, used once, in the browser whose cookie
   * the start step set (`browserCookie` reads it by the flow's id).
   */
  async callback(
    query: {
      code?: string
      state?: string
      error?: string
      error_description?: string
    },
    browserCookie?: (flowId: string) => string | undefined,
  ): Promise<CallbackOutcome> {
    const claimed = await this.flows.claim(query.state, browserCookie)
    if (!('flow' in claimed)) return claimed
    const { flow, returnTo } = claimed
    const unknown = UNKNOWN_LOGIN
    if (query.error !== undefined) {
      const shown = [query.error, query.error_description]
        .filter(Boolean)
        .join(': ')
        .slice(0, MAX_SHOWN_ERROR)
      await this.flows.fail(flow.id, shown)
      return { status: 400, message: `The authorization server refused the login: ${shown}`, returnTo }
    }
    if (!query.code || flow.code_verifier === null || flow.oauth_config_id === null) return unknown
    const reg = await this.registrations.byId(flow.oauth_config_id)
    const cfg = this.opts.clients.config(flow.mcp_client_id)
    if (!reg || !cfg) return unknown
    let tokens: OAuthTokens
    try {
      tokens = await exchangeAuthorization(reg.row.authorization_server, {
        metadata: reg.metadata,
        clientInformation: reg.client,
        authorizationCode: query.code,
        codeVerifier: this.secrets.open(flow.code_verifier),
        redirectUri: reg.row.redirect_uri,
        resource: reg.row.resource ?? undefined,
        fetchFn: this.registrations.fetchFor(cfg),
      })
    } catch (err) {
      const shown =
        err instanceof OAuthError
          ? err.errorCode
          : err instanceof DiscoveryAddressRefused
            ? `refused to fetch ${err.message}`
            : 'no usable answer'
      await this.flows.fail(flow.id, `code exchange failed: ${shown}`)
      return { status: 502, message: `The authorization server did not issue a token (${shown}).` }
    }
    await this.saveToken(flow, reg.row.id, tokens)
    if (flow.auth_mode === ADMIN_AUTH_MODE) {
      try {
        await this.opts.clients.verified?.(flow.mcp_client_id)
      } catch (err) {
        return {
          status: 502,
          message:
            `You are logged in to ${cfg.name}, but its tools could not be listed: ${(err as Error).message}`.slice(
              0,
              MAX_SHOWN_ERROR * 2,
            ),
        }
      }
      return { status: 200, message: `${cfg.name} is verified. You can close this window.` }
    }
    return {
      status: 200,
      message: `You are logged in to ${cfg.name} for ${this.flows.label(flow)}. You can close this window.`,
      returnTo,
    }
  }

  /** Every per-user credential and pending flow the caller may see (Bifrost's `GET /api/mcp/sessions`). */
  async listSessions(caller: McpSessionCaller): Promise<McpSessionRow[]> {
    return listSessionRows(this.db, caller, this.labels, iso(this.now()))
  }

  /** Deletes a credential the caller may see, with any pending flow of the same binding (local only). */
  async revoke(id: string, caller: McpSessionCaller): Promise<void> {
    const token = await visibleToken(this.db, id, caller)
    if (!token) {
      const flow = await visibleFlow(this.db, id, caller)
      if (flow)
        throw new GatewayError(
          'invalid_request',
          'a pending OAuth flow cannot be revoked: it expires by itself',
        )
      throw new GatewayError('not_found', `MCP session ${id} not found`)
    }
    await this.db.deleteFrom('mcp_oauth_tokens').where('id', '=', token.id).execute()
    await this.flows.deleteFor(token)
  }

  /** Opens a new login flow for a credential; the caller gets the login link. */
  async reauth(id: string, caller: McpSessionCaller): Promise<{ authorize_url: string; session_id: string }> {
    const token = await visibleToken(this.db, id, caller)
    if (!token) throw new GatewayError('not_found', `MCP session ${id} not found`)
    if (token.status === 'orphaned')
      throw new GatewayError(
        'forbidden',
        'this credential is orphaned: its identity no longer has access to the MCP client',
      )
    if (token.auth_mode === 'user' && caller.userId !== token.identity_id)
      throw new GatewayError('forbidden', 'only the user this credential belongs to may log in again')
    await this.flows.deleteFor(token)
    const flow = await this.flows.create(token.mcp_client_id, {
      mode: token.auth_mode,
      id: token.identity_id,
    })
    return { authorize_url: this.flows.loginUrl(flow.id), session_id: flow.id }
  }

  /** Marks `orphaned` the key-bound tokens whose virtual key no longer has access to their MCP client. */
  async orphanUnreachable(
    hasAccess: (virtualKeyId: string, mcpClientId: string) => boolean,
  ): Promise<number> {
    const rows = await this.db
      .selectFrom('mcp_oauth_tokens')
      .select(['id', 'identity_id', 'mcp_client_id'])
      .where('auth_mode', '=', 'vk')
      .where('status', '!=', 'orphaned')
      .execute()
    const lost = rows.filter((r) => !hasAccess(r.identity_id, r.mcp_client_id)).map((r) => r.id)
    if (lost.length > 0) {
      await this.db
        .updateTable('mcp_oauth_tokens')
        .set({ status: 'orphaned', updated_at: iso(this.now()) })
        .where('id', 'in', lost)
        .execute()
    }
    return lost.length
  }

  /** Marks every token of an MCP client `orphaned` (the client was removed or its server changed). */
  async orphanClient(mcpClientId: string): Promise<void> {
    await this.db
      .updateTable('mcp_oauth_tokens')
      .set({ status: 'orphaned', updated_at: iso(this.now()) })
      .where('mcp_client_id', '=', mcpClientId)
      .execute()
    await this.db.deleteFrom('mcp_oauth_flows').where('mcp_client_id', '=', mcpClientId).execute()
  }

  // --- tokens -------------------------------------------------------------------------------

  private tokenOf(mcpClientId: string, who: McpIdentity): Promise<McpOAuthTokensTable | undefined> {
    return this.db
      .selectFrom('mcp_oauth_tokens')
      .selectAll()
      .where('mcp_client_id', '=', mcpClientId)
      .where('auth_mode', '=', who.mode)
      .where('identity_id', '=', who.id)
      .executeTakeFirst()
  }

  private async setStatus(id: string, status: McpOAuthTokensTable['status']): Promise<void> {
    await this.db
      .updateTable('mcp_oauth_tokens')
      .set({ status, updated_at: iso(this.now()) })
      .where('id', '=', id)
      .execute()
  }

  /** A token due for refresh; a transient failure keeps an unexpired token in use. */
  private async refreshDue(cfg: McpClientConfig, row: McpOAuthTokensTable): Promise<string> {
    const outcome = await this.refresher.refresh(cfg, row)
    if (outcome.kind === 'refreshed') return outcome.accessToken
    if (outcome.kind === 'refused')
      throw await this.authRequired(cfg, { mode: row.auth_mode, id: row.identity_id })
    if (row.expires_at !== null && Date.parse(row.expires_at) > this.now())
      return this.secrets.open(row.access_token)
    throw this.refreshUnavailable(cfg, outcome.cause)
  }

  private refreshUnavailable(cfg: McpClientConfig, cause: unknown): GatewayError {
    return new GatewayError(
      'upstream_connection_error',
      `refreshing the OAuth token of MCP client ${cfg.name} failed for now; try again`,
      { cause },
    )
  }

  private async saveToken(
    flow: McpOAuthFlowsTable,
    oauthConfigId: string,
    tokens: OAuthTokens,
  ): Promise<void> {
    const now = iso(this.now())
    await this.db.transaction().execute(async (trx) => {
      // The binding's token and its open flows are replaced by the new token (one transaction).
      for (const table of ['mcp_oauth_tokens', 'mcp_oauth_flows'] as const) {
        await trx
          .deleteFrom(table)
          .where('mcp_client_id', '=', flow.mcp_client_id)
          .where('auth_mode', '=', flow.auth_mode)
          .where('identity_id', '=', flow.identity_id)
          .execute()
      }
      await trx
        .insertInto('mcp_oauth_tokens')
        .values({
          id: randomUUID(),
          mcp_client_id: flow.mcp_client_id,
          auth_mode: flow.auth_mode,
          identity_id: flow.identity_id,
          access_token: this.secrets.seal(tokens.access_token),
          refresh_token: tokens.refresh_token ? this.secrets.seal(tokens.refresh_token) : null,
          token_type: tokens.token_type,
          scope: tokens.scope ?? null,
          status: 'active',
          oauth_config_id: oauthConfigId,
          expires_at: expiryOf(tokens, this.now()),
          last_refreshed_at: null,
          created_at: now,
          updated_at: now,
        })
        .execute()
    })
  }

  // --- flows (login-flows.ts) ---------------------------------------------------------------

  /** The `mcp_auth_required` error, with a login link; an open flow of the same binding is reused. */
  private authRequired(cfg: McpClientConfig, who: McpIdentity): Promise<GatewayError> {
    return this.flows.authRequired(cfg, who)
  }

  private baseUrl(requestOrigin: string): string {
    return callbackBase(requestOrigin, this.opts.externalUrl?.() || undefined, this.opts.listenHost?.())
  }

  // --- registration with the upstream authorization server ----------------------------------

  private clientConfig(id: string): McpClientConfig {
    const cfg = this.opts.clients.config(id)
    if (!cfg || cfg.auth_type !== 'per_user_oauth' || cfg.connection_string === undefined)
      throw new GatewayError('not_found', `MCP client ${id} is not a per-user OAuth client`)
    return cfg
  }
}
