import { sql, type Kysely } from 'kysely'
import type { Neighbour } from './vector-index.js'

/**
 * Lookups by meaning in PostgreSQL itself when the `vector` extension (pgvector) is installed in
 * the config store's database: the embeddings in a table of their own with an HNSW index (cosine),
 * searched by every node without an index in memory. UNTESTED: no machine this was built on has
 * pgvector; without it `detect` finds nothing and the in-process usearch index is used.
 */
export class PgVectorSearch {
  private constructor(
    private readonly db: Kysely<unknown>,
    private readonly table: string,
  ) {}

  /** The search when the database is PostgreSQL with pgvector installed; undefined otherwise. */
  static async detect(db: Kysely<unknown>, dimension: number): Promise<PgVectorSearch | undefined> {
    let installed = false
    try {
      const r = await sql<{ n: number }>`select 1 as n from pg_extension where extname = 'vector'`.execute(db)
      installed = r.rows.length > 0
    } catch {
      return undefined // SQLite, or no catalogue to read
    }
    if (!installed) return undefined
    const table = `semantic_cache_vectors_${Math.trunc(dimension)}`
    await sql
      .raw(
        `create table if not exists ${table} (id varchar(64) primary key, partition varchar(64) not null, ` +
          `embedding vector(${Math.trunc(dimension)}) not null, expires_at bigint not null)`,
      )
      .execute(db)
    await sql
      .raw(`create index if not exists ${table}_hnsw on ${table} using hnsw (embedding vector_cosine_ops)`)
      .execute(db)
    return new PgVectorSearch(db, table)
  }

  async add(e: { id: string; partition: string; embedding: number[]; expiresAt: number }): Promise<void> {
    await sql`insert into ${sql.table(this.table)} (id, partition, embedding, expires_at)
      values (${e.id}, ${e.partition}, ${literal(e.embedding)}::vector, ${e.expiresAt})
      on conflict (id) do update set partition = excluded.partition, embedding = excluded.embedding,
      expires_at = excluded.expires_at`.execute(this.db)
  }

  /** The nearest live entries of the partition at or above `threshold`, closest first. */
  async search(partition: string, vector: readonly number[], threshold: number, k = 8): Promise<Neighbour[]> {
    const q = literal(vector)
    const r = await sql<{ id: string; similarity: number | string }>`
      select id, 1 - (embedding <=> ${q}::vector) as similarity from ${sql.table(this.table)}
      where partition = ${partition} and expires_at > ${Date.now()}
      order by embedding <=> ${q}::vector limit ${k}`.execute(this.db)
    return r.rows
      .map((row) => ({ id: row.id, similarity: Number(row.similarity) }))
      .filter((n) => n.similarity >= threshold)
  }

  async deleteExpired(now = Date.now()): Promise<void> {
    await sql`delete from ${sql.table(this.table)} where expires_at <= ${now}`.execute(this.db)
  }
}

/** pgvector's text form of a vector: `[0.1,0.2,...]`. */
function literal(v: readonly number[]): string {
  return `[${v.join(',')}]`
}
