import { OAuthError } from './errors.js'

/** A redirect URI a client may register: absolute, no fragment; plain http only to a loopback host. */
export function checkRedirectUri(uri: unknown): string {
  if (typeof uri !== 'string') throw new OAuthError('invalid_redirect_uri', 'redirect_uris must be strings')
  let url: URL
  try {
    url = new URL(uri)
  } catch {
    throw new OAuthError('invalid_redirect_uri', `redirect URI is not an absolute URL: ${uri}`)
  }
  if (url.hash) throw new OAuthError('invalid_redirect_uri', 'a redirect URI must not have a fragment')
  const scheme = url.protocol.slice(0, -1)
  if (['javascript', 'data', 'file', 'vbscript', 'blob'].includes(scheme))
    throw new OAuthError('invalid_redirect_uri', `redirect URI scheme ${scheme} is not allowed`)
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname)
  if (scheme === 'http' && !loopback)
    throw new OAuthError('invalid_redirect_uri', 'plain http redirect URIs are allowed only to localhost')
  return uri
}
