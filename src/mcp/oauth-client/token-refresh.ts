import { refreshAuthorization } from '@modelcontextprotocol/sdk/client/auth.js'
import {
  OAuthError,
  ServerError,
  TemporarilyUnavailableError,
} from '@modelcontextprotocol/sdk/server/auth/errors.js'
import type { OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js'
import type { Kysely } from 'kysely'
import type {
  ConfigStore,
  ConfigStoreTables,
  McpOAuthCredentialsTables,
  McpOAuthTokensTable,
} from '../../store/index.js'
import type { McpClientConfig } from '../clients/config.js'
import type { UpstreamRegistrations } from './upstream-registration.js'

/**
 * What a refresh grant came to: a new access token; `refused` (invalid_grant and the like, or no
 * refresh token: only a new login helps); or `unavailable` (network failure, 5xx: try later).
 */
export type RefreshOutcome =
  { kind: 'refreshed'; accessToken: string } | { kind: 'refused' } | { kind: 'unavailable'; cause: unknown }

export interface TokenRefreshDeps {
  db: Kysely<ConfigStoreTables & McpOAuthCredentialsTables>
  secrets: ConfigStore['secrets']
  registrations: UpstreamRegistrations
  now: () => number
}

export const isoTime = (ms: number) => new Date(ms).toISOString()

/** When tokens issued now expire, or null when the authorization server did not say. */
export const expiryOf = (tokens: OAuthTokens, now: number): string | null =>
  tokens.expires_in === undefined ? null : isoTime(now + tokens.expires_in * 1000)

/** The refresh grant of stored per-user tokens, one at a time per token (concurrent callers share it). */
export class TokenRefresher {
  private readonly pending = new Map<string, Promise<RefreshOutcome>>()

  constructor(private readonly deps: TokenRefreshDeps) {}

  refresh(cfg: McpClientConfig, row: McpOAuthTokensTable): Promise<RefreshOutcome> {
    let pending = this.pending.get(row.id)
    if (!pending) {
      pending = this.grant(cfg, row).finally(() => this.pending.delete(row.id))
      this.pending.set(row.id, pending)
    }
    return pending
  }

  private async grant(cfg: McpClientConfig, row: McpOAuthTokensTable): Promise<RefreshOutcome> {
    const { registrations, secrets } = this.deps
    const reg = row.oauth_config_id === null ? undefined : await registrations.byId(row.oauth_config_id)
    if (!reg || row.refresh_token === null) return this.refused(row)
    let tokens: OAuthTokens
    try {
      tokens = await refreshAuthorization(reg.row.authorization_server, {
        metadata: reg.metadata,
        clientInformation: reg.client,
        refreshToken: secrets.open(row.refresh_token),
        resource: reg.row.resource ?? undefined,
        fetchFn: registrations.fetchFor(cfg),
      })
    } catch (err) {
      const refused =
        err instanceof OAuthError &&
        !(err instanceof ServerError) &&
        !(err instanceof TemporarilyUnavailableError)
      return refused ? this.refused(row) : { kind: 'unavailable', cause: err }
    }
    const now = isoTime(this.deps.now())
    await this.deps.db
      .updateTable('mcp_oauth_tokens')
      .set({
        access_token: secrets.seal(tokens.access_token),
        refresh_token: tokens.refresh_token ? secrets.seal(tokens.refresh_token) : row.refresh_token,
        token_type: tokens.token_type,
        scope: tokens.scope ?? row.scope,
        expires_at: expiryOf(tokens, this.deps.now()),
        status: 'active',
        last_refreshed_at: now,
        updated_at: now,
      })
      .where('id', '=', row.id)
      .execute()
    return { kind: 'refreshed', accessToken: tokens.access_token }
  }

  private async refused(row: McpOAuthTokensTable): Promise<RefreshOutcome> {
    await this.deps.db
      .updateTable('mcp_oauth_tokens')
      .set({ status: 'needs_reauth', updated_at: isoTime(this.deps.now()) })
      .where('id', '=', row.id)
      .execute()
    return { kind: 'refused' }
  }
}
