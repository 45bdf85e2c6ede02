import { OAuthError } from './errors.js'

/**
 * Bounds of dynamic client registration (RFC 7591), which anyone may call: how often one address
 * may register, and how large a registration may be; the defaults, unless config.json sets them.
 */
export const DEFAULT_REGISTRATION_LIMITS = {
  /** Registrations one client IP may attempt per window. */
  maxPerIp: 20,
  /** The window, in ms. */
  windowMs: 10 * 60 * 1000,
  /** Most redirect URIs per client. */
  maxRedirectUris: 10,
  /** Longest redirect URI, in characters. */
  maxRedirectUriLength: 2000,
  /** Longest client_name, in characters. */
  maxClientNameLength: 200,
  /** Largest registration body, in bytes. */
  maxBodyBytes: 16 * 1024,
  /** A client never authorized after this long (ms) is purged. */
  unusedClientTtlMs: 24 * 60 * 60 * 1000,
}

export type RegistrationLimits = typeof DEFAULT_REGISTRATION_LIMITS

/** `client.oauth2_server_config.registration` of config.json: the limits above, in seconds and counts. */
export interface RegistrationLimitsConfig {
  max_per_ip?: number
  window_seconds?: number
  max_redirect_uris?: number
  max_client_name_length?: number
  unused_client_ttl_seconds?: number
}

function positive(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
    throw new Error(`client.oauth2_server_config.registration.${name} must be a positive integer`)
  return value
}

/** The limits config.json sets, defaults for the rest; throws on a value that is not a positive integer. */
export function registrationLimits(config: RegistrationLimitsConfig | undefined): RegistrationLimits {
  const c = config ?? {}
  const d = DEFAULT_REGISTRATION_LIMITS
  const windowS = positive(c.window_seconds, 'window_seconds')
  const ttlS = positive(c.unused_client_ttl_seconds, 'unused_client_ttl_seconds')
  return {
    ...d,
    maxPerIp: positive(c.max_per_ip, 'max_per_ip') ?? d.maxPerIp,
    windowMs: windowS !== undefined ? windowS * 1000 : d.windowMs,
    maxRedirectUris: positive(c.max_redirect_uris, 'max_redirect_uris') ?? d.maxRedirectUris,
    maxClientNameLength:
      positive(c.max_client_name_length, 'max_client_name_length') ?? d.maxClientNameLength,
    unusedClientTtlMs: ttlS !== undefined ? ttlS * 1000 : d.unusedClientTtlMs,
  }
}

/** The size limits a registration's metadata must keep; throws RFC 7591's errors. */
export function checkRegistrationSize(input: Record<string, unknown>, limits: RegistrationLimits): void {
  const uris = input.redirect_uris
  if (Array.isArray(uris)) {
    if (uris.length > limits.maxRedirectUris)
      throw new OAuthError(
        'invalid_redirect_uri',
        `at most ${limits.maxRedirectUris} redirect_uris may be registered, not ${uris.length}`,
      )
    if (uris.some((u) => typeof u === 'string' && u.length > limits.maxRedirectUriLength))
      throw new OAuthError(
        'invalid_redirect_uri',
        `a redirect URI may be at most ${limits.maxRedirectUriLength} characters`,
      )
  }
  const name = input.client_name
  if (name !== undefined && (typeof name !== 'string' || name.length > limits.maxClientNameLength))
    throw new OAuthError(
      'invalid_client_metadata',
      `client_name must be a string of at most ${limits.maxClientNameLength} characters`,
    )
}

/**
 * Registrations per client IP in a sliding window, in memory (each node counts its own). Answers
 * how many seconds the caller must wait, or 0 when it may go on (and counts the attempt).
 */
export class RegistrationRateLimiter {
  private readonly attempts = new Map<string, number[]>()

  constructor(
    private readonly limits: () => Pick<RegistrationLimits, 'maxPerIp' | 'windowMs'>,
    private readonly now: () => number = Date.now,
  ) {}

  take(ip: string): number {
    const { maxPerIp, windowMs } = this.limits()
    const now = this.now()
    const since = now - windowMs
    // Forget addresses whose window has passed, so that the map stays as small as the traffic.
    if (this.attempts.size > 1000) {
      for (const [key, times] of this.attempts)
        if (times[times.length - 1] <= since) this.attempts.delete(key)
    }
    const times = (this.attempts.get(ip) ?? []).filter((t) => t > since)
    if (times.length >= maxPerIp) {
      this.attempts.set(ip, times)
      return Math.max(1, Math.ceil((times[0] + windowMs - now) / 1000))
    }
    times.push(now)
    this.attempts.set(ip, times)
    return 0
  }
}
