import { describe, expect, it } from 'vitest'
import { newRequestId } from './request-id.js'

describe('newRequestId', () => {
  it('is a version 7 UUID whose text sorts by creation time', () => {
    const ids = [
      newRequestId(1_700_000_000_000),
      newRequestId(1_700_000_000_001),
      newRequestId(1_800_000_000_000),
    ]
    for (const id of ids)
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect([...ids].sort()).toEqual(ids)
    expect(ids[0].slice(0, 13)).toBe('018bcfe5-6800')
  })

  it('does not repeat within a millisecond', () => {
    const now = Date.now()
    const ids = new Set(Array.from({ length: 10_000 }, () => newRequestId(now)))
    expect(ids.size).toBe(10_000)
  })
})
