import type { Kysely } from 'kysely'
import type { SemanticCacheEntriesTable } from '../../store/index.js'

/** One cached answer. */
export interface CacheEntry {
  id: string
  namespace: string
  cacheKey: string
  scope: string
  partition: string
  provider: string
  model: string
  /** The unified chat completion served. */
  response: unknown
  embedding?: number[]
  createdAt: number
  expiresAt: number
}

/** Where entries are kept: the config store's database (EntryStore) or Redis (RedisEntryStore). */
export interface CacheEntries {
  put(e: CacheEntry): Promise<void>
  /** A live entry by id, or undefined. */
  get(id: string): Promise<CacheEntry | undefined>
  /** Every live entry of a namespace that has an embedding: the vector index is rebuilt from them. */
  withEmbeddings(namespace: string): Promise<CacheEntry[]>
  /** The ids of the live entries of a namespace (a store may give more: a lookup of one is a miss). */
  liveIds(namespace: string): Promise<string[]>
  delete(id: string): Promise<boolean>
  /** Deletes every entry of a cache key; gives their ids. */
  deleteByKey(cacheKey: string): Promise<string[]>
  /** Deletes expired entries; gives their ids. */
  deleteExpired(): Promise<string[]>
  deleteNamespace(namespace: string): Promise<void>
  close?(): Promise<void>
}

type Db = Kysely<{ semantic_cache_entries: SemanticCacheEntriesTable }>

/** Entries in the config store's database: SQLite under the app dir, or the PostgreSQL every node shares. */
export class EntryStore implements CacheEntries {
  private readonly db: Db

  constructor(db: Kysely<unknown>) {
    this.db = db as unknown as Db
  }

  async put(e: CacheEntry): Promise<void> {
    const row: SemanticCacheEntriesTable = {
      id: e.id,
      namespace: e.namespace,
      cache_key: e.cacheKey,
      scope: e.scope,
      partition: e.partition,
      provider: e.provider,
      model: e.model,
      response: JSON.stringify(e.response),
      embedding: e.embedding ? JSON.stringify(e.embedding) : null,
      created_at: e.createdAt,
      expires_at: e.expiresAt,
    }
    const { id: _id, ...rest } = row
    await this.db
      .insertInto('semantic_cache_entries')
      .values(row)
      .onConflict((oc) => oc.column('id').doUpdateSet(rest))
      .execute()
  }

  /** A live entry by id, or undefined. */
  async get(id: string, now = Date.now()): Promise<CacheEntry | undefined> {
    const row = await this.db
      .selectFrom('semantic_cache_entries')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst()
    if (!row) return undefined
    const e = toEntry(row)
    return e.expiresAt > now ? e : undefined
  }

  /** Every live entry of a namespace that has an embedding: the vector index is rebuilt from them. */
  async withEmbeddings(namespace: string, now = Date.now()): Promise<CacheEntry[]> {
    const rows = await this.db
      .selectFrom('semantic_cache_entries')
      .selectAll()
      .where('namespace', '=', namespace)
      .where('embedding', 'is not', null)
      .where('expires_at', '>', now)
      .execute()
    return rows.map(toEntry)
  }

  async liveIds(namespace: string, now = Date.now()): Promise<string[]> {
    const rows = await this.db
      .selectFrom('semantic_cache_entries')
      .select('id')
      .where('namespace', '=', namespace)
      .where('expires_at', '>', now)
      .execute()
    return rows.map((r) => r.id)
  }

  async delete(id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('semantic_cache_entries').where('id', '=', id).executeTakeFirst()
    return Number(r.numDeletedRows) > 0
  }

  /** Deletes every entry of a cache key; gives their ids. */
  async deleteByKey(cacheKey: string): Promise<string[]> {
    const rows = await this.db
      .deleteFrom('semantic_cache_entries')
      .where('cache_key', '=', cacheKey)
      .returning('id')
      .execute()
    return rows.map((r) => r.id)
  }

  /** Deletes expired entries; gives their ids. */
  async deleteExpired(now = Date.now()): Promise<string[]> {
    const rows = await this.db
      .deleteFrom('semantic_cache_entries')
      .where('expires_at', '<=', now)
      .returning('id')
      .execute()
    return rows.map((r) => r.id)
  }

  async deleteNamespace(namespace: string): Promise<void> {
    await this.db.deleteFrom('semantic_cache_entries').where('namespace', '=', namespace).execute()
  }
}

function toEntry(r: SemanticCacheEntriesTable): CacheEntry {
  return {
    id: r.id,
    namespace: r.namespace,
    cacheKey: r.cache_key,
    scope: r.scope,
    partition: r.partition,
    provider: r.provider,
    model: r.model,
    response: JSON.parse(r.response) as unknown,
    embedding: r.embedding ? (JSON.parse(r.embedding) as number[]) : undefined,
    createdAt: Number(r.created_at),
    expiresAt: Number(r.expires_at),
  }
}
