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
    const row = toRow(e)
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

// The columns named as the entry's fields are copied; the others are renamed or JSON.

function toRow({
  cacheKey,
  response,
  embedding,
  createdAt,
  expiresAt,
  ...same
}: CacheEntry): SemanticCacheEntriesTable {
  return {
    ...same,
    cache_key: cacheKey,
    response: JSON.stringify(response),
    embedding: embedding ? JSON.stringify(embedding) : null,
    created_at: createdAt,
    expires_at: expiresAt,
  }
}

function toEntry({
  cache_key,
  response,
  embedding,
  created_at,
  expires_at,
  ...same
}: SemanticCacheEntriesTable): CacheEntry {
  return {
    ...same,
    cacheKey: cache_key,
    response: JSON.parse(response) as unknown,
    embedding: embedding ? (JSON.parse(embedding) as number[]) : undefined,
    createdAt: Number(created_at),
    expiresAt: Number(expires_at),
  }
}
