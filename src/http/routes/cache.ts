import type { FastifyInstance } from 'fastify'
import type { Kysely } from 'kysely'
import type { ChangeBus } from '../../cluster/index.js'
import { GatewayError } from '../../core/errors.js'
import { CACHE_TOPIC, EntryStore, type CacheChange, type CacheEntries } from '../../plugins/index.js'

/**
 * Bifrost's cache invalidation: one entry by the `cache_id` of `extra_fields.cache_debug`, or every
 * entry of a cache key, in the store the running cache keeps them in (the config store's database
 * when the cache is off). Every node drops them from its vector index through the change bus.
 */
export function registerCacheRoutes(
  app: FastifyInstance,
  deps: { db: Kysely<unknown>; bus: ChangeBus; entries: () => CacheEntries | undefined },
): void {
  const configStore = new EntryStore(deps.db)
  const store = () => deps.entries() ?? configStore
  const dropped = (ids: string[]) => {
    const change: CacheChange = { op: 'delete', ids }
    return deps.bus.publish(CACHE_TOPIC, change).catch(() => undefined)
  }

  app.delete<{ Params: { cacheId: string } }>('/api/cache/clear/:cacheId', async (request) => {
    const id = request.params.cacheId
    if (!id) throw new GatewayError('invalid_request', 'cache id is required', { param: 'cacheId' })
    if (!(await store().delete(id))) throw new GatewayError('not_found', `no cache entry has id ${id}`)
    await dropped([id])
    return { message: 'Cache cleared successfully' }
  })

  app.delete<{ Params: { cacheKey: string } }>('/api/cache/clear-by-key/:cacheKey', async (request) => {
    const key = request.params.cacheKey
    if (!key) throw new GatewayError('invalid_request', 'cache key is required', { param: 'cacheKey' })
    const ids = await store().deleteByKey(key)
    if (ids.length) await dropped(ids)
    return { message: 'Cache cleared successfully', cleared: ids.length }
  })
}
