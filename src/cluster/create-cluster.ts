import { MemoryChangeBus } from './memory-bus.js'
import { MemoryCounterStore } from './memory-counters.js'
import { RedisChangeBus } from './redis-bus.js'
import { RedisCounterStore } from './redis-counters.js'
import { MemorySharedRecords, RedisSharedRecords, type SharedRecords } from './shared-records.js'
import type { ChangeBus, ClusterErrorHandler, CounterStore } from './types.js'

export interface ClusterOptions {
  /** Redis for a deployment of several nodes; without it, everything stays in this process. */
  redisUrl?: string
  /** Namespaces Redis keys and channels; defaults to `heimdall:`. */
  prefix?: string
  /** Background failures: lost connections, failing change handlers. */
  onError?: ClusterErrorHandler
}

export interface Cluster {
  counters: CounterStore
  bus: ChangeBus
  /** Expiring records every node can read (open circuits). */
  records: SharedRecords
  kind: 'memory' | 'redis'
  /** Readiness of Redis (the counters' connection); undefined without Redis. */
  ping(): Promise<void> | undefined
  close(): Promise<void>
}

/** In-process counters and events, or Redis ones when a URL is given; rejects when Redis cannot be reached. */
export async function createCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  if (!opts.redisUrl) {
    const counters = new MemoryCounterStore()
    const bus = new MemoryChangeBus(opts.onError)
    const records = new MemorySharedRecords()
    return {
      counters,
      bus,
      records,
      kind: 'memory',
      ping: () => undefined,
      close: () => closeAll(counters, bus, records),
    }
  }
  const [counters, bus, records] = await Promise.allSettled([
    RedisCounterStore.connect(opts.redisUrl, opts),
    RedisChangeBus.connect(opts.redisUrl, opts),
    RedisSharedRecords.connect(opts.redisUrl, opts),
  ])
  if (counters.status === 'rejected' || bus.status === 'rejected' || records.status === 'rejected') {
    const parts = [counters, bus, records]
    await Promise.all(parts.map((p) => (p.status === 'fulfilled' ? p.value.close() : undefined)))
    throw (parts.find((p) => p.status === 'rejected') as PromiseRejectedResult).reason
  }
  return {
    counters: counters.value,
    bus: bus.value,
    records: records.value,
    kind: 'redis',
    ping: () => counters.value.ping(),
    close: () => closeAll(counters.value, bus.value, records.value),
  }
}

async function closeAll(counters: CounterStore, bus: ChangeBus, records: SharedRecords): Promise<void> {
  await Promise.all([counters.close(), bus.close(), records.close()])
}
