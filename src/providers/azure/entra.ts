import { createHash } from 'node:crypto'
import { GatewayError } from '../../core/errors.js'
import { parseJsonBody, readText, sendUpstream, upstreamError } from '../http.js'
import type { Attempt } from '../../core/provider-adapter.js'
import { expiringToken, TokenCache, type CachedToken } from '../token-cache.js'

/** Microsoft Entra ID's public cloud; sovereign clouds and tests set `authority_host`. */
export const DEFAULT_AUTHORITY_HOST = 'https://login.microsoftonline.com'
export const DEFAULT_SCOPE = 'https://cognitiveservices.azure.com/.default'

export interface ClientCredentials {
  tenantId: string
  clientId: string
  clientSecret: string
  scopes: string[]
  authorityHost: string
}

/**
 * Access tokens from the client-credentials grant, cached per credential until shortly before
 * they expire. Concurrent requests for the same credential share one token request.
 */
export class EntraTokenCache {
  private readonly cache = new TokenCache()

  async token(a: Attempt, creds: ClientCredentials, providerName: string): Promise<string> {
    return this.cache.token(cacheKey(creds), () => fetchToken(a, creds, providerName))
  }
}

function cacheKey(c: ClientCredentials): string {
  return createHash('sha256')
    .update([c.authorityHost, c.tenantId, c.clientId, c.clientSecret, c.scopes.join(' ')].join('\n'))
    .digest('hex')
}

/** Entra ID's error body: `{ "error": "invalid_client", "error_description": "AADSTS7000215: ..." }`. */
function parseEntraError(json: unknown): { message?: string; code?: string } {
  const e = json as { error?: unknown; error_description?: unknown } | null
  return {
    message: typeof e?.error_description === 'string' ? e.error_description : undefined,
    code: typeof e?.error === 'string' ? e.error : undefined,
  }
}

async function fetchToken(a: Attempt, c: ClientCredentials, providerName: string): Promise<CachedToken> {
  const host = c.authorityHost.replace(/\/+$/, '')
  const url = `${host}/${encodeURIComponent(c.tenantId)}/oauth2/v2.0/token`
  const body = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: c.clientId,
    client_secret: c.clientSecret,
    scope: c.scopes.join(' '),
  }).toString()
  const res = await sendUpstream(
    a,
    { url, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body },
    providerName,
  )
  const text = await readText(res, providerName, a.signal)
  if (res.statusCode >= 400) {
    const err = upstreamError(providerName, res.statusCode, text, res.headers, parseEntraError)
    // Entra answers a wrong secret or client with 400/401: either way this key cannot be used.
    if (res.statusCode === 400 || res.statusCode === 401) {
      throw new GatewayError('upstream_error', `Entra ID refused the client credentials: ${err.message}`, {
        status: 401,
        type: 'authentication_error',
        upstreamCode: err.upstreamCode,
        isBifrostError: false,
        keyDead: true,
        retryable: true,
      })
    }
    throw err
  }
  const parsed = parseJsonBody<{ access_token?: unknown; expires_in?: unknown }>(providerName, text)
  if (typeof parsed.access_token !== 'string' || !parsed.access_token) {
    throw new GatewayError('upstream_bad_response', 'Entra ID answered without an access_token', {
      retryable: true,
    })
  }
  return expiringToken(parsed.access_token, Date.now() + Number(parsed.expires_in ?? 3600) * 1000)
}
