import { describe, expect, it } from 'vitest'
import { MemoryCounterStore } from './memory-counters.js'
import { newReservationId, ownSequence } from './reservation-ids.js'

const check = { counter: 'rl:test:req', windowStart: 0, windowMs: 3_600_000, limit: 10, amount: 1 }

describe('MemoryCounterStore: finished reservation ids', () => {
  it('remembers a settled id for at least a minute, then forgets it', async () => {
    let now = 1_000_000
    const store = new MemoryCounterStore({ now: () => now })
    try {
      const r = await store.reserve([check], { ttlMs: 60_000, reservationId: 'done-1' })
      expect(r.ok).toBe(true)
      now += 30_000
      await store.settle('done-1', [1])
      // A late reserve of the same id within the minute holds nothing; a second settle charges nothing.
      for (const step of [1_000, 40_000, 19_000]) {
        now += step
        await expect(
          store.reserve([check], { ttlMs: 60_000, reservationId: 'done-1' }),
        ).rejects.toMatchObject({
          code: 'store_unavailable',
        })
        await store.settle('done-1', [1])
      }
      expect(await store.read(check.counter, 0)).toEqual({ used: 1, reserved: 0 })
      // Two generations later the id is gone: reserving it again holds anew.
      now += 120_000
      expect((await store.reserve([check], { ttlMs: 60_000, reservationId: 'done-1' })).ok).toBe(true)
      expect(await store.read(check.counter, 0)).toEqual({ used: 1, reserved: 1 })
    } finally {
      await store.close()
    }
  })

  it('remembers ids newReservationId made as well as any other, each apart', async () => {
    let now = 1_000_000
    const store = new MemoryCounterStore({ now: () => now })
    try {
      const first = newReservationId()
      const second = newReservationId()
      expect(second).not.toBe(first)
      expect((await store.reserve([check], { ttlMs: 60_000, reservationId: first })).ok).toBe(true)
      await store.settle(first, [1])
      await store.settle(first, [1])
      await expect(store.reserve([check], { ttlMs: 60_000, reservationId: first })).rejects.toMatchObject({
        code: 'store_unavailable',
      })
      // Its neighbour, and an id written like it with a leading zero, are other reservations.
      const lookalike = first.replace(/\.(\d+)$/, '.0$1')
      expect(ownSequence(lookalike)).toBe(-1)
      for (const id of [second, lookalike]) {
        expect((await store.reserve([check], { ttlMs: 60_000, reservationId: id })).ok).toBe(true)
        await store.release(id)
      }
      expect(await store.read(check.counter, 0)).toEqual({ used: 1, reserved: 0 })
      now += 121_000
      expect((await store.reserve([check], { ttlMs: 60_000, reservationId: first })).ok).toBe(true)
      expect(await store.read(check.counter, 0)).toEqual({ used: 1, reserved: 1 })
    } finally {
      await store.close()
    }
  })
})

describe('MemoryCounterStore: amounts are checked', () => {
  it('refuses a settle or reserve whose amount is not a finite, non-negative number, naming it', async () => {
    const store = new MemoryCounterStore()
    try {
      const r = await store.reserve([check, { ...check, counter: 'rl:test:tok' }], { ttlMs: 60_000 })
      expect(r.ok).toBe(true)
      const id = r.ok ? r.reservationId : ''
      await expect(store.settle(id, [1, Number.NaN])).rejects.toThrow('actual[1] must be a finite number')
      await expect(store.settle(id, [-1, 1])).rejects.toThrow('actual[0] must not be negative')
      await expect(store.reserve([check, { ...check, amount: 1e300 }], { ttlMs: 60_000 })).rejects.toThrow(
        'amount of check 1 must not exceed',
      )
      await store.settle(id, [1, 2])
      expect(await store.read('rl:test:tok', 0)).toEqual({ used: 2, reserved: 0 })
    } finally {
      await store.close()
    }
  })
})
