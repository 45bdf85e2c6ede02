import type { FastifyInstance } from 'fastify'

/**
 * The web UI (React, Vite's bundle: no inline script; Mantine injects style tags, hence
 * 'unsafe-inline' for styles). Connections only to its own origin (API, /ws/logs).
 */
export const UI_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ')

/**
 * The MCP consent pages: server-rendered, an inline style sheet, no script. No form-action, since
 * the consent's answer redirects to the MCP client's redirect_uri.
 */
export const CONSENT_CSP = [
  "default-src 'none'",
  "style-src 'unsafe-inline'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ')

/** Where the consent pages and their error pages are answered. */
const CONSENT_PREFIXES = ['/oauth/', '/api/oauth/']

/**
 * Every HTML page the gateway answers (the UI, the consent pages, their error pages) carries a
 * CSP, `X-Frame-Options: DENY` (no clickjacking of the consent or the dashboard) and
 * `X-Content-Type-Options: nosniff`; so do the UI's scripts and style sheets (nosniff).
 */
export function installPageHeaders(app: FastifyInstance): void {
  // A callback hook: it runs on every answer, and an async one costs a promise each time.
  app.addHook('onSend', (request, reply, payload, done) => {
    const type = reply.getHeader('content-type')
    if (typeof type !== 'string') return done(null, payload)
    if (type.startsWith('text/html')) {
      const path = request.url.split('?', 1)[0]
      reply.header(
        'content-security-policy',
        CONSENT_PREFIXES.some((p) => path.startsWith(p)) ? CONSENT_CSP : UI_CSP,
      )
      reply.header('x-frame-options', 'DENY')
      reply.header('x-content-type-options', 'nosniff')
    } else if (type.startsWith('text/css') || type.includes('javascript')) {
      reply.header('x-content-type-options', 'nosniff')
    }
    done(null, payload)
  })
}
