import type { Kysely } from 'kysely'
import { GatewayError } from '../core/errors.js'
import type { ConfigStoreTables, SessionsTable } from '../store/index.js'

/** Where admin sessions live, by the hash of their token. */
export interface SessionStore {
  create(row: SessionsTable): Promise<void>
  isValid(tokenHash: string, nowIso: string): Promise<boolean>
  delete(tokenHash: string): Promise<void>
  purgeExpired(nowIso: string): Promise<void>
}

/** Sessions in the config store: every node sharing the database accepts them. */
export class SqlSessionStore implements SessionStore {
  private readonly db: Kysely<ConfigStoreTables & { sessions: SessionsTable }>

  constructor(db: Kysely<ConfigStoreTables>) {
    this.db = db.withTables<{ sessions: SessionsTable }>()
  }

  async create(row: SessionsTable): Promise<void> {
    await this.db.insertInto('sessions').values(row).execute()
  }

  async isValid(tokenHash: string, nowIso: string): Promise<boolean> {
    try {
      const row = await this.db
        .selectFrom('sessions')
        .select('token_hash')
        .where('token_hash', '=', tokenHash)
        .where('expires_at', '>', nowIso)
        .executeTakeFirst()
      return row !== undefined
    } catch (err) {
      // The database being down is a 503, not a 401: the token may well be valid.
      throw new GatewayError('store_unavailable', `cannot check the session: ${(err as Error).message}`, {
        cause: err,
      })
    }
  }

  async delete(tokenHash: string): Promise<void> {
    await this.db.deleteFrom('sessions').where('token_hash', '=', tokenHash).execute()
  }

  async purgeExpired(nowIso: string): Promise<void> {
    await this.db.deleteFrom('sessions').where('expires_at', '<=', nowIso).execute()
  }
}

export class MemorySessionStore implements SessionStore {
  private readonly sessions = new Map<string, string>()

  async create(row: SessionsTable): Promise<void> {
    this.sessions.set(row.token_hash, row.expires_at)
  }

  async isValid(tokenHash: string, nowIso: string): Promise<boolean> {
    const expires = this.sessions.get(tokenHash)
    return expires !== undefined && expires > nowIso
  }

  async delete(tokenHash: string): Promise<void> {
    this.sessions.delete(tokenHash)
  }

  async purgeExpired(nowIso: string): Promise<void> {
    for (const [hash, expires] of this.sessions) if (expires <= nowIso) this.sessions.delete(hash)
  }
}
