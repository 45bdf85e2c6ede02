import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Kysely } from 'kysely'
import type { ConfigStore, ConfigStoreTables, McpOAuthFlowsTable } from '../../store/index.js'

/** The kv row holding the HMAC key of login states and browser bindings (sealed at rest). */
const KEY_ROW = 'mcp_oauth:login_binding_key'

/** The cookie that binds an upstream login to the browser that proved it may start it. */
export const UPSTREAM_LOGIN_COOKIE = '__heimdall_upstream_login'

type FlowBinding = Pick<McpOAuthFlowsTable, 'id' | 'auth_mode' | 'identity_id' | 'expires_at'>

const b64 = (text: string) => Buffer.from(text).toString('base64url')
const unb64 = (text: string) => Buffer.from(text, 'base64url').toString()

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/**
 * A path on this origin a login may return to: one leading slash, no scheme, no host, no
 * backslash (browsers read `/\evil` as `//evil`).
 */
export function isLocalPath(value: string): boolean {
  return /^\/(?![/\\])[^\\\s]*$/.test(value)
}

/**
 * Signs what binds an upstream login to its identity and its browser, with an HMAC key kept in the
 * config store (created once; nodes sharing a store agree on it):
 * - the OAuth `state` names the flow's id, identity and expiry under the HMAC, so a state cannot be
 *   moved to another flow or identity;
 * - the browser cookie set by the start step is an HMAC of that state (and of the page the login
 *   returns to), so the upstream's redirect completes only in the browser that started it.
 */
export class LoginBinding {
  private key: Promise<Buffer> | undefined

  constructor(private readonly store: { db: Kysely<ConfigStoreTables>; secrets: ConfigStore['secrets'] }) {}

  private hmacKey(): Promise<Buffer> {
    this.key ??= this.loadKey().catch((err: unknown) => {
      this.key = undefined
      throw err
    })
    return this.key
  }

  private async loadKey(): Promise<Buffer> {
    const fresh = this.store.secrets.seal(randomBytes(32).toString('base64'))
    // Insert-if-absent then read back: concurrent first starts agree on one key.
    await this.store.db
      .insertInto('kv')
      .values({ key: KEY_ROW, value: JSON.stringify(fresh), updated_at: new Date().toISOString() })
      .onConflict((oc) => oc.column('key').doNothing())
      .execute()
    const row = await this.store.db
      .selectFrom('kv')
      .select('value')
      .where('key', '=', KEY_ROW)
      .executeTakeFirstOrThrow()
    return Buffer.from(this.store.secrets.open(JSON.parse(row.value) as string), 'base64')
  }

  private async mac(...parts: string[]): Promise<string> {
    return createHmac('sha256', await this.hmacKey())
      .update(parts.join('\n'))
      .digest('base64url')
  }

  /** A new OAuth `state` for a flow: a nonce and the HMAC of the flow's binding. */
  async stateFor(flow: FlowBinding): Promise<string> {
    const nonce = randomBytes(24).toString('base64url')
    return `${nonce}.${await this.mac('state', flow.id, flow.auth_mode, flow.identity_id, flow.expires_at, nonce)}`
  }

  /** Whether a state was issued for this flow, identity and expiry. */
  async stateMatches(state: string, flow: FlowBinding): Promise<boolean> {
    const [nonce, mac, extra] = state.split('.')
    if (!nonce || !mac || extra !== undefined) return false
    const expected = await this.mac(
      'state',
      flow.id,
      flow.auth_mode,
      flow.identity_id,
      flow.expires_at,
      nonce,
    )
    return sameText(mac, expected)
  }

  /** The cookie value binding a state to this browser, with the local page to return to after the login. */
  async browserCookie(state: string, returnTo: string | undefined): Promise<string> {
    const to = returnTo ?? ''
    return `${b64(to)}.${await this.mac('browser', state, to)}`
  }

  /**
   * Whether the cookie was set for this state by the start step; `returnTo` is the page the login
   * goes back to, when it named one.
   */
  async browserMatches(
    state: string,
    cookie: string | undefined,
  ): Promise<{ ok: boolean; returnTo?: string }> {
    const [to, mac, extra] = (cookie ?? '').split('.')
    if (to === undefined || !mac || extra !== undefined) return { ok: false }
    const returnTo = unb64(to)
    if (!sameText(mac, await this.mac('browser', state, returnTo))) return { ok: false }
    return returnTo !== '' && isLocalPath(returnTo) ? { ok: true, returnTo } : { ok: true }
  }
}
