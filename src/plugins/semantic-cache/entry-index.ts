import type { CacheEntries, CacheEntry } from './entry-store.js'
import { VectorIndex, type Neighbour } from './vector-index.js'

/** A change another node must know: an entry written (with its embedding, if any), or entries gone. */
export type CacheChange =
  | { op: 'put'; namespace: string; id: string; partition: string; embedding?: number[] }
  | { op: 'delete'; ids: string[] }

/**
 * What this node knows of the stored entries: the id of every live entry (so that an exact miss,
 * the common case, is answered without a store round trip) and the vector index of the embeddings.
 * Filled from the store at start and kept in step by every node's writes and deletes (the change
 * bus), and re-read from the store every minute, so that a missed change costs misses for a minute
 * at most, never a wrong answer: a hit is always read from the store.
 */
export class EntryIndex {
  private ids = new Set<string>()
  /** Ids added while the store's ids are being read: the read may predate them. */
  private addedDuringRead?: Set<string>
  private loaded = false
  readonly vectors: VectorIndex

  constructor(
    dimension: number,
    private readonly namespace: string,
  ) {
    this.vectors = new VectorIndex(dimension)
  }

  /** Whether the store may hold this entry: before the ids are loaded, any. */
  mayHold(id: string): boolean {
    return !this.loaded || this.ids.has(id)
  }

  /** Reads the live entries' ids, and their embeddings into the vector index (a batch at a time, not to stall the server). */
  async load(store: CacheEntries, withVectors: boolean): Promise<void> {
    await this.refresh(store)
    if (!withVectors) return
    const entries = await store.withEmbeddings(this.namespace)
    for (let i = 0; i < entries.length; i++) {
      // Its id too: the entry may have been written after the ids were read.
      this.add(entries[i])
      if (i % 256 === 255) await new Promise((r) => setImmediate(r))
    }
  }

  /** The ids alone, again: heals changes this node missed. */
  async refresh(store: CacheEntries): Promise<void> {
    const added = (this.addedDuringRead = new Set())
    try {
      const ids = new Set(await store.liveIds(this.namespace))
      for (const id of added) ids.add(id)
      this.ids = ids
      this.loaded = true
    } finally {
      if (this.addedDuringRead === added) this.addedDuringRead = undefined
    }
  }

  add(e: Pick<CacheEntry, 'id' | 'partition' | 'embedding'>): void {
    this.ids.add(e.id)
    this.addedDuringRead?.add(e.id)
    if (e.embedding) this.vectors.add(e.id, e.partition, e.embedding)
  }

  remove(ids: readonly string[]): void {
    for (const id of ids) {
      this.ids.delete(id)
      this.vectors.remove(id)
    }
  }

  search(partition: string, vector: readonly number[], threshold: number): Neighbour[] {
    return this.vectors.search(partition, vector, threshold)
  }

  /** A change from another node (or this one's clear routes). */
  apply(m: CacheChange): void {
    if (m?.op === 'put' && m.namespace === this.namespace && typeof m.id === 'string')
      this.add({
        id: m.id,
        partition: m.partition,
        embedding: Array.isArray(m.embedding) ? m.embedding : undefined,
      })
    else if (m?.op === 'delete' && Array.isArray(m.ids)) this.remove(m.ids)
  }

  clear(): void {
    this.ids.clear()
    this.vectors.clear()
  }
}
