import { createHash } from 'node:crypto'
import { GoogleAuth } from 'google-auth-library'
import { GatewayError } from '../../core/errors.js'
import { expiringToken, TokenCache, type CachedToken } from '../token-cache.js'

/** The token endpoint google-auth-library always posts to; a credential's own `token_uri` replaces it. */
const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token'
const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform'

/** Credential types taken from a key; others (external_account) could read files or run programs. */
const ALLOWED_TYPES = new Set(['service_account', 'authorized_user'])

export interface GoogleCredentials {
  type: string
  token_uri?: string
  [k: string]: unknown
}

/** Parses a service account (or authorized user) JSON, with a clear 400 when it is not one. */
export function parseGoogleCredentials(text: string, where: string): GoogleCredentials {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new GatewayError(
      'provider_not_configured',
      `${where} is not valid JSON (expected a service account key file)`,
      {
        param: 'auth_credentials',
        retryable: false,
      },
    )
  }
  const c = json as Record<string, unknown> | null
  if (!c || typeof c !== 'object' || typeof c.type !== 'string' || !ALLOWED_TYPES.has(c.type)) {
    throw new GatewayError(
      'provider_not_configured',
      `${where} must be a service_account or authorized_user JSON (found type ${String(c?.type)})`,
      { param: 'auth_credentials', retryable: false },
    )
  }
  if (
    c.type === 'service_account' &&
    (typeof c.client_email !== 'string' || typeof c.private_key !== 'string')
  ) {
    throw new GatewayError('provider_not_configured', `${where} lacks client_email or private_key`, {
      param: 'auth_credentials',
      retryable: false,
    })
  }
  return c as GoogleCredentials
}

/**
 * OAuth access tokens for Google credentials, obtained with google-auth-library (JWT bearer grant for
 * service accounts) and cached per credential until shortly before they expire. Concurrent requests
 * for one credential share one token request.
 */
export class GoogleTokenCache {
  private readonly cache = new TokenCache()

  async token(credentialsJson: string, where: string, timeoutMs: number): Promise<string> {
    // The key is parsed (and refused with a clear 400) only when a token must be fetched.
    return this.cache.token(cacheKey(credentialsJson), () =>
      fetchToken(parseGoogleCredentials(credentialsJson, where), timeoutMs),
    )
  }

  /** Drops a token Google refused (revoked, or the account lost access), so the next request gets a new one. */
  forget(credentialsJson: string): void {
    this.cache.forget(cacheKey(credentialsJson))
  }
}

function cacheKey(json: string): string {
  return createHash('sha256').update(json).digest('hex')
}

async function fetchToken(creds: GoogleCredentials, timeoutMs: number): Promise<CachedToken> {
  // The library posts to Google's URL whatever the key file says; honour `token_uri` as Go's
  // oauth2/google (and so Bifrost) does: private endpoints, other universes, tests.
  const tokenUri = typeof creds.token_uri === 'string' && creds.token_uri ? creds.token_uri : GOOGLE_TOKEN_URL
  const fetchImplementation: typeof fetch = (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
    return fetch(url === GOOGLE_TOKEN_URL ? tokenUri : url, init)
  }
  const client = new GoogleAuth({ scopes: [CLOUD_PLATFORM_SCOPE] }).fromJSON(creds, {
    transporterOptions: { fetchImplementation, timeout: timeoutMs },
  })
  let token: string | null | undefined
  try {
    token = (await client.getAccessToken()).token
  } catch (err) {
    throw tokenError(err)
  }
  if (!token) {
    throw new GatewayError(
      'upstream_bad_response',
      'Google answered the token request without an access_token',
      {
        retryable: true,
      },
    )
  }
  return expiringToken(token, client.credentials.expiry_date ?? Date.now() + 3_600_000)
}

/** A failed token request: refused credentials are a 401 for this key, anything else a 502. */
function tokenError(err: unknown): GatewayError {
  const e = err as { name?: string; message?: string; status?: number; response?: { status?: number } }
  const status = e.response?.status ?? e.status
  const message = e.message ?? String(err)
  // Not an HTTP failure: the library could not sign with the key (a broken private_key).
  const unusableKey = status === undefined && e.name !== 'GaxiosError'
  if (unusableKey || status === 400 || status === 401 || status === 403) {
    return new GatewayError('upstream_error', `Google refused the service account credentials: ${message}`, {
      status: 401,
      type: 'authentication_error',
      isBifrostError: false,
      keyDead: true,
      retryable: true,
      cause: err,
    })
  }
  if (status !== undefined) {
    return new GatewayError('upstream_error', `Google's token endpoint answered ${status}: ${message}`, {
      status: status >= 500 ? status : 502,
      isBifrostError: false,
      cause: err,
    })
  }
  return new GatewayError('upstream_connection_error', `could not get a Google access token: ${message}`, {
    cause: err,
  })
}
