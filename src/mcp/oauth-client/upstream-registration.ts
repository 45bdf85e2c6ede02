import { randomUUID } from 'node:crypto'
import { registerClient } from '@modelcontextprotocol/sdk/client/auth.js'
import type {
  AuthorizationServerMetadata,
  OAuthClientInformationMixed,
} from '@modelcontextprotocol/sdk/shared/auth.js'
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js'
import type { Kysely } from 'kysely'
import { GatewayError } from '../../core/errors.js'
import type {
  ConfigStore,
  ConfigStoreTables,
  McpOAuthConfigsTable,
  McpOAuthCredentialsTables,
} from '../../store/index.js'
import { connectionUrl, type McpClientConfig } from '../clients/config.js'
import { DiscoveryAddressRefused, guardedFetch, type HostResolver } from './discovery-guard.js'
import {
  discoverUpstreamAuthorization,
  ResourceMismatch,
  scopeSet,
  type UpstreamAuthorization,
} from './discovery.js'

/** Heimdall's client registration with an upstream authorization server, for one callback URL. */
export interface Registration {
  row: McpOAuthConfigsTable
  metadata: AuthorizationServerMetadata | undefined
  client: OAuthClientInformationMixed
}

export interface UpstreamRegistrationsDeps {
  db: Kysely<ConfigStoreTables & McpOAuthCredentialsTables>
  secrets: ConfigStore['secrets']
  now: () => number
  fetchFn?: FetchLike
  resolveHost?: HostResolver
  /**
   * The https URL of Heimdall's client ID metadata document for a callback URL, used as the
   * client id where the authorization server supports such documents; undefined: register instead.
   */
  clientMetadataUrl?: (redirectUri: string) => string | undefined
}

/**
 * Discovery of an upstream MCP server's authorization server and Heimdall's registration with it
 * (dynamic, or the configured `oauth_config.client_id`), stored sealed in `mcp_oauth_configs`.
 */
export class UpstreamRegistrations {
  constructor(private readonly deps: UpstreamRegistrationsDeps) {}

  /** Fetch for the OAuth URLs an upstream MCP server names: their addresses checked, redirects too. */
  fetchFor(cfg: McpClientConfig): FetchLike {
    return guardedFetch(this.deps.fetchFn ?? fetch, connectionUrl(cfg), this.deps.resolveHost)
  }

  /** Heimdall's registration for this client and callback URL: discovered and registered once, then reused. */
  async forCallback(cfg: McpClientConfig, redirectUri: string): Promise<Registration> {
    const stored = await this.deps.db
      .selectFrom('mcp_oauth_configs')
      .selectAll()
      .where('mcp_client_id', '=', cfg.client_id)
      .where('redirect_uri', '=', redirectUri)
      .orderBy('created_at', 'desc')
      .executeTakeFirst()
    const configuredId = cfg.oauth_config?.client_id
    if (stored) {
      const reg = this.parse(stored)
      if (configuredId === undefined || reg.client.client_id === configuredId) return reg
    }
    const serverUrl = connectionUrl(cfg)
    let info: UpstreamAuthorization
    try {
      info = await discoverUpstreamAuthorization(serverUrl, this.fetchFor(cfg))
    } catch (err) {
      if (err instanceof DiscoveryAddressRefused)
        throw new GatewayError(
          'forbidden',
          `OAuth discovery for MCP client ${cfg.name} refused to fetch ${err.message}`,
          { cause: err, retryable: false },
        )
      if (err instanceof ResourceMismatch)
        throw new GatewayError(
          'forbidden',
          `MCP client ${cfg.name}: Heimdall refuses to log in, because ${err.message}`,
          { cause: err, retryable: false },
        )
      throw new GatewayError(
        'upstream_error',
        `OAuth discovery for MCP client ${cfg.name} failed: ${(err as Error).message}`,
        { cause: err },
      )
    }
    const metadata = info.metadata
    const resource = info.resource
    // The MCP spec's order: the challenge's scope, else the server's scopes_supported; configured scopes are added.
    const asked = scopeSet(cfg.oauth_config?.scopes?.join(' '), info.challengeScope)
    const scopes = asked.size > 0 ? [...asked] : info.resourceMetadata?.scopes_supported
    const scope = scopes && scopes.length > 0 ? scopes.join(' ') : undefined
    const registeredScope = [...scopeSet(scope, info.resourceMetadata?.scopes_supported?.join(' '))].join(' ')
    const documentUrl = metadata?.client_id_metadata_document_supported
      ? this.deps.clientMetadataUrl?.(redirectUri)
      : undefined
    let client: OAuthClientInformationMixed
    if (configuredId !== undefined) {
      client = { client_id: configuredId }
      if (cfg.oauth_config?.client_secret) client.client_secret = cfg.oauth_config.client_secret
    } else if (documentUrl !== undefined) {
      client = { client_id: documentUrl, token_endpoint_auth_method: 'none' }
    } else {
      // Without any metadata (2025-03-26 servers), the SDK registers at the default /register.
      if (metadata && !metadata.registration_endpoint)
        throw new GatewayError(
          'invalid_request',
          `MCP client ${cfg.name}: the authorization server offers no dynamic registration; set oauth_config.client_id`,
        )
      try {
        client = await registerClient(info.authorizationServerUrl, {
          metadata,
          clientMetadata: {
            client_name: 'Heimdall',
            redirect_uris: [redirectUri],
            grant_types: ['authorization_code', 'refresh_token'],
            response_types: ['code'],
            // Registered for every scope the server lists too, so that a later step-up stays within it.
            ...(registeredScope ? { scope: registeredScope } : {}),
          },
          fetchFn: this.fetchFor(cfg),
        })
      } catch (err) {
        if (err instanceof DiscoveryAddressRefused)
          throw new GatewayError(
            'forbidden',
            `MCP client ${cfg.name}: registration refused to fetch ${err.message}`,
            {
              cause: err,
              retryable: false,
            },
          )
        throw new GatewayError(
          'upstream_error',
          `registering with the authorization server of MCP client ${cfg.name} failed: ${(err as Error).message}`,
          { cause: err },
        )
      }
    }
    const row: McpOAuthConfigsTable = {
      id: randomUUID(),
      mcp_client_id: cfg.client_id,
      redirect_uri: redirectUri,
      authorization_server: info.authorizationServerUrl,
      metadata: metadata ? JSON.stringify(metadata) : null,
      resource,
      scope: scope ?? null,
      client_information: this.deps.secrets.seal(JSON.stringify(client)),
      created_at: new Date(this.deps.now()).toISOString(),
    }
    await this.deps.db.insertInto('mcp_oauth_configs').values(row).execute()
    return { row, metadata, client }
  }

  /** Step-up: later logins through this registration ask for these scopes too. */
  async widenScope(id: string, scope: string): Promise<void> {
    await this.deps.db.updateTable('mcp_oauth_configs').set({ scope }).where('id', '=', id).execute()
  }

  async byId(id: string): Promise<Registration | undefined> {
    const row = await this.deps.db
      .selectFrom('mcp_oauth_configs')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst()
    return row ? this.parse(row) : undefined
  }

  private parse(row: McpOAuthConfigsTable): Registration {
    return {
      row,
      metadata: row.metadata === null ? undefined : (JSON.parse(row.metadata) as AuthorizationServerMetadata),
      client: JSON.parse(this.deps.secrets.open(row.client_information)) as OAuthClientInformationMixed,
    }
  }
}
