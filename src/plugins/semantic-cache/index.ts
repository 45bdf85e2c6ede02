export { SemanticCacheConfigSchema, type SemanticCacheConfig } from './config.js'
export { embedThrough } from './embed.js'
export { EntryStore } from './entry-store.js'
export {
  CACHE_TOPIC,
  createSemanticCache,
  type CacheBus,
  type CacheChange,
  type CacheDebug,
  type SemanticCacheDeps,
} from './plugin.js'
