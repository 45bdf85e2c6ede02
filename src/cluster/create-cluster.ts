import { MemoryChangeBus } from './memory-bus.js'
import { MemoryCounterStore } from './memory-counters.js'
import { RedisChangeBus } from './redis-bus.js'
import { RedisCounterStore } from './redis-counters.js'
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
    return { counters, bus, kind: 'memory', ping: () => undefined, close: () => closeBoth(counters, bus) }
  }
  const [counters, bus] = await Promise.allSettled([
    RedisCounterStore.connect(opts.redisUrl, opts),
    RedisChangeBus.connect(opts.redisUrl, opts),
  ])
  if (counters.status === 'rejected' || bus.status === 'rejected') {
    if (counters.status === 'fulfilled') await counters.value.close()
    if (bus.status === 'fulfilled') await bus.value.close()
    throw counters.status === 'rejected' ? counters.reason : (bus as PromiseRejectedResult).reason
  }
  return {
    counters: counters.value,
    bus: bus.value,
    kind: 'redis',
    ping: () => counters.value.ping(),
    close: () => closeBoth(counters.value, bus.value),
  }
}

async function closeBoth(counters: CounterStore, bus: ChangeBus): Promise<void> {
  await Promise.all([counters.close(), bus.close()])
}
