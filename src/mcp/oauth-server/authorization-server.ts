import { randomUUID } from 'node:crypto'
import type { Kysely } from 'kysely'
import { virtualKeyUsable, type VirtualKeyLookup } from '../../core/virtual-keys.js'
import type {
  ConfigStoreTables,
  OAuthIdentityKind,
  OAuthServerFlowsTable,
  OAuthServerTables,
  OAuthServerTokensTable,
} from '../../store/index.js'
import { ConsentError, OAuthError } from './errors.js'
import {
  checkRegistrationSize,
  registrationLimits,
  RegistrationRateLimiter,
  type RegistrationLimits,
  type RegistrationLimitsConfig,
} from './registration-limits.js'
import { checkRedirectUri } from './redirect-uris.js'
import { isS256Challenge, randomSecret, sha256Hex, verifierMatches } from './secrets.js'

export const SCOPES = ['mcp:read', 'mcp:write'] as const

/** What a grant (a code, a refresh token) passes on to the tokens it is exchanged for. */
type TokenGrant = Pick<
  OAuthServerTokensTable,
  'grant_id' | 'client_id' | 'resource' | 'scope' | 'identity_kind' | 'virtual_key_id' | 'user_id'
>

const FLOW_TTL_MS = 15 * 60 * 1000
const FLOW_TOMBSTONE_MS = 60 * 60 * 1000
const REFRESH_TOKEN_TTL_MS = 30 * 24 * 60 * 60 * 1000
const DEFAULT_CODE_TTL_S = 300
const MAX_CODE_TTL_S = 900
const DEFAULT_ACCESS_TOKEN_TTL_S = 3600
const MAX_USER_ID_LENGTH = 255
/** How often registrations never used are looked for. */
const PURGE_INTERVAL_MS = 60 * 60 * 1000

/**
 * `client.oauth2_server_config` of config.json (Bifrost's names): `issuer_url` fixes the public
 * base URL of the metadata documents (else it comes from the request's host); TTLs in seconds.
 */
export interface OAuthServerConfig {
  issuer_url?: string
  auth_code_ttl?: number
  access_token_ttl?: number
  /** Heimdall: bounds of dynamic client registration (rate per IP, sizes, purge of unused clients). */
  registration?: RegistrationLimitsConfig
}

/** Who a flow, code or token stands for. */
export interface ConsentIdentity {
  kind: OAuthIdentityKind
  virtualKeyId?: string
  userId?: string
}

/** An upstream MCP server that needs this user's own login, shown on the consent MCPs page. */
export interface PendingUpstream {
  client_name: string
  /** Logged in already (the Connect link is then not shown). */
  connected: boolean
  login_url?: string
}

export interface AuthorizationServerDeps {
  db: Kysely<ConfigStoreTables>
  /** Governance's virtual keys (src/http hands its state in). */
  state: VirtualKeyLookup
  /** `client.enforce_auth_on_inference`: then the identity must be a virtual key. */
  enforceAuth: () => boolean
  config?: OAuthServerConfig
  /** The upstream clients needing this user's login (per-user OAuth client side); default none. */
  listPendingUpstreams?: (
    identity: ConsentIdentity & { flowId: string },
  ) => PendingUpstream[] | Promise<PendingUpstream[]>
  now?: () => number
}

export interface TokenResponse {
  access_token: string
  token_type: 'Bearer'
  expires_in: number
  refresh_token: string
  scope: string
}

/** What a flow shows on the consent pages. */
export interface FlowView {
  id: string
  clientName: string
  redirectHost: string
  identity: ConsentIdentity | undefined
  /** The virtual key's name, for "signed in as". */
  identityLabel: string | undefined
  skipAllowed: boolean
  userIdAllowed: boolean
}

type Flow = OAuthServerFlowsTable

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined
}

/**
 * Heimdall as the OAuth 2.1 authorization server of its /mcp endpoint (RFC 7591 registration,
 * PKCE S256, RFC 8707 resources): the consent flow binds an identity (virtual key, user id or
 * none) to a code, and the code to the tokens /mcp accepts.
 */
export class AuthorizationServer {
  private readonly db: Kysely<ConfigStoreTables & OAuthServerTables>
  private readonly now: () => number
  private readonly codeTtlS: number
  private readonly accessTtlS: number
  readonly registrationLimits: RegistrationLimits
  private readonly registrations: RegistrationRateLimiter
  private readonly purgeTimer: NodeJS.Timeout

  constructor(private readonly deps: AuthorizationServerDeps) {
    this.db = deps.db.withTables<OAuthServerTables>()
    this.now = deps.now ?? Date.now
    this.codeTtlS = Math.min(deps.config?.auth_code_ttl ?? DEFAULT_CODE_TTL_S, MAX_CODE_TTL_S)
    this.accessTtlS = deps.config?.access_token_ttl ?? DEFAULT_ACCESS_TOKEN_TTL_S
    this.registrationLimits = registrationLimits(deps.config?.registration)
    this.registrations = new RegistrationRateLimiter(() => this.registrationLimits, this.now)
    // Registration is open to anyone: clients that never went on to authorize do not stay.
    this.purgeTimer = setInterval(() => void this.sweep().catch(() => undefined), PURGE_INTERVAL_MS)
    this.purgeTimer.unref()
  }

  close(): void {
    clearInterval(this.purgeTimer)
  }

  /**
   * Counts a registration attempt from a client IP: 0 when it may go on, else the seconds to wait
   * (`client.oauth2_server_config.registration.max_per_ip` per `window_seconds`).
   */
  registrationRetryAfter(ip: string): number {
    return this.registrations.take(ip)
  }

  /** The issuer: the configured `issuer_url`, else the origin the request came to. */
  issuer(requestOrigin: string): string {
    return (this.deps.config?.issuer_url ?? requestOrigin).replace(/\/+$/, '')
  }

  protectedResourceMetadata(requestOrigin: string) {
    const issuer = this.issuer(requestOrigin)
    return {
      resource: `${issuer}/mcp`,
      authorization_servers: [issuer],
      scopes_supported: [...SCOPES],
      bearer_methods_supported: ['header'],
    }
  }

  authorizationServerMetadata(requestOrigin: string) {
    const issuer = this.issuer(requestOrigin)
    return {
      issuer,
      authorization_endpoint: `${issuer}/api/oauth/per-user/authorize`,
      token_endpoint: `${issuer}/api/oauth/per-user/token`,
      registration_endpoint: `${issuer}/api/oauth/per-user/register`,
      response_types_supported: ['code'],
      grant_types_supported: ['authorization_code', 'refresh_token'],
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: ['none'],
      scopes_supported: [...SCOPES],
    }
  }

  /** `WWW-Authenticate` of a 401 from /mcp: where the client finds how to get a token. */
  challenge(requestOrigin: string, invalidToken = false): string {
    const metadata = `${this.issuer(requestOrigin)}/.well-known/oauth-protected-resource`
    return `Bearer ${invalidToken ? 'error="invalid_token", ' : ''}resource_metadata="${metadata}"`
  }

  /** RFC 7591 dynamic registration of a public client (no secret; PKCE protects the code). */
  async register(body: unknown) {
    const input = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>
    checkRegistrationSize(input, this.registrationLimits)
    if (!Array.isArray(input.redirect_uris) || input.redirect_uris.length === 0)
      throw new OAuthError('invalid_redirect_uri', 'redirect_uris must be a non-empty array')
    const redirectUris = input.redirect_uris.map(checkRedirectUri)
    const method = input.token_endpoint_auth_method ?? 'none'
    if (method !== 'none')
      throw new OAuthError(
        'invalid_client_metadata',
        'only public clients (token_endpoint_auth_method "none")',
      )
    const grantTypes = Array.isArray(input.grant_types) ? input.grant_types : ['authorization_code']
    if (grantTypes.some((g) => g !== 'authorization_code' && g !== 'refresh_token'))
      throw new OAuthError(
        'invalid_client_metadata',
        'grant_types may be authorization_code and refresh_token',
      )
    const clientName = typeof input.client_name === 'string' ? input.client_name : null
    await this.sweep()
    const clientId = randomUUID()
    const createdAt = new Date(this.now())
    await this.db
      .insertInto('oauth_server_clients')
      .values({
        client_id: clientId,
        client_name: clientName,
        redirect_uris: JSON.stringify(redirectUris),
        grant_types: JSON.stringify(grantTypes),
        created_at: createdAt.toISOString(),
      })
      .execute()
    return {
      client_id: clientId,
      client_id_issued_at: Math.floor(createdAt.getTime() / 1000),
      ...(clientName !== null && { client_name: clientName }),
      redirect_uris: redirectUris,
      grant_types: grantTypes,
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    }
  }

  /**
   * The authorization request: checks it and opens a pending flow (15 minutes). Answers the flow
   * id and the secret the browser keeps in its cookie; only the secret's hash is stored.
   */
  async authorize(query: Record<string, unknown>, requestOrigin: string) {
    const clientId = text(query.client_id)
    const redirectUri = text(query.redirect_uri)
    if (!clientId) throw new OAuthError('invalid_request', 'client_id is required')
    if (!redirectUri) throw new OAuthError('invalid_request', 'redirect_uri is required')
    const client = await this.db
      .selectFrom('oauth_server_clients')
      .selectAll()
      .where('client_id', '=', clientId)
      .executeTakeFirst()
    if (!client) throw new OAuthError('invalid_client', 'unknown client_id')
    if (!(JSON.parse(client.redirect_uris) as string[]).includes(redirectUri))
      throw new OAuthError('invalid_request', 'redirect_uri is not one registered for this client')
    if (query.response_type !== 'code')
      throw new OAuthError('unsupported_response_type', 'response_type must be "code"')
    const challenge = text(query.code_challenge)
    if (!challenge) throw new OAuthError('invalid_request', 'code_challenge is required (PKCE)')
    if (query.code_challenge_method !== 'S256')
      throw new OAuthError('invalid_request', 'code_challenge_method must be "S256"; plain is not supported')
    if (!isS256Challenge(challenge))
      throw new OAuthError('invalid_request', 'code_challenge is not a base64url SHA-256 value')
    const resource = text(query.resource)
    if (resource !== undefined && !this.isOurResource(resource, requestOrigin))
      throw new OAuthError('invalid_target', 'resource is not this gateway’s MCP endpoint')
    const scope = this.grantedScope(text(query.scope))
    const state = typeof query.state === 'string' ? query.state : null

    await this.sweep()
    const secret = randomSecret()
    const flowId = randomUUID()
    const now = this.now()
    await this.db
      .insertInto('oauth_server_flows')
      .values({
        id: flowId,
        secret_hash: sha256Hex(secret),
        client_id: clientId,
        redirect_uri: redirectUri,
        code_challenge: challenge,
        state,
        resource: resource ?? null,
        scope,
        identity_kind: null,
        virtual_key_id: null,
        user_id: null,
        status: 'pending',
        expires_at: new Date(now + FLOW_TTL_MS).toISOString(),
        created_at: new Date(now).toISOString(),
      })
      .execute()
    return { flowId, secret, maxAgeS: FLOW_TTL_MS / 1000 }
  }

  /** The flow of a consent step, when it is pending and this browser started it. */
  private async pendingFlow(flowId: string | undefined, secret: string | undefined): Promise<Flow> {
    const flow = flowId
      ? await this.db.selectFrom('oauth_server_flows').selectAll().where('id', '=', flowId).executeTakeFirst()
      : undefined
    if (!flow) throw new ConsentError('unknown_flow')
    if (!secret || sha256Hex(secret) !== flow.secret_hash) throw new ConsentError('browser_mismatch')
    if (Date.parse(flow.expires_at) <= this.now()) throw new ConsentError('flow_expired')
    if (flow.status !== 'pending') throw new ConsentError('flow_submitted')
    return flow
  }

  /** What the consent pages show of a pending flow. */
  async view(flowId: string | undefined, secret: string | undefined): Promise<FlowView> {
    const flow = await this.pendingFlow(flowId, secret)
    const client = await this.db
      .selectFrom('oauth_server_clients')
      .select('client_name')
      .where('client_id', '=', flow.client_id)
      .executeTakeFirst()
    const identity = identityOf(flow)
    const vk = identity?.virtualKeyId ? this.deps.state.virtualKey(identity.virtualKeyId) : undefined
    return {
      id: flow.id,
      clientName: client?.client_name ?? 'An MCP client',
      redirectHost: new URL(flow.redirect_uri).host || flow.redirect_uri,
      identity,
      identityLabel:
        identity?.kind === 'vk'
          ? `virtual key “${vk?.name ?? '?'}”`
          : identity?.kind === 'user'
            ? `user “${identity.userId}”`
            : identity && 'no identity (this session only)',
      skipAllowed: !this.deps.enforceAuth(),
      userIdAllowed: !this.deps.enforceAuth(),
    }
  }

  async pendingUpstreams(view: FlowView): Promise<PendingUpstream[]> {
    if (!view.identity || !this.deps.listPendingUpstreams) return []
    return this.deps.listPendingUpstreams({ ...view.identity, flowId: view.id })
  }

  /** The user identifies with a virtual key: it must exist, be active and not expired. */
  async chooseVirtualKey(flowId: string | undefined, secret: string | undefined, value: string | undefined) {
    const flow = await this.pendingFlow(flowId, secret)
    const key = value?.trim()
    if (!key) throw new ConsentError('vk_required')
    const vk = this.deps.state.virtualKeyByValue(key)
    if (!vk) throw new ConsentError('vk_invalid')
    if (!virtualKeyUsable(vk, this.now())) throw new ConsentError('vk_inactive')
    await this.setIdentity(flow.id, { kind: 'vk', virtualKeyId: vk.id })
  }

  /** A self-declared user id, trusted as the `x-bf-user-id` header is; not under enforced auth. */
  async chooseUserId(flowId: string | undefined, secret: string | undefined, value: string | undefined) {
    const flow = await this.pendingFlow(flowId, secret)
    if (this.deps.enforceAuth()) throw new ConsentError('user_id_not_allowed')
    const userId = value?.trim()
    if (!userId || userId.length > MAX_USER_ID_LENGTH) throw new ConsentError('user_id_invalid')
    await this.setIdentity(flow.id, { kind: 'user', userId })
  }

  /** No identity: allowed only when inference auth is not enforced. */
  async skipIdentity(flowId: string | undefined, secret: string | undefined) {
    const flow = await this.pendingFlow(flowId, secret)
    if (this.deps.enforceAuth()) throw new ConsentError('skip_not_allowed')
    await this.setIdentity(flow.id, { kind: 'session' })
  }

  private async setIdentity(flowId: string, identity: ConsentIdentity) {
    await this.db
      .updateTable('oauth_server_flows')
      .set({
        identity_kind: identity.kind,
        virtual_key_id: identity.virtualKeyId ?? null,
        user_id: identity.userId ?? null,
      })
      .where('id', '=', flowId)
      .where('status', '=', 'pending')
      .execute()
  }

  /**
   * Ends the consent: marks the flow submitted (once: a second submit is 409), issues a single-use
   * code and answers the client's redirect URI with `code` and the client's `state` unchanged.
   */
  async submit(flowId: string | undefined, secret: string | undefined): Promise<string> {
    const flow = await this.pendingFlow(flowId, secret)
    const identity = identityOf(flow)
    if (!identity) throw new ConsentError('identity_required')
    const claimed = await this.db
      .updateTable('oauth_server_flows')
      .set({ status: 'submitted' })
      .where('id', '=', flow.id)
      .where('status', '=', 'pending')
      .executeTakeFirst()
    if (Number(claimed.numUpdatedRows) !== 1) throw new ConsentError('flow_submitted')
    const code = randomSecret('hmd_code_')
    const now = this.now()
    await this.db
      .insertInto('oauth_server_codes')
      .values({
        code_hash: sha256Hex(code),
        grant_id: randomUUID(),
        client_id: flow.client_id,
        redirect_uri: flow.redirect_uri,
        code_challenge: flow.code_challenge,
        resource: flow.resource,
        scope: flow.scope,
        identity_kind: identity.kind,
        virtual_key_id: flow.virtual_key_id,
        user_id: flow.user_id,
        used_at: null,
        expires_at: new Date(now + this.codeTtlS * 1000).toISOString(),
        created_at: new Date(now).toISOString(),
      })
      .execute()
    const target = new URL(flow.redirect_uri)
    target.searchParams.set('code', code)
    if (flow.state !== null) target.searchParams.set('state', flow.state)
    return target.toString()
  }

  /** The token endpoint: `authorization_code` (PKCE) and `refresh_token` (rotated on use). */
  async token(body: Record<string, unknown>, requestOrigin: string): Promise<TokenResponse> {
    if (body.grant_type === 'authorization_code') return this.exchangeCode(body, requestOrigin)
    if (body.grant_type === 'refresh_token') return this.refresh(body)
    throw new OAuthError('unsupported_grant_type', 'grant_type must be authorization_code or refresh_token')
  }

  private async exchangeCode(body: Record<string, unknown>, requestOrigin: string): Promise<TokenResponse> {
    const code = text(body.code)
    const verifier = text(body.code_verifier)
    if (!code) throw new OAuthError('invalid_request', 'code is required')
    if (!verifier) throw new OAuthError('invalid_request', 'code_verifier is required')
    const row = await this.db
      .selectFrom('oauth_server_codes')
      .selectAll()
      .where('code_hash', '=', sha256Hex(code))
      .executeTakeFirst()
    if (!row) throw new OAuthError('invalid_grant', 'the code is invalid')
    if (row.used_at !== null) {
      // A code seen twice may be stolen: the tokens it gave are revoked too (OAuth 2.1 §4.1.3).
      await this.db.deleteFrom('oauth_server_tokens').where('grant_id', '=', row.grant_id).execute()
      throw new OAuthError('invalid_grant', 'the code was already used')
    }
    if (Date.parse(row.expires_at) <= this.now())
      throw new OAuthError('invalid_grant', 'the code has expired')
    if (text(body.client_id) !== undefined && body.client_id !== row.client_id)
      throw new OAuthError('invalid_grant', 'the code was issued to another client')
    if (text(body.redirect_uri) !== undefined && body.redirect_uri !== row.redirect_uri)
      throw new OAuthError('invalid_grant', 'redirect_uri does not match the authorization request')
    const resource = text(body.resource)
    if (resource !== undefined && row.resource !== null && resource !== row.resource)
      throw new OAuthError('invalid_target', 'resource does not match the authorization request')
    if (resource !== undefined && !this.isOurResource(resource, requestOrigin))
      throw new OAuthError('invalid_target', 'resource is not this gateway’s MCP endpoint')
    if (!verifierMatches(verifier, row.code_challenge))
      throw new OAuthError('invalid_grant', 'code_verifier does not match the code_challenge')
    const used = await this.db
      .updateTable('oauth_server_codes')
      .set({ used_at: new Date(this.now()).toISOString() })
      .where('code_hash', '=', row.code_hash)
      .where('used_at', 'is', null)
      .executeTakeFirst()
    if (Number(used.numUpdatedRows) !== 1) throw new OAuthError('invalid_grant', 'the code was already used')
    return this.issueTokens({ ...row, resource: row.resource ?? resource ?? null })
  }

  private async refresh(body: Record<string, unknown>): Promise<TokenResponse> {
    const token = text(body.refresh_token)
    if (!token) throw new OAuthError('invalid_request', 'refresh_token is required')
    const hash = sha256Hex(token)
    const row = await this.db
      .selectFrom('oauth_server_tokens')
      .selectAll()
      .where('token_hash', '=', hash)
      .where('kind', '=', 'refresh')
      .executeTakeFirst()
    if (!row || Date.parse(row.expires_at) <= this.now())
      throw new OAuthError('invalid_grant', 'the refresh token is invalid or expired')
    if (text(body.client_id) !== undefined && body.client_id !== row.client_id)
      throw new OAuthError('invalid_grant', 'the refresh token was issued to another client')
    const scope = text(body.scope)
    if (scope !== undefined && scope.split(' ').some((s) => !row.scope.split(' ').includes(s)))
      throw new OAuthError('invalid_scope', 'a refresh cannot widen the scope')
    // Rotation: the old refresh token works once; whoever deletes it first gets the new pair.
    const deleted = await this.db
      .deleteFrom('oauth_server_tokens')
      .where('token_hash', '=', hash)
      .executeTakeFirst()
    if (Number(deleted.numDeletedRows) !== 1)
      throw new OAuthError('invalid_grant', 'the refresh token is invalid or expired')
    return this.issueTokens({ ...row, scope: scope ?? row.scope })
  }

  private async issueTokens(grant: TokenGrant): Promise<TokenResponse> {
    const access = randomSecret('hmd_at_')
    const refresh = randomSecret('hmd_rt_')
    const now = this.now()
    const common = {
      grant_id: grant.grant_id,
      client_id: grant.client_id,
      resource: grant.resource,
      scope: grant.scope,
      identity_kind: grant.identity_kind,
      virtual_key_id: grant.virtual_key_id,
      user_id: grant.user_id,
      created_at: new Date(now).toISOString(),
    }
    await this.db
      .insertInto('oauth_server_tokens')
      .values([
        {
          ...common,
          token_hash: sha256Hex(access),
          kind: 'access',
          expires_at: new Date(now + this.accessTtlS * 1000).toISOString(),
        },
        {
          ...common,
          token_hash: sha256Hex(refresh),
          kind: 'refresh',
          expires_at: new Date(now + REFRESH_TOKEN_TTL_MS).toISOString(),
        },
      ])
      .execute()
    return {
      access_token: access,
      token_type: 'Bearer',
      expires_in: this.accessTtlS,
      refresh_token: refresh,
      scope: grant.scope,
    }
  }

  /** The identity an access token stands for, or undefined when it is unknown, expired or for another resource. */
  async verifyAccessToken(token: string, requestOrigin: string): Promise<ConsentIdentity | undefined> {
    const row = await this.db
      .selectFrom('oauth_server_tokens')
      .selectAll()
      .where('token_hash', '=', sha256Hex(token))
      .where('kind', '=', 'access')
      .executeTakeFirst()
    if (!row || Date.parse(row.expires_at) <= this.now()) return undefined
    if (row.resource !== null && !this.isOurResource(row.resource, requestOrigin)) return undefined
    return {
      kind: row.identity_kind,
      ...(row.virtual_key_id !== null && { virtualKeyId: row.virtual_key_id }),
      ...(row.user_id !== null && { userId: row.user_id }),
    }
  }

  /** Our MCP endpoint, or the issuer itself (some clients name the server rather than the path). */
  private isOurResource(resource: string, requestOrigin: string): boolean {
    const issuer = this.issuer(requestOrigin)
    const normal = resource.replace(/\/+$/, '')
    return normal === `${issuer}/mcp` || normal === issuer
  }

  private grantedScope(requested: string | undefined): string {
    if (requested === undefined) return SCOPES.join(' ')
    const scopes = requested.split(' ').filter((s) => s !== '')
    const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s))
    if (unknown.length > 0) throw new OAuthError('invalid_scope', `unknown scope: ${unknown.join(' ')}`)
    return scopes.length > 0 ? scopes.join(' ') : SCOPES.join(' ')
  }

  /** Deletes expired flows, codes and tokens; a flow is kept an hour past its expiry to be told 410. */
  async sweep(): Promise<void> {
    const now = new Date(this.now()).toISOString()
    const flowsBefore = new Date(this.now() - FLOW_TOMBSTONE_MS).toISOString()
    await this.db.deleteFrom('oauth_server_flows').where('expires_at', '<=', flowsBefore).execute()
    await this.db.deleteFrom('oauth_server_codes').where('expires_at', '<=', now).execute()
    await this.db.deleteFrom('oauth_server_tokens').where('expires_at', '<=', now).execute()
    await this.purgeUnusedClients()
  }

  /**
   * Deletes clients registered longer ago than `unused_client_ttl_seconds` (24 h) that no flow, code
   * or token refers to: never authorized, or whose every grant has expired.
   */
  async purgeUnusedClients(): Promise<number> {
    const before = new Date(this.now() - this.registrationLimits.unusedClientTtlMs).toISOString()
    const result = await this.db
      .deleteFrom('oauth_server_clients')
      .where('created_at', '<=', before)
      .where('client_id', 'not in', (q) => q.selectFrom('oauth_server_flows').select('client_id'))
      .where('client_id', 'not in', (q) => q.selectFrom('oauth_server_codes').select('client_id'))
      .where('client_id', 'not in', (q) => q.selectFrom('oauth_server_tokens').select('client_id'))
      .executeTakeFirst()
    return Number(result.numDeletedRows)
  }
}

function identityOf(flow: Flow): ConsentIdentity | undefined {
  if (flow.identity_kind === null) return undefined
  return {
    kind: flow.identity_kind,
    ...(flow.virtual_key_id !== null && { virtualKeyId: flow.virtual_key_id }),
    ...(flow.user_id !== null && { userId: flow.user_id }),
  }
}
