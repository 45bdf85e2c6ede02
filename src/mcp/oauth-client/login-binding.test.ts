import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sqliteBackend, tempDir } from '../../../test/helpers/databases.js'
import { openConfigStore, type ConfigStore } from '../../store/index.js'
import { isLocalPath, LoginBinding } from './login-binding.js'

const flow = {
  id: 'flow-1',
  auth_mode: 'vk' as const,
  identity_id: 'key-c',
  expires_at: '2030-01-01T00:00:00.000Z',
}

describe('LoginBinding', () => {
  let store: ConfigStore
  let binding: LoginBinding

  beforeAll(async () => {
    store = await openConfigStore(await sqliteBackend('login-binding').fresh(), {
      appDir: tempDir('login-binding-app'),
      encryptionKey: 'a passphrase for the test store',
    })
    binding = new LoginBinding(store)
  })
  afterAll(async () => {
    await store?.close()
  })

  it('signs a state for one flow and identity only', async () => {
    const state = await binding.stateFor(flow)
    expect(await binding.stateMatches(state, flow)).toBe(true)
    expect(await binding.stateMatches(state, { ...flow, identity_id: 'key-d' })).toBe(false)
    expect(await binding.stateMatches(state, { ...flow, id: 'flow-2' })).toBe(false)
    expect(await binding.stateMatches(state, { ...flow, auth_mode: 'session' })).toBe(false)
    const [nonce, mac] = state.split('.')
    expect(await binding.stateMatches(`${nonce}.${mac.slice(1)}x`, flow)).toBe(false)
    expect(await binding.stateMatches(`${nonce}x.${mac}`, flow)).toBe(false)
    expect(await binding.stateMatches('no-dot', flow)).toBe(false)
    expect(await binding.stateMatches(`${state}.more`, flow)).toBe(false)
  })

  it('binds a state to the browser cookie, with the page to return to', async () => {
    const state = await binding.stateFor(flow)
    const cookie = await binding.browserCookie(state, '/oauth/consent/mcps?flow_id=f')
    expect(await binding.browserMatches(state, cookie)).toEqual({
      ok: true,
      returnTo: '/oauth/consent/mcps?flow_id=f',
    })
    expect(await binding.browserMatches(state, await binding.browserCookie(state, undefined))).toEqual({
      ok: true,
    })
    expect(await binding.browserMatches(await binding.stateFor(flow), cookie)).toEqual({ ok: false })
    expect(await binding.browserMatches(state, undefined)).toEqual({ ok: false })
    // Another page to return to, with the same MAC: refused.
    const [, mac] = cookie.split('.')
    const moved = `${Buffer.from('//evil.example').toString('base64url')}.${mac}`
    expect(await binding.browserMatches(state, moved)).toEqual({ ok: false })
  })

  it('shares its key through the store: another node verifies what this one signed', async () => {
    const state = await binding.stateFor(flow)
    const otherNode = new LoginBinding(store)
    expect(await otherNode.stateMatches(state, flow)).toBe(true)
    // The key is sealed at rest.
    const row = await store.db
      .selectFrom('kv')
      .select('value')
      .where('key', '=', 'mcp_oauth:login_binding_key')
      .executeTakeFirst()
    expect(String(JSON.parse(row!.value))).toMatch(/^enc:/)
  })

  it('accepts as a return page only a path on this origin', () => {
    expect(isLocalPath('/oauth/consent/mcps?flow_id=abc')).toBe(true)
    for (const bad of ['', 'oauth', '//evil.example/x', '/\\evil.example', 'https://evil.example/', '/a b'])
      expect(isLocalPath(bad)).toBe(false)
  })
})
