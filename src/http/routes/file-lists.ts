import { GatewayError } from '../../core/errors.js'
import type { JsonResult } from '../../core/provider-adapter.js'
import type { ProviderObjectKind } from '../../store/index.js'
import type { ObjectScope } from './file-ownership.js'

/** OpenAI's cursor page, as `GET /files` and `GET /batches` answer it. */
export interface ListPage {
  object?: unknown
  data?: unknown[]
  first_id?: unknown
  last_id?: unknown
  has_more?: unknown
  [k: string]: unknown
}

/** OpenAI's `limit`: its default and its largest value, per list. */
const LIMITS: Record<ProviderObjectKind, { fallback: number; max: number }> = {
  file: { fallback: 10_000, max: 10_000 },
  batch: { fallback: 20, max: 100 },
  container: { fallback: 20, max: 100 },
}

/** Upstream pages read for one narrowed page at most, so a key with few objects among many costs a bound. */
const MAX_UPSTREAM_PAGES = 20

/**
 * A list narrowed to what the caller may see. The provider's pages are read from the caller's
 * `after` on, at the largest page size, until `limit` visible items are found or the provider has no
 * more; `after` then continues from the last item returned, and `has_more` says whether the
 * provider may hold more. The admin gets the provider's page unchanged.
 */
export async function scopedList(
  scope: ObjectScope,
  kind: ProviderObjectKind,
  query: Record<string, string>,
  want: number,
  fetchPage: (query: Record<string, string>) => Promise<JsonResult<ListPage>>,
): Promise<JsonResult<ListPage>> {
  if (scope.viewer.admin) {
    const result = await fetchPage(query)
    const data = result.body?.data
    if (kind === 'batch' && Array.isArray(data)) await scope.claimBatchFiles(data)
    return result
  }
  const kept: unknown[] = []
  const seen = new Set<string>()
  let after = query.after
  let hasMore = false
  let headers: Record<string, string> | undefined
  for (let page = 0; ; page++) {
    const q: Record<string, string> = { ...query, limit: String(LIMITS[kind].max) }
    if (after !== undefined) q.after = after
    const result = await fetchPage(q)
    headers = result.headers
    const data = Array.isArray(result.body?.data) ? result.body.data : []
    const { kept: visible, owners } = await scope.visible(kind, data)
    if (kind === 'batch')
      await scope.claimBatchFiles(
        data.filter((_, i) => visible[i]),
        owners,
      )
    // Items already seen (a provider that ignores `after` hands back the same page) are not kept twice.
    const fresh = data.map((item) => {
      const id = idOf(item)
      if (id === undefined || seen.has(id)) return false
      seen.add(id)
      return true
    })
    const keep = visible.map((v, i) => v && fresh[i])
    let i = 0
    for (; i < data.length && kept.length < want; i++) if (keep[i]) kept.push(data[i])
    const upstreamMore = result.body?.has_more === true
    if (kept.length >= want) {
      hasMore = keep.slice(i).some(Boolean) || upstreamMore
      break
    }
    const last = idOf(data.at(-1))
    if (!upstreamMore || !fresh.some(Boolean) || last === undefined) break
    if (page + 1 >= MAX_UPSTREAM_PAGES) {
      hasMore = true
      break
    }
    after = last
  }
  const body: ListPage = {
    object: 'list',
    data: kept,
    first_id: idOf(kept[0]) ?? null,
    last_id: idOf(kept.at(-1)) ?? null,
    has_more: hasMore,
  }
  return { body, headers }
}

/** The caller's `limit`, checked against OpenAI's range for the list (before anything is sent). */
export function listLimit(kind: ProviderObjectKind, given: string | undefined): number {
  const { fallback, max } = LIMITS[kind]
  if (given === undefined) return fallback
  const n = /^\d{1,6}$/.test(given) ? Number(given) : NaN
  if (!(n >= 1 && n <= max)) {
    throw new GatewayError('invalid_request', `limit must be an integer from 1 to ${max}`, {
      param: 'limit',
      retryable: false,
    })
  }
  return n
}

function idOf(item: unknown): string | undefined {
  const id = (item as { id?: unknown } | null | undefined)?.id
  return typeof id === 'string' && id !== '' ? id : undefined
}
