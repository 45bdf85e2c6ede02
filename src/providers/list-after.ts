/** Upstream list pages read at the most, looking for the item an `after` cursor names. */
const MAX_PAGES = 20

/** One page of an upstream list: its items, the next page's token, the answer's headers. */
export interface UpstreamPage<T> {
  items: T[]
  next: string | undefined
  headers: Record<string, string> | undefined
}

/**
 * An OpenAI-style list page (`limit` items after the id `after`) over an upstream that pages by
 * token: with `after`, its pages are read from the start until that item is passed (at most 20).
 * `page` is told whether `after` is passed yet, to ask for large pages while looking for it.
 */
export async function listAfter<T, R>(
  limit: number,
  after: string | undefined,
  page: (token: string | undefined, passed: boolean) => Promise<UpstreamPage<T>>,
  idOf: (item: T) => string | undefined,
  toItem: (item: T) => R,
): Promise<{ body: { object: 'list'; data: R[]; has_more: boolean }; headers?: Record<string, string> }> {
  let token: string | undefined
  let headers: Record<string, string> | undefined
  const data: R[] = []
  let passed = after === undefined
  let left = false
  for (let n = 0; n < MAX_PAGES; n++) {
    const res = await page(token, passed)
    headers = res.headers
    for (const item of res.items) {
      if (passed && data.length < limit) data.push(toItem(item))
      else if (passed) left = true
      else if (idOf(item) === after) passed = true
    }
    token = res.next
    if (!token || data.length >= limit) break
  }
  return { body: { object: 'list', data, has_more: left || token !== undefined }, headers }
}
