import { Index, MetricKind, ScalarKind } from 'usearch'

/** A hit of a search: the entry id and its cosine similarity to the query. */
export interface Neighbour {
  id: string
  similarity: number
}

/**
 * In-memory HNSW indexes (usearch, cosine) of the entries' embeddings, one per partition, so that a
 * search only meets entries of the same cache key, scope, parameters, provider and model.
 */
export class VectorIndex {
  private readonly partitions = new Map<string, Index>()
  private readonly keys = new Map<string, { partition: string; key: bigint }>()
  private readonly ids = new Map<bigint, string>()
  private next = 1n

  constructor(private readonly dimensions: number) {}

  add(id: string, partition: string, vector: readonly number[]): void {
    if (vector.length !== this.dimensions) return
    this.remove(id)
    let index = this.partitions.get(partition)
    if (!index) {
      index = new Index({
        metric: MetricKind.Cos,
        dimensions: this.dimensions,
        quantization: ScalarKind.F32,
        connectivity: 16,
        expansion_add: 0,
        expansion_search: 0,
        multi: false,
      })
      this.partitions.set(partition, index)
    }
    const key = this.next++
    index.add(key, Float32Array.from(vector))
    this.keys.set(id, { partition, key })
    this.ids.set(key, id)
  }

  remove(id: string): void {
    const k = this.keys.get(id)
    if (!k) return
    this.keys.delete(id)
    this.ids.delete(k.key)
    const index = this.partitions.get(k.partition)
    if (!index) return
    index.remove(k.key)
    if (index.size() === 0) this.partitions.delete(k.partition)
  }

  /** The nearest entries of the partition at or above `threshold`, closest first. */
  search(partition: string, vector: readonly number[], threshold: number, k = 8): Neighbour[] {
    const index = this.partitions.get(partition)
    if (!index || vector.length !== this.dimensions || index.size() === 0) return []
    const m = index.search(Float32Array.from(vector), Math.min(k, index.size()), 0)
    const out: Neighbour[] = []
    for (let i = 0; i < m.keys.length; i++) {
      const id = this.ids.get(m.keys[i])
      const similarity = 1 - m.distances[i]
      if (id !== undefined && similarity >= threshold) out.push({ id, similarity })
    }
    return out
  }

  get size(): number {
    return this.keys.size
  }

  clear(): void {
    this.partitions.clear()
    this.keys.clear()
    this.ids.clear()
  }
}
