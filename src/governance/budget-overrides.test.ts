import { describe, expect, it } from 'vitest'
import { describeOverride } from './budget-overrides.js'
import { effectiveMaxLimit } from './limits.js'
import type { Budget } from './model.js'

const monthly = (override: Partial<Budget>): Budget => ({
  id: 'b',
  max_limit: 100,
  reset_duration: '1M',
  calendar_aligned: true,
  last_reset: '2026-01-01T00:00:00.000Z',
  current_usage: 0,
  created_at: '2026-01-01T00:00:00.000Z',
  updated_at: '2026-01-01T00:00:00.000Z',
  ...override,
})

describe('a cycles override on a calendar-aligned monthly budget', () => {
  // Granted on 10 March for 2 cycles: March and April, until 1 May 00:00 UTC.
  const granted = {
    override_amount: 25,
    override_mode: 'cycles' as const,
    override_cycles_total: 2,
    override_anchor_reset: '2026-03-01T00:00:00.000Z',
    override_expires_at: '2026-05-01T00:00:00.000Z',
  }

  it('counts the current month as the first cycle and ends with the last granted month', () => {
    const march = monthly(granted)
    describeOverride(march, Date.parse('2026-03-10T12:00:00Z'))
    expect(march.override_cycles_remaining).toBe(2)
    expect(effectiveMaxLimit(march, Date.parse('2026-03-10T12:00:00Z'))).toBe(125)

    const april = monthly(granted)
    describeOverride(april, Date.parse('2026-04-30T23:59:59Z'))
    expect(april.override_cycles_remaining).toBe(1)
    expect(effectiveMaxLimit(april, Date.parse('2026-04-30T23:59:59Z'))).toBe(125)

    const may = monthly(granted)
    expect(effectiveMaxLimit(may, Date.parse('2026-05-01T00:00:00Z'))).toBe(100)
    describeOverride(may, Date.parse('2026-05-01T00:00:00Z'))
    expect(may.override_mode).toBeUndefined()
    expect(may.override_amount).toBeUndefined()
  })

  it('keeps a forever override until it is removed', () => {
    const b = monthly({ override_amount: 10, override_mode: 'forever' })
    expect(effectiveMaxLimit(b, Date.parse('2099-01-01T00:00:00Z'))).toBe(110)
  })
})
