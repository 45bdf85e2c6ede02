import { createHash } from 'node:crypto'
import type { GatewayContext } from '../../core/context.js'
import type { PluginRequest } from '../../core/plugins.js'
import { stableJson } from '../../store/index.js'
import type { CacheSettings } from './config.js'

/** Bifrost's request headers of the semantic cache. */
export const CACHE_HEADERS = {
  key: 'x-bf-cache-key',
  ttl: 'x-bf-cache-ttl',
  threshold: 'x-bf-cache-threshold',
  type: 'x-bf-cache-type',
  noStore: 'x-bf-cache-no-store',
} as const

export type CacheType = 'direct' | 'semantic'

/** Where an entry may be found: the same cache key, scope, parameters, and (per config) provider and model. */
export interface CacheAddress {
  cacheKey: string
  /** `shared` for a shared cache key, else the virtual key's id (`-` without one). */
  scope: string
  provider: string
  model: string
  /** The id of an exact entry: a hash of everything below and the request's input. */
  directId: string
  /** Entries compared by meaning must share this (cache key, scope, parameters, provider, model). */
  partition: string
  /** The text embedded for a lookup by meaning. */
  text: string
}

export function header(ctx: GatewayContext, name: string): string | undefined {
  const v = ctx.headers[name]
  const s = Array.isArray(v) ? v[0] : v
  return s === undefined || s === '' ? undefined : s
}

/** The request's cache key (header, else the configured default); undefined: no caching. */
export function cacheKeyOf(ctx: GatewayContext, s: CacheSettings): string | undefined {
  return header(ctx, CACHE_HEADERS.key) ?? (s.defaultCacheKey || undefined)
}

const NOT_PARAMS = new Set(['model', 'messages', 'stream', 'stream_options', 'fallbacks', 'user', 'metadata'])

export function splitModel(full: string): { provider: string; model: string } {
  const slash = full.indexOf('/')
  return slash > 0
    ? { provider: full.slice(0, slash), model: full.slice(slash + 1) }
    : { provider: '', model: full }
}

/** The messages a lookup compares (the system prompt left out when configured so). */
function messagesOf(request: PluginRequest, s: CacheSettings): unknown[] {
  const messages = Array.isArray(request.messages) ? (request.messages as unknown[]) : []
  if (!s.excludeSystemPrompt) return messages
  return messages.filter((m) => {
    const role = (m as { role?: unknown })?.role
    return role !== 'system' && role !== 'developer'
  })
}

/** More messages than `conversation_history_threshold`: not cached (Bifrost's rule). */
export function tooLong(request: PluginRequest, s: CacheSettings): boolean {
  return messagesOf(request, s).length > s.conversationHistoryThreshold
}

export function addressOf(
  ctx: GatewayContext,
  request: PluginRequest,
  cacheKey: string,
  s: CacheSettings,
): CacheAddress {
  const vk = ctx.facts.virtualKey
  const scope = s.sharedCacheKeys.has(cacheKey) ? 'shared' : (vk?.id ?? '-')
  const { provider, model } = splitModel(request.model)
  const params: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(request)) if (!NOT_PARAMS.has(k)) params[k] = v
  const base = {
    ns: s.namespace,
    cacheKey,
    scope,
    params,
    provider: s.cacheByProvider ? provider : undefined,
    model: s.cacheByModel ? model : undefined,
  }
  const messages = messagesOf(request, s)
  // The canonical text of the parameters once, for both ids.
  const baseJson = stableJson(base)
  return {
    cacheKey,
    scope,
    provider,
    model,
    directId: hash(`${baseJson}\n${stableJson(messages)}`),
    partition: hash(baseJson),
    text: textOf(messages),
  }
}

function hash(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 32)
}

/** The messages' text, role by role, as embedded for a lookup by meaning. */
function textOf(messages: unknown[]): string {
  const out: string[] = []
  for (const m of messages) {
    const { role, content } = (m ?? {}) as { role?: unknown; content?: unknown }
    const parts: string[] = []
    if (typeof content === 'string') parts.push(content)
    else if (Array.isArray(content))
      for (const p of content) {
        const text = (p as { text?: unknown })?.text
        if (typeof text === 'string') parts.push(text)
      }
    if (parts.length) out.push(`${typeof role === 'string' ? role : 'user'}: ${parts.join(' ')}`)
  }
  return out.join('\n')
}
