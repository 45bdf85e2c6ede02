import type { Usage } from '../core/schemas/index.js'

/** Unified cache details: reads, writes (under our name and Bifrost's) and the 1-hour part of the writes. */
export function cacheDetails(
  read: number,
  written: number,
  written1h: number | undefined,
): NonNullable<Usage['prompt_tokens_details']> {
  const oneHour = Math.min(written1h ?? 0, written)
  return {
    cached_tokens: read,
    cache_creation_tokens: written,
    ...(written > 0 && { cached_write_tokens: written }),
    ...(oneHour > 0 && { cached_write_1h_tokens: oneHour }),
  }
}
