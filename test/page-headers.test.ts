import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

/**
 * Every HTML page (the web UI, the MCP consent pages and their error pages) is served with a CSP,
 * `X-Frame-Options: DENY` and `X-Content-Type-Options: nosniff`; API answers are left alone.
 */

let gw: RunningHeimdall

beforeAll(async () => {
  gw = await startHeimdall({})
})
afterAll(async () => {
  await gw?.close()
})

describe('page headers', () => {
  it('the web UI: a CSP of its own origin only (styles inline for Mantine), no framing, no sniffing', async () => {
    for (const path of ['/', '/login', '/dashboard']) {
      const res = await fetch(`${gw.url}${path}`)
      expect(res.headers.get('content-type'), path).toMatch(/^text\/html/)
      const csp = res.headers.get('content-security-policy') ?? ''
      expect(csp, path).toContain("default-src 'self'")
      expect(csp, path).toContain("script-src 'self';")
      expect(csp, path).toContain("style-src 'self' 'unsafe-inline'")
      expect(csp, path).toContain("frame-ancestors 'none'")
      expect(res.headers.get('x-frame-options'), path).toBe('DENY')
      expect(res.headers.get('x-content-type-options'), path).toBe('nosniff')
    }
  })

  it('the MCP consent pages, their error pages included: no script at all, no framing, no sniffing', async () => {
    const res = await fetch(`${gw.url}/oauth/consent?flow_id=no-such-flow`, {
      headers: { accept: 'text/html' },
    })
    expect(res.status).toBeGreaterThanOrEqual(400)
    expect(res.headers.get('content-type')).toMatch(/^text\/html/)
    const csp = res.headers.get('content-security-policy') ?? ''
    expect(csp).toContain("default-src 'none'")
    expect(csp).not.toContain('script-src')
    expect(csp).toContain("frame-ancestors 'none'")
    expect(res.headers.get('x-frame-options')).toBe('DENY')
    expect(res.headers.get('x-content-type-options')).toBe('nosniff')
  })

  it('API answers carry no page policy', async () => {
    const res = await fetch(`${gw.url}/api/providers`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-security-policy')).toBeNull()
  })
})
