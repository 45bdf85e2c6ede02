/** An access token and when to fetch the next one (epoch milliseconds). */
export interface CachedToken {
  token: string
  refreshAt: number
}

/** Refresh this long before expiry, so that no request leaves with a token about to lapse. */
const REFRESH_MARGIN_MS = 5 * 60_000

/** A token expiring at `expiresAt`, fetched again 5 minutes before (half its life before, when shorter). */
export function expiringToken(token: string, expiresAt: number): CachedToken {
  const lifetimeMs = Math.max(0, expiresAt - Date.now())
  return { token, refreshAt: expiresAt - Math.min(REFRESH_MARGIN_MS, lifetimeMs / 2) }
}

/**
 * Access tokens (Entra ID's, Google's) cached per credential until their refresh time. Concurrent
 * requests for one credential share one token request.
 */
export class TokenCache {
  private readonly tokens = new Map<string, CachedToken>()
  private readonly pending = new Map<string, Promise<CachedToken>>()

  /** The token of the credential `id`, from the cache or from `fetchToken` (called once for concurrent misses). */
  async token(id: string, fetchToken: () => Promise<CachedToken>): Promise<string> {
    const cached = this.tokens.get(id)
    if (cached && cached.refreshAt > Date.now()) return cached.token
    let request = this.pending.get(id)
    if (!request) {
      request = fetchToken().finally(() => this.pending.delete(id))
      this.pending.set(id, request)
    }
    const fresh = await request
    this.tokens.set(id, fresh)
    return fresh.token
  }

  /** Drops a token the provider refused, so the next request gets a new one. */
  forget(id: string): void {
    this.tokens.delete(id)
  }
}
