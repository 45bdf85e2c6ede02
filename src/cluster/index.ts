// The counter and bus contracts: every type of types.ts.
export type * from './types.js'
export { createCluster, type Cluster, type ClusterOptions } from './create-cluster.js'
export { MemoryCounterStore, type MemoryCounterStoreOptions } from './memory-counters.js'
export { newReservationId } from './reservation-ids.js'
export { RedisCounterStore, type RedisCounterStoreOptions } from './redis-counters.js'
export { MemoryChangeBus } from './memory-bus.js'
export { RedisChangeBus, type RedisChangeBusOptions } from './redis-bus.js'
export { MemorySharedRecords, RedisSharedRecords, type SharedRecords } from './shared-records.js'
export {
  DEFAULT_PREFIX,
  REDIS_COMMAND_TIMEOUT_MS,
  connectRedis,
  describeRedisUrl,
} from './redis-connection.js'
export { MAX_AMOUNT, RECORD_GRACE_MS, fromUnits, toUnits, windowExpiryMs } from './amounts.js'
