import { describe, expect, it } from 'vitest'
import { listAfter, type UpstreamPage } from './list-after.js'

/** An upstream list of `count` ids (`f0`, `f1` ...) served `size` to a page, recording each call. */
function pages(count: number, size: number) {
  const calls: { token: string | undefined; passed: boolean }[] = []
  const page = async (token: string | undefined, passed: boolean): Promise<UpstreamPage<string>> => {
    calls.push({ token, passed })
    const start = token ? Number(token) : 0
    const items = Array.from({ length: Math.min(size, count - start) }, (_, i) => `f${start + i}`)
    const next = start + size < count ? String(start + size) : undefined
    return { items, next, headers: { 'x-page': String(start) } }
  }
  return { calls, page }
}

const list = (limit: number, after: string | undefined, src: ReturnType<typeof pages>) =>
  listAfter(
    limit,
    after,
    src.page,
    (id) => id,
    (id) => ({ id }),
  )

describe('listAfter', () => {
  it('gives the first items across pages, and has_more while the upstream has more', async () => {
    const src = pages(7, 3)
    const res = await list(4, undefined, src)
    expect(res.body).toEqual({
      object: 'list',
      data: ['f0', 'f1', 'f2', 'f3'].map((id) => ({ id })),
      has_more: true,
    })
    expect(res.headers).toEqual({ 'x-page': '3' })
    expect(src.calls).toEqual([
      { token: undefined, passed: true },
      { token: '3', passed: true },
    ])
  })

  it('reads from the start until the after item is passed, then gives the items that follow it', async () => {
    const src = pages(7, 3)
    const res = await list(2, 'f1', src)
    expect(res.body.data).toEqual([{ id: 'f2' }, { id: 'f3' }])
    expect(res.body.has_more).toBe(true)
    expect(src.calls.map((c) => c.passed)).toEqual([false, true])
  })

  it('says no more when the last items are given', async () => {
    const res = await list(10, 'f4', pages(7, 3))
    expect(res.body).toEqual({ object: 'list', data: [{ id: 'f5' }, { id: 'f6' }], has_more: false })
  })

  it('gives nothing after an item the list does not hold, and reads at most 20 pages looking for it', async () => {
    const src = pages(100, 1)
    const res = await list(5, 'gone', src)
    expect(res.body.data).toEqual([])
    expect(src.calls).toHaveLength(20)
    expect(res.body.has_more).toBe(true)
  })
})
