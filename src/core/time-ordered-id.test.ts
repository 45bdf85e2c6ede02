import { describe, expect, it } from 'vitest'
import { timeOrderedId } from './time-ordered-id.js'

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

describe('timeOrderedId', () => {
  it('is a version 7 UUID that carries its millisecond', () => {
    const id = timeOrderedId(1_700_000_000_000)
    expect(id).toMatch(UUID_V7)
    expect(id.slice(0, 13)).toBe('018bcfe5-6800')
  })

  it('sorts in the order the ids were made, within a millisecond too', () => {
    const now = Date.now()
    const ids = Array.from({ length: 10_000 }, () => timeOrderedId(now))
    for (const id of ids) expect(id).toMatch(UUID_V7)
    expect(new Set(ids).size).toBe(10_000)
    expect([...ids].sort()).toEqual(ids)
    const later = timeOrderedId(now + 60_000)
    expect(later > ids[ids.length - 1]).toBe(true)
  })
})
