export { SemanticCacheConfigSchema, type SemanticCacheConfig } from './config.js'
export { embedThrough } from './embed.js'
export { EntryStore, type CacheEntries } from './entry-store.js'
export {
  CACHE_TOPIC,
  createSemanticCache,
  type CacheBus,
  type CacheChange,
  type CacheDebug,
  type SemanticCacheDeps,
  type SemanticCachePlugin,
} from './plugin.js'
