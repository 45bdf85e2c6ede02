import { describe, expect, it } from 'vitest'
import type { ProviderObjects } from '../../store/index.js'
import { listLimit, scopedList, type ListPage } from './file-lists.js'
import { ObjectScope, type Viewer } from './file-ownership.js'

/** Batches `b0`…`b{n-1}`, newest first; even ones are key A's, odd ones key B's. */
function account(n: number) {
  const all = Array.from({ length: n }, (_, i) => ({ id: `b${i}`, object: 'batch' }))
  const owners = new Map(all.map((b, i) => [b.id, i % 2 === 0 ? 'vk-a' : 'vk-b']))
  const objects = {
    getProviderObjectsByIds: async (_kind: string, _provider: string, ids: readonly string[]) =>
      new Map(ids.filter((id) => owners.has(id)).map((id) => [id, owners.get(id)!])),
    upsertProviderObject: async () => undefined,
  } as unknown as ProviderObjects
  const calls: Record<string, string>[] = []
  /** OpenAI's cursor pages; `ignoreAfter` serves the first page whatever the cursor. */
  const fetchPage =
    (ignoreAfter = false) =>
    async (q: Record<string, string>): Promise<{ body: ListPage }> => {
      calls.push(q)
      const start = q.after && !ignoreAfter ? all.findIndex((b) => b.id === q.after) + 1 : 0
      const limit = Number(q.limit)
      const data = all.slice(start, start + limit)
      return { body: { object: 'list', data, has_more: start + limit < all.length } }
    }
  const scope = (viewer: Viewer) => new ObjectScope(objects, 'openai', viewer)
  return { all, calls, fetchPage, scope }
}

const keyA: Viewer = { admin: false, virtualKeyId: 'vk-a' }
const ids = (page: { body: ListPage }) => (page.body.data as { id: string }[]).map((b) => b.id)

describe('scopedList', () => {
  it('fills a page with the caller’s own items across provider pages, and continues after the last one', async () => {
    const acc = account(450)
    const first = await scopedList(acc.scope(keyA), 'batch', {}, 60, acc.fetchPage())
    expect(ids(first)).toEqual(Array.from({ length: 60 }, (_, i) => `b${2 * i}`))
    expect(first.body).toMatchObject({ first_id: 'b0', last_id: 'b118', has_more: true })
    expect(acc.calls.map((q) => q.limit)).toEqual(['100', '100'])

    const rest = await scopedList(acc.scope(keyA), 'batch', { after: 'b118' }, 200, acc.fetchPage())
    expect(ids(rest)).toHaveLength(165)
    expect(ids(rest)[0]).toBe('b120')
    expect(rest.body.has_more).toBe(false)
  })

  it('stops when the provider ignores `after` instead of reading the same page again', async () => {
    const acc = account(300)
    const page = await scopedList(acc.scope(keyA), 'batch', {}, 100, acc.fetchPage(true))
    expect(ids(page)).toHaveLength(50)
    expect(page.body.has_more).toBe(false)
    expect(acc.calls).toHaveLength(2)
  })

  it('reads a bounded number of provider pages for a caller with nothing among them', async () => {
    const acc = account(5000)
    const stranger: Viewer = { admin: false, virtualKeyId: 'vk-c' }
    const page = await scopedList(acc.scope(stranger), 'batch', {}, 20, acc.fetchPage())
    expect(page.body).toEqual({ object: 'list', data: [], first_id: null, last_id: null, has_more: true })
    expect(acc.calls).toHaveLength(20)
  })

  it('gives the admin the provider’s page as it came', async () => {
    const acc = account(30)
    const page = await scopedList(
      acc.scope({ admin: true, virtualKeyId: null }),
      'batch',
      { limit: '7' },
      7,
      acc.fetchPage(),
    )
    expect(ids(page)).toEqual(acc.all.slice(0, 7).map((b) => b.id))
  })

  it('refuses a limit outside OpenAI’s range', () => {
    expect(listLimit('batch', undefined)).toBe(20)
    expect(listLimit('file', '10000')).toBe(10_000)
    for (const bad of ['0', '101', '-1', '1.5', 'ten', '']) {
      expect(() => listLimit('batch', bad)).toThrow(/limit must be an integer from 1 to 100/)
    }
  })
})
