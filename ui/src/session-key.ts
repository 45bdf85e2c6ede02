/**
 * The virtual key the Playground and "try this tool" send, kept for this browser tab's session
 * only (sessionStorage): closing the tab forgets it.
 */
const KEY_STORAGE = 'heimdall.playground.vk'

export function sessionKey(): string {
  try {
    return sessionStorage.getItem(KEY_STORAGE) ?? ''
  } catch {
    return ''
  }
}

export function rememberSessionKey(vk: string): void {
  try {
    if (vk) sessionStorage.setItem(KEY_STORAGE, vk)
    else sessionStorage.removeItem(KEY_STORAGE)
  } catch {
    // Storage unavailable: the key is simply not remembered.
  }
}

/** The headers that make a request the key's. */
export const keyHeaders = (vk?: string): Record<string, string> =>
  vk ? { authorization: `Bearer ${vk}`, 'x-bf-vk': vk } : {}
