import type { ProviderConfig } from './schemas/index.js'

/** Headers a caller may not set on the upstream request through `x-bf-eh-*`. */
const DENIED_EXTRA_HEADERS = new Set([
  'authorization',
  'x-api-key',
  'api-key',
  'x-goog-api-key',
  'host',
  'content-length',
  'content-type',
  'cookie',
  'connection',
  'transfer-encoding',
  'proxy-authorization',
])

/** network_config.extra_headers, then the caller's `x-bf-eh-<name>` headers (security headers denied). */
export function extraHeaders(
  config: ProviderConfig,
  headers: Record<string, string | string[] | undefined>,
): Record<string, string> {
  const out: Record<string, string> = { ...config.network_config.extra_headers }
  for (const name in headers) {
    if (name.charCodeAt(0) !== 120 /* x */ && name !== 'anthropic-beta') continue
    const value = headers[name]
    if (value === undefined) continue
    if (name === 'anthropic-beta') {
      out[name] = Array.isArray(value) ? value.join(',') : value
    } else if (name.startsWith('x-bf-eh-')) {
      const upstream = name.slice(8)
      if (upstream && !DENIED_EXTRA_HEADERS.has(upstream))
        out[upstream] = Array.isArray(value) ? value.join(',') : value
    }
  }
  return out
}
