import {
  discoverAuthorizationServerMetadata,
  discoverOAuthProtectedResourceMetadata,
  extractWWWAuthenticateParams,
} from '@modelcontextprotocol/sdk/client/auth.js'
import type {
  AuthorizationServerMetadata,
  OAuthProtectedResourceMetadata,
} from '@modelcontextprotocol/sdk/shared/auth.js'
import {
  checkResourceAllowed,
  resourceUrlFromServerUrl,
} from '@modelcontextprotocol/sdk/shared/auth-utils.js'
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js'
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js'
import { DiscoveryAddressRefused } from './discovery-guard.js'

/** What an upstream MCP server tells an unauthenticated client about logging in to it. */
export interface UpstreamAuthorization {
  authorizationServerUrl: string
  metadata: AuthorizationServerMetadata | undefined
  resourceMetadata: OAuthProtectedResourceMetadata | undefined
  /** The RFC 8707 resource indicator: the metadata's `resource` (checked), else the server URL. */
  resource: string
  /** The `scope` of the server's `WWW-Authenticate` challenge, when it named one. */
  challengeScope: string | undefined
}

/** The protected-resource metadata names another resource than the MCP server (RFC 9728 §3.3). */
export class ResourceMismatch extends Error {
  constructor(
    readonly resource: string,
    readonly serverUrl: string,
  ) {
    super(`its protected-resource metadata names the resource ${resource}, not this server (${serverUrl})`)
    this.name = 'ResourceMismatch'
  }
}

const rpc = (id: number, method: string, params: Record<string, unknown>) =>
  JSON.stringify({ jsonrpc: '2.0', id, method, params })

/**
 * The server's answers to unauthenticated MCP requests, until one is a 401 challenge: `initialize`
 * first, then `tools/list` (some servers let `initialize` through and guard everything else).
 */
async function challenge(serverUrl: string, fetchFn: FetchLike): Promise<Response | undefined> {
  const bodies = [
    rpc(1, 'initialize', {
      protocolVersion: LATEST_PROTOCOL_VERSION,
      capabilities: {},
      clientInfo: { name: 'heimdall', version: '0.1.0' },
    }),
    rpc(2, 'tools/list', {}),
  ]
  for (const body of bodies) {
    let res: Response
    try {
      res = await fetchFn(serverUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': LATEST_PROTOCOL_VERSION,
        },
        body,
      })
    } catch (err) {
      if (err instanceof DiscoveryAddressRefused) throw err
      return undefined
    }
    await res.body?.cancel().catch(() => undefined)
    if (res.status === 401) return res
    // A session the server opened for the unauthenticated initialize is closed again.
    const session = res.headers.get('mcp-session-id')
    if (session !== null)
      await fetchFn(serverUrl, { method: 'DELETE', headers: { 'mcp-session-id': session } })
        .then((r) => r.body?.cancel())
        .catch(() => undefined)
  }
  return undefined
}

/**
 * Discovery as the MCP authorization spec (2025-06-18, 2025-11-25) orders it: an unauthenticated
 * request, whose 401 `WWW-Authenticate` may name the protected-resource metadata and the scope;
 * then RFC 9728's well-known paths (path-aware, then root); the metadata's `resource` must be this
 * server (else ResourceMismatch: nothing is sent to its authorization server); then the
 * authorization server's RFC 8414 / OIDC metadata. Without protected-resource metadata the
 * server's origin is taken as its authorization server (2025-03-26 servers).
 */
export async function discoverUpstreamAuthorization(
  serverUrl: string,
  fetchFn: FetchLike,
): Promise<UpstreamAuthorization> {
  const answer = await challenge(serverUrl, fetchFn)
  const params = answer ? extractWWWAuthenticateParams(answer) : {}
  let resourceMetadata: OAuthProtectedResourceMetadata | undefined
  for (const resourceMetadataUrl of [params.resourceMetadataUrl, undefined]) {
    try {
      resourceMetadata = await discoverOAuthProtectedResourceMetadata(
        serverUrl,
        { resourceMetadataUrl },
        fetchFn,
      )
      break
    } catch (err) {
      if (err instanceof DiscoveryAddressRefused) throw err
      // Not there: the next place, or none (a server without RFC 9728 metadata).
    }
  }
  const ownResource = resourceUrlFromServerUrl(serverUrl)
  if (
    resourceMetadata &&
    !checkResourceAllowed({ requestedResource: ownResource, configuredResource: resourceMetadata.resource })
  )
    throw new ResourceMismatch(resourceMetadata.resource, serverUrl)
  const authorizationServerUrl =
    resourceMetadata?.authorization_servers?.[0] ?? String(new URL('/', serverUrl))
  const metadata = await discoverAuthorizationServerMetadata(authorizationServerUrl, { fetchFn })
  return {
    authorizationServerUrl,
    metadata,
    resourceMetadata,
    resource: resourceMetadata?.resource ?? ownResource.href,
    challengeScope: params.scope,
  }
}

/** The scopes of a space-separated scope string, once each. */
export const scopeSet = (...scopes: (string | null | undefined)[]): Set<string> =>
  new Set(scopes.flatMap((s) => (s ? s.split(' ').filter(Boolean) : [])))
