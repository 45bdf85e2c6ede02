import type { Kysely } from 'kysely'
import { Cancellation, onAbort, type CancelSignal } from '../../core/cancel.js'
import type { GatewayContext } from '../../core/context.js'
import { GatewayError } from '../../core/errors.js'
import type { GatewayPlugin, PreHookResult } from '../../core/plugins.js'
import { cacheSettings, parseTtlMs, type CacheSettings, type SemanticCacheConfig } from './config.js'
import { EntryStore, type CacheEntries, type CacheEntry } from './entry-store.js'
import {
  addressOf,
  CACHE_HEADERS,
  cacheKeyOf,
  header,
  tooLong,
  type CacheAddress,
  type CacheType,
} from './keys.js'
import { EntryIndex, type CacheChange } from './entry-index.js'
import { PgVectorSearch } from './pgvector.js'
import { RedisEntryStore } from './redis-entry-store.js'
import { StreamCapture } from './stream-capture.js'

/** Bifrost's `extra_fields.cache_debug`. */
export interface CacheDebug {
  cache_hit: boolean
  cache_id?: string
  hit_type?: CacheType
  provider_used?: string
  model_used?: string
  threshold?: number
  similarity?: number
  input_tokens?: number
}

/** What the cache decided for one request. */
interface CacheState {
  address: CacheAddress
  ttlMs: number
  noStore: boolean
  type?: CacheType
  embedding?: number[]
  hit: boolean
  capture?: StreamCapture
}

declare module '../../core/plugins.js' {
  interface RequestFacts {
    /** The response cache's verdict, shown as `extra_fields.cache_debug` (a stream's last chunk). */
    cacheDebug?: CacheDebug
    /** The semantic cache's own embedding call: never looked up or stored itself. */
    semanticCacheInternal?: boolean
    semanticCache?: CacheState
  }
}

/** Embeds a request's text through the gateway's own embeddings call, as the caller (its key, its budget). */
export type EmbedText = (
  caller: GatewayContext,
  model: string,
  text: string,
  signal: CancelSignal,
) => Promise<{ vector: number[]; tokens: number }>

export type { CacheChange }

export const CACHE_TOPIC = 'semantic_cache'

export interface CacheBus {
  publish(topic: string, message: unknown): Promise<void>
  subscribe(topic: string, handler: (message: unknown) => void): () => void
}

export interface SemanticCacheDeps {
  /** The config store's database (SQLite or PostgreSQL). */
  db?: Kysely<unknown>
  bus?: CacheBus
  embed?: EmbedText
  /** The cluster's Redis (`cluster.redis_url`) and key prefix, for `store: "redis"`. */
  redis?: { url?: string; prefix: string }
}

/** The plugin, with the store its entries are in (the cache routes clear entries there). */
export interface SemanticCachePlugin extends GatewayPlugin {
  entries: CacheEntries
}

const PRUNE_EVERY_MS = 60_000

/** The `semantic_cache` plugin: Bifrost's response cache, exact and by meaning. */
export function createSemanticCache(
  config: SemanticCacheConfig,
  deps: SemanticCacheDeps,
): SemanticCachePlugin {
  const s = cacheSettings(config)
  if (s.semantic && !deps.embed) throw new Error('no embeddings call available')
  const store = openEntries(config, s, deps)
  const index = new EntryIndex(s.dimension, s.namespace)
  const pending = new Set<Promise<void>>()

  // pgvector in the PostgreSQL config store searches there; elsewhere the in-process index does.
  const pgvector =
    s.semantic && s.store === 'config_store' && deps.db
      ? PgVectorSearch.detect(deps.db, s.dimension).catch(() => undefined)
      : Promise.resolve(undefined)
  const ready = pgvector.then((pg) => index.load(store, s.semantic && !pg)).catch(() => undefined)
  const unsubscribe = deps.bus?.subscribe(CACHE_TOPIC, (m) => index.apply(m as CacheChange))
  // Whichever node deletes expired rows tells the others, whose indexes hold the same entries.
  const pruner = setInterval(() => {
    void store
      .deleteExpired()
      .then(async (ids) => {
        index.remove(ids)
        await (await pgvector)?.deleteExpired()
        const change: CacheChange = { op: 'delete', ids }
        if (ids.length) await deps.bus?.publish(CACHE_TOPIC, change)
        await index.refresh(store)
      })
      .catch(() => undefined)
  }, PRUNE_EVERY_MS)
  pruner.unref()

  function write(ctx: GatewayContext, st: CacheState, response: unknown): void {
    const now = Date.now()
    const a = st.address
    const entry: CacheEntry = {
      id: a.directId,
      namespace: s.namespace,
      cacheKey: a.cacheKey,
      scope: a.scope,
      partition: a.partition,
      provider: a.provider,
      model: a.model,
      response,
      embedding: st.type === 'direct' ? undefined : st.embedding,
      createdAt: now,
      expiresAt: now + st.ttlMs,
    }
    // Off the request path: a failing store loses the entry, never the answer.
    const p = store
      .put(entry)
      .then(async () => {
        const pg = entry.embedding && (await pgvector)
        if (pg) await pg.add({ ...entry, embedding: entry.embedding! })
        // With pgvector the embedding is searched there: this node keeps the id alone.
        index.add(pg ? { ...entry, embedding: undefined } : entry)
        const change: CacheChange = {
          op: 'put',
          namespace: s.namespace,
          id: entry.id,
          partition: entry.partition,
          ...(entry.embedding && !pg && { embedding: entry.embedding }),
        }
        await deps.bus?.publish(CACHE_TOPIC, change)
      })
      .catch(() => undefined)
      .finally(() => pending.delete(p))
    pending.add(p)
  }

  async function lookup(
    ctx: GatewayContext,
    st: CacheState,
    threshold: number,
    signal: CancelSignal,
  ): Promise<unknown> {
    const a = st.address
    if (st.type !== 'semantic' && index.mayHold(a.directId)) {
      const e = await store.get(a.directId)
      if (e) {
        ctx.facts.cacheDebug = { cache_hit: true, hit_type: 'direct', cache_id: e.id }
        return e.response
      }
    }
    if (!s.semantic || st.type === 'direct' || !a.text) return undefined
    await ready
    const { vector, tokens } = await deps.embed!(ctx, `${s.provider}/${s.embeddingModel}`, a.text, signal)
    st.embedding = vector
    const semanticDebug = {
      provider_used: s.provider,
      model_used: s.embeddingModel,
      input_tokens: tokens,
    }
    ctx.facts.cacheDebug = { cache_hit: false, cache_id: a.directId, ...semanticDebug }
    const pg = await pgvector
    const near = pg
      ? await pg.search(a.partition, vector, threshold)
      : index.search(a.partition, vector, threshold)
    for (const n of near) {
      const e = await store.get(n.id)
      if (!e) continue
      ctx.facts.cacheDebug = {
        cache_hit: true,
        hit_type: 'semantic',
        cache_id: e.id,
        ...semanticDebug,
        threshold,
        similarity: Math.round(n.similarity * 1e6) / 1e6,
      }
      return e.response
    }
    return undefined
  }

  return {
    name: 'semantic_cache',
    entries: store,
    critical: false,
    timeoutMs: s.lookupTimeoutMs + 1000,
    async preHook(ctx, request): Promise<PreHookResult | undefined> {
      if (ctx.facts.semanticCacheInternal || !cacheable(ctx)) return undefined
      const cacheKey = cacheKeyOf(ctx, s)
      if (cacheKey === undefined || tooLong(request, s)) return undefined
      const st: CacheState = {
        address: addressOf(ctx, request, cacheKey, s),
        ttlMs: requestTtl(ctx, s),
        noStore: header(ctx, CACHE_HEADERS.noStore) === 'true',
        type: requestType(ctx),
        hit: false,
      }
      const threshold = requestThreshold(ctx, s)
      ctx.facts.semanticCache = st
      ctx.facts.cacheDebug = { cache_hit: false, cache_id: st.address.directId }
      // An exact miss this node knows of without asking the store, and no lookup by meaning: done.
      const byMeaning = s.semantic && st.type !== 'direct' && st.address.text !== ''
      if (!byMeaning && (st.type === 'semantic' || !index.mayHold(st.address.directId))) return undefined
      let response: unknown
      // The embedding call of a lookup cut short (or of a caller gone) is cancelled, not left running.
      const cancel = new Cancellation()
      const stopListening = onAbort(ctx.signal, () => cancel.abort())
      try {
        response = await withTimeout(lookup(ctx, st, threshold, cancel), s.lookupTimeoutMs)
      } catch {
        // A slow or broken store is a miss: the request goes on to the provider.
        response = undefined
        cancel.abort()
      } finally {
        stopListening()
      }
      if (response === undefined) return undefined
      st.hit = true
      return { shortCircuit: { response } }
    },
    postHook(ctx, outcome): void {
      const st = ctx.facts.semanticCache
      if (!st || st.hit || st.noStore || ctx.stream || outcome.error) return
      if (isChatCompletion(outcome.response)) write(ctx, st, outcome.response)
    },
    observeStream(ctx) {
      const st = ctx.facts.semanticCache
      if (!st || st.hit || st.noStore) return undefined
      const capture = (st.capture = new StreamCapture())
      return (item) => capture.add(item)
    },
    onEnd(ctx): void {
      const st = ctx.facts.semanticCache
      if (!st?.capture || ctx.error) return
      const response = st.capture.result()
      if (response) write(ctx, st, response)
    },
    async cleanup(): Promise<void> {
      clearInterval(pruner)
      unsubscribe?.()
      await Promise.all([...pending])
      if (config.cleanup_on_shutdown) await store.deleteNamespace(s.namespace).catch(() => undefined)
      index.clear()
      await store.close?.()
    },
  }
}

function openEntries(config: SemanticCacheConfig, s: CacheSettings, deps: SemanticCacheDeps): CacheEntries {
  if (s.store === 'redis') {
    const url = config.redis_url ?? deps.redis?.url
    if (!url) throw new Error('store "redis" needs redis_url or the cluster\'s cluster.redis_url')
    // A command never outlives the lookup that waits for it.
    return RedisEntryStore.open(url, deps.redis?.prefix ?? 'heimdall:', s.lookupTimeoutMs)
  }
  if (!deps.db) throw new Error('needs the config store database')
  return new EntryStore(deps.db)
}

/** Chat completions, streamed or not, on any route (drop-ins convert to them). */
function cacheable(ctx: GatewayContext): boolean {
  return ctx.requestType === 'chat_completion' || ctx.requestType === 'chat_completion_stream'
}

function isChatCompletion(v: unknown): boolean {
  return typeof v === 'object' && v !== null && (v as { object?: unknown }).object === 'chat.completion'
}

function invalidHeader(name: string, message: string): GatewayError {
  return new GatewayError('invalid_request', `${name}: ${message}`, { param: name, retryable: false })
}

function requestTtl(ctx: GatewayContext, s: CacheSettings): number {
  const v = header(ctx, CACHE_HEADERS.ttl)
  if (v === undefined) return s.ttlMs
  try {
    return parseTtlMs(v, CACHE_HEADERS.ttl)
  } catch (err) {
    throw invalidHeader(CACHE_HEADERS.ttl, (err as Error).message.replace(/^\S+ /, ''))
  }
}

function requestThreshold(ctx: GatewayContext, s: CacheSettings): number {
  const v = header(ctx, CACHE_HEADERS.threshold)
  if (v === undefined) return s.threshold
  const n = Number(v)
  if (!Number.isFinite(n) || n < 0 || n > 1)
    throw invalidHeader(CACHE_HEADERS.threshold, 'must be a number from 0 to 1')
  return n
}

function requestType(ctx: GatewayContext): CacheType | undefined {
  const v = header(ctx, CACHE_HEADERS.type)
  if (v === undefined) return undefined
  if (v !== 'direct' && v !== 'semantic')
    throw invalidHeader(CACHE_HEADERS.type, 'must be "direct" or "semantic"')
  return v
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`cache lookup took over ${ms} ms`)), ms)
    p.then(
      (v) => {
        clearTimeout(timer)
        resolve(v)
      },
      (e: unknown) => {
        clearTimeout(timer)
        reject(e instanceof Error ? e : new Error(String(e)))
      },
    )
  })
}
