import { describe, expect, it } from 'vitest'
import { formatMoneyShort, moneyTicks } from '../ui/src/format.js'

/**
 * The dashboard's cost axis as a reader sees it: small amounts written out (`$0.00001`, never
 * `$1e-5`), ticks that keep one or two digits, and labels that grow no longer than they must.
 */
describe('dashboard cost axis labels', () => {
  it('writes small amounts out, with at most two significant digits', () => {
    expect(formatMoneyShort(1e-5)).toBe('$0.00001')
    expect(formatMoneyShort(2.5e-6)).toBe('$0.0000025')
    expect(formatMoneyShort(0.0042)).toBe('$0.0042')
    expect(formatMoneyShort(3.0000000000000004e-5)).toBe('$0.00003')
    expect(formatMoneyShort(-1e-5)).toBe('-$0.00001')
    expect(formatMoneyShort(0)).toBe('$0')
    expect(formatMoneyShort(1.2)).toBe('$1.20')
    expect(formatMoneyShort(1234)).toBe('$1.2K')
  })

  it('ticks 1, 2 or 5 × 10ⁿ apart from $0 past the highest bar', () => {
    expect(moneyTicks(3.2e-5).map(formatMoneyShort)).toEqual([
      '$0',
      '$0.00001',
      '$0.00002',
      '$0.00003',
      '$0.00004',
    ])
    expect(moneyTicks(0.7).map(formatMoneyShort)).toEqual(['$0', '$0.20', '$0.40', '$0.60', '$0.80'])
    expect(moneyTicks(9).map(formatMoneyShort)).toEqual(['$0', '$5.00', '$10'])
    for (const max of [1.3e-7, 4.4e-6, 0.00019, 0.013, 2.7, 48, 930, 12_345]) {
      const ticks = moneyTicks(max)
      expect(ticks[ticks.length - 1]).toBeGreaterThanOrEqual(max)
      expect(ticks.length).toBeLessThanOrEqual(6)
      expect(ticks.map(formatMoneyShort).filter((l) => /e/i.test(l))).toEqual([])
    }
  })

  it('an empty chart still has an axis', () => {
    expect(moneyTicks(0)).toEqual([0, 1])
  })
})
