import { describe, expect, it } from 'vitest'
import { absoluteLoginLinks, loginPath } from './login-flows.js'

describe('absoluteLoginLinks', () => {
  const origin = 'https://gw.example:8443'
  const link = loginPath('flow-1')

  it('puts the origin before relative login links in messages and JSON', () => {
    expect(absoluteLoginLinks(`needs you to log in: open ${link}, then call the tool again`, origin)).toBe(
      `needs you to log in: open ${origin}${link}, then call the tool again`,
    )
    expect(absoluteLoginLinks(JSON.stringify({ login_url: link, authorize_url: link }), `${origin}/`)).toBe(
      JSON.stringify({ login_url: `${origin}${link}`, authorize_url: `${origin}${link}` }),
    )
    expect(absoluteLoginLinks(link, origin)).toBe(`${origin}${link}`)
  })

  it('leaves absolute links and other text alone', () => {
    const absolute = `open https://public.example${link}`
    expect(absoluteLoginLinks(absolute, origin)).toBe(absolute)
    expect(absoluteLoginLinks('no link here', origin)).toBe('no link here')
  })
})
