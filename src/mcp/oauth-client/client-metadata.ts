/** Where Heimdall serves its OAuth client ID metadata document (draft-ietf-oauth-client-id-metadata-document). */
export const CLIENT_METADATA_PATH = '/api/oauth/client-metadata.json'

/** Heimdall's client ID metadata document: what an authorization server learns of it from its client id. */
export interface ClientMetadataDocument {
  client_id: string
  client_name: string
  client_uri: string
  redirect_uris: string[]
  grant_types: string[]
  response_types: string[]
  token_endpoint_auth_method: 'none'
}

/**
 * The document served at `clientId` (its own URL, as the draft requires), naming the callback URLs
 * of the base URL: Heimdall is a public client (PKCE, no secret) that uses refresh tokens.
 */
export function clientMetadataDocument(clientId: string, callbackUrls: string[]): ClientMetadataDocument {
  return {
    client_id: clientId,
    client_name: 'Heimdall',
    client_uri: new URL('/', clientId).href,
    redirect_uris: callbackUrls,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  }
}

/** The client id Heimdall uses for a callback URL: the document on the same origin, https only. */
export function clientMetadataUrlFor(redirectUri: string): string | undefined {
  const url = new URL(CLIENT_METADATA_PATH, redirectUri).href
  return url.startsWith('https://') ? url : undefined
}
