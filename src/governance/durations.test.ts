import { afterEach, describe, expect, it } from 'vitest'
import { GatewayError } from '../core/errors.js'
import { currentWindow, parseResetDuration, validateResetDuration, type ResetDuration } from './durations.js'
import { thrownGatewayError } from '../../test/helpers/gateway-error.js'

const SECOND = 1000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

const utc = (y: number, mo: number, d = 1, h = 0, mi = 0) => Date.UTC(y, mo - 1, d, h, mi)
const iso = (ms: number) => new Date(ms).toISOString()

function aligned(text: string, now: number, quarterStartMonth?: number) {
  const w = currentWindow(parseResetDuration(text), {
    calendarAligned: true,
    anchor: 0,
    now,
    quarterStartMonth,
  })
  return { start: iso(w.start), end: iso(w.end) }
}

function rolling(text: string, anchor: number, now: number) {
  const w = currentWindow(parseResetDuration(text), { calendarAligned: false, anchor, now })
  return { start: iso(w.start), end: iso(w.end) }
}

describe('parseResetDuration', () => {
  it.each([
    ['30s', 30, 's', 30 * SECOND],
    ['5m', 5, 'm', 5 * MINUTE],
    ['1h', 1, 'h', HOUR],
    ['2d', 2, 'd', 2 * DAY],
    ['1w', 1, 'w', 7 * DAY],
    ['1M', 1, 'M', 30 * DAY],
    ['3M', 3, 'M', 90 * DAY],
    ['1Q', 1, 'Q', 90 * DAY],
    ['1Y', 1, 'Y', 365 * DAY],
  ])('reads %s', (text, count, unit, ms) => {
    expect(parseResetDuration(text)).toEqual({ text, count, unit, ms })
  })

  it.each([
    ['daily', 'd', DAY],
    ['weekly', 'w', 7 * DAY],
    ['monthly', 'M', 30 * DAY],
    ['quarterly', 'Q', 90 * DAY],
    ['yearly', 'Y', 365 * DAY],
  ])('reads the alias %s', (text, unit, ms) => {
    expect(parseResetDuration(text)).toEqual({ text, count: 1, unit, ms })
  })

  it('tells minutes (m) from months (M)', () => {
    expect(parseResetDuration('1m').ms).toBe(MINUTE)
    expect(parseResetDuration('1M').ms).toBe(30 * DAY)
  })

  it.each([
    '',
    '0d',
    '1x',
    '-1h',
    '1.5h',
    '1D',
    '1H',
    'd',
    '1',
    '01d',
    ' 1d',
    '1d ',
    '1h30m',
    'Monthly',
    'never',
  ])('refuses %j with a 400 that names the value and the accepted forms', (text) => {
    const err = thrownGatewayError(() => parseResetDuration(text, 'budgets[0].reset_duration'))
    expect(err.code).toBe('invalid_request')
    expect(err.status).toBe(400)
    expect(err.param).toBe('budgets[0].reset_duration')
    expect(err.message).toContain(JSON.stringify(text))
    expect(err.message).toContain('M (months)')
    expect(err.message).toContain('daily, weekly, monthly')
  })

  it('refuses durations longer than 100 years and names the default param', () => {
    expect(parseResetDuration('100Y').ms).toBe(100 * 365 * DAY)
    const err = thrownGatewayError(() => parseResetDuration('101Y'))
    expect(err.param).toBe('reset_duration')
    expect(err.message).toContain('100 years')
    expect(() => parseResetDuration('99999999999999999s')).toThrow(GatewayError)
  })

  it('refuses a value that is not a string', () => {
    expect(() => parseResetDuration(30 as unknown as string)).toThrow(GatewayError)
  })
})

describe('validateResetDuration', () => {
  it('accepts any unit without alignment and day-or-longer units with it', () => {
    expect(validateResetDuration('1m', false, 'p').unit).toBe('m')
    for (const text of ['1d', '1w', '1M', '1Q', '1Y', 'daily']) {
      expect(validateResetDuration(text, true, 'p').text).toBe(text)
    }
  })

  it.each(['30s', '1m', '1h'])('refuses calendar alignment with %s, naming the param', (text) => {
    const err = thrownGatewayError(() => validateResetDuration(text, true, 'budget.reset_duration'))
    expect(err.code).toBe('invalid_request')
    expect(err.param).toBe('budget.reset_duration')
    expect(err.message).toBe('calendar_aligned needs a reset_duration in d, w, M, Q or Y')
  })

  it('reports a malformed value under the given param', () => {
    expect(
      thrownGatewayError(() => validateResetDuration('1x', true, 'rate_limit.token_reset_duration')).param,
    ).toBe('rate_limit.token_reset_duration')
  })
})

describe('currentWindow, rolling', () => {
  const anchor = utc(2025, 3, 10, 15, 20)

  it('starts the first window at the anchor', () => {
    expect(rolling('1h', anchor, anchor)).toEqual({ start: iso(anchor), end: iso(anchor + HOUR) })
    expect(rolling('1h', anchor, anchor + HOUR - 1).start).toBe(iso(anchor))
  })

  it('moves to the next window exactly at its end', () => {
    expect(rolling('1h', anchor, anchor + HOUR)).toEqual({
      start: iso(anchor + HOUR),
      end: iso(anchor + 2 * HOUR),
    })
  })

  it('skips whole idle windows', () => {
    const w = rolling('1d', anchor, anchor + 10 * DAY + 5 * HOUR)
    expect(w).toEqual({ start: iso(anchor + 10 * DAY), end: iso(anchor + 11 * DAY) })
  })

  it.each([
    ['30s', 30 * SECOND],
    ['15m', 15 * MINUTE],
    ['1w', 7 * DAY],
    ['1M', 30 * DAY],
    ['1Q', 90 * DAY],
    ['1Y', 365 * DAY],
  ])('%s rolls by its fixed length', (text, ms) => {
    const w = currentWindow(parseResetDuration(text), {
      calendarAligned: false,
      anchor,
      now: anchor + ms + 1,
    })
    expect(w).toEqual({ start: anchor + ms, end: anchor + 2 * ms })
  })

  it('never starts before the anchor when the anchor is in the future (clock skew)', () => {
    expect(rolling('1h', anchor, anchor - 5 * MINUTE)).toEqual({
      start: iso(anchor),
      end: iso(anchor + HOUR),
    })
  })

  it('rolls 1M from 31 January by 30 days: 2 March, or 1 March in a leap year', () => {
    expect(rolling('1M', utc(2025, 1, 31), utc(2025, 2, 15)).end).toBe('2025-03-02T00:00:00.000Z')
    expect(rolling('1M', utc(2024, 1, 31), utc(2024, 2, 15)).end).toBe('2024-03-01T00:00:00.000Z')
  })

  it('rolls 1Y by 365 days, so a leap year ends a day early', () => {
    expect(rolling('1Y', utc(2024, 1, 1), utc(2024, 6, 1)).end).toBe('2024-12-31T00:00:00.000Z')
  })
})

describe('currentWindow, calendar-aligned (UTC)', () => {
  it('starts days at 00:00 UTC', () => {
    expect(aligned('1d', utc(2025, 3, 10, 15, 20))).toEqual({
      start: '2025-03-10T00:00:00.000Z',
      end: '2025-03-11T00:00:00.000Z',
    })
    expect(aligned('daily', utc(2025, 3, 10)).start).toBe('2025-03-10T00:00:00.000Z')
  })

  it('ignores the anchor', () => {
    const d = parseResetDuration('1d')
    const now = utc(2025, 3, 10, 12)
    const a = currentWindow(d, { calendarAligned: true, anchor: utc(2025, 3, 10, 9, 17), now })
    const b = currentWindow(d, { calendarAligned: true, anchor: 0, now })
    expect(a).toEqual(b)
  })

  it('groups multiples of days from the epoch, the same for every instant of the window', () => {
    const d = parseResetDuration('2d')
    const w = currentWindow(d, { calendarAligned: true, anchor: 0, now: utc(2025, 3, 10, 12) })
    expect(w.end - w.start).toBe(2 * DAY)
    expect((w.start / DAY) % 2).toBe(0)
    expect(w.start % DAY).toBe(0)
    for (const now of [w.start, w.start + DAY, w.end - 1]) {
      expect(currentWindow(d, { calendarAligned: true, anchor: 123, now })).toEqual(w)
    }
    expect(currentWindow(d, { calendarAligned: true, anchor: 0, now: w.end }).start).toBe(w.end)
  })

  it('starts weeks on Monday 00:00 UTC', () => {
    const week = { start: '2025-03-10T00:00:00.000Z', end: '2025-03-17T00:00:00.000Z' }
    expect(aligned('1w', utc(2025, 3, 10))).toEqual(week) // Monday
    expect(aligned('1w', utc(2025, 3, 12, 8))).toEqual(week) // Wednesday
    expect(aligned('1w', utc(2025, 3, 16, 23, 59))).toEqual(week) // Sunday
    expect(aligned('weekly', utc(2025, 3, 17)).start).toBe('2025-03-17T00:00:00.000Z')
  })

  it('counts two-week windows from the week of the epoch (Monday 1969-12-29)', () => {
    expect(aligned('2w', utc(1970, 1, 1))).toEqual({
      start: '1969-12-29T00:00:00.000Z',
      end: '1970-01-12T00:00:00.000Z',
    })
    const w = aligned('2w', utc(2025, 3, 12))
    expect(new Date(w.start).getUTCDay()).toBe(1)
    expect(Date.parse(w.end) - Date.parse(w.start)).toBe(14 * DAY)
  })

  it('starts months on the 1st with their real length', () => {
    expect(aligned('1M', utc(2025, 1, 31, 23))).toEqual({
      start: '2025-01-01T00:00:00.000Z',
      end: '2025-02-01T00:00:00.000Z',
    })
    expect(aligned('monthly', utc(2025, 2, 14))).toEqual({
      start: '2025-02-01T00:00:00.000Z',
      end: '2025-03-01T00:00:00.000Z',
    })
    expect(aligned('1M', utc(2024, 2, 29, 12))).toEqual({
      start: '2024-02-01T00:00:00.000Z',
      end: '2024-03-01T00:00:00.000Z',
    })
    expect(aligned('1M', utc(2024, 12, 31, 23, 59))).toEqual({
      start: '2024-12-01T00:00:00.000Z',
      end: '2025-01-01T00:00:00.000Z',
    })
  })

  it('compares Jan 31 + 1M: rolling ends on 2 March, aligned at the start of February', () => {
    expect(rolling('1M', utc(2025, 1, 31), utc(2025, 1, 31, 12)).end).toBe('2025-03-02T00:00:00.000Z')
    expect(aligned('1M', utc(2025, 1, 31, 12)).end).toBe('2025-02-01T00:00:00.000Z')
  })

  it('groups multiples of months from January 1970', () => {
    expect(aligned('2M', utc(2025, 4, 10))).toEqual({
      start: '2025-03-01T00:00:00.000Z',
      end: '2025-05-01T00:00:00.000Z',
    })
    expect(aligned('3M', utc(2025, 5, 15))).toEqual(aligned('1Q', utc(2025, 5, 15)))
    expect(aligned('6M', utc(2025, 11, 1))).toEqual({
      start: '2025-07-01T00:00:00.000Z',
      end: '2026-01-01T00:00:00.000Z',
    })
  })

  it('starts quarters on 1 Jan, Apr, Jul and Oct', () => {
    expect(aligned('1Q', utc(2025, 5, 15))).toEqual({
      start: '2025-04-01T00:00:00.000Z',
      end: '2025-07-01T00:00:00.000Z',
    })
    expect(aligned('quarterly', utc(2025, 12, 31, 23)).start).toBe('2025-10-01T00:00:00.000Z')
    expect(aligned('quarterly', utc(2025, 12, 31, 23)).end).toBe('2026-01-01T00:00:00.000Z')
  })

  it('shifts quarters to a configured start month', () => {
    expect(aligned('1Q', utc(2025, 5, 15), 2)).toEqual({
      start: '2025-05-01T00:00:00.000Z',
      end: '2025-08-01T00:00:00.000Z',
    })
    expect(aligned('1Q', utc(2025, 1, 15), 2)).toEqual({
      start: '2024-11-01T00:00:00.000Z',
      end: '2025-02-01T00:00:00.000Z',
    })
    expect(aligned('1Q', utc(2025, 5, 15), 1)).toEqual(aligned('1Q', utc(2025, 5, 15)))
    for (const bad of [0, 13, 1.5]) expect(() => aligned('1Q', utc(2025, 5, 15), bad)).toThrow(GatewayError)
  })

  it('starts years on 1 January, 366 days long in a leap year', () => {
    const w = aligned('1Y', utc(2024, 7, 4))
    expect(w).toEqual({ start: '2024-01-01T00:00:00.000Z', end: '2025-01-01T00:00:00.000Z' })
    expect(Date.parse(w.end) - Date.parse(w.start)).toBe(366 * DAY)
    expect(aligned('yearly', utc(2025, 1, 1)).start).toBe('2025-01-01T00:00:00.000Z')
  })

  it('starts two-year windows in even years', () => {
    expect(aligned('2Y', utc(2025, 7, 4))).toEqual({
      start: '2024-01-01T00:00:00.000Z',
      end: '2026-01-01T00:00:00.000Z',
    })
  })

  it('works before the epoch', () => {
    expect(aligned('1M', utc(1969, 7, 20))).toEqual({
      start: '1969-07-01T00:00:00.000Z',
      end: '1969-08-01T00:00:00.000Z',
    })
    expect(aligned('1d', utc(1969, 7, 20, 20)).start).toBe('1969-07-20T00:00:00.000Z')
  })

  it.each(['30s', '1m', '1h', '24h'])('refuses %s with a 400', (text) => {
    const d: ResetDuration = parseResetDuration(text)
    const err = thrownGatewayError(() =>
      currentWindow(d, { calendarAligned: true, anchor: 0, now: Date.now() }),
    )
    expect(err.code).toBe('invalid_request')
    expect(err.message).toBe('calendar_aligned needs a reset_duration in d, w, M, Q or Y')
  })

  describe('does not depend on the local time zone or its DST changes', () => {
    const saved = process.env.TZ
    afterEach(() => {
      if (saved === undefined) delete process.env.TZ
      else process.env.TZ = saved
    })

    it.each(['Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe'])('%s', (tz) => {
      process.env.TZ = tz
      // 30 March 2025 (EU) and 9 March 2025 (US) are DST days in local time; UTC days stay 24 h.
      for (const day of [utc(2025, 3, 30, 1, 30), utc(2025, 3, 9, 7)]) {
        const w = currentWindow(parseResetDuration('1d'), { calendarAligned: true, anchor: 0, now: day })
        expect(w.end - w.start).toBe(DAY)
        expect(w.start % DAY).toBe(0)
      }
      expect(aligned('1M', utc(2025, 3, 31, 23, 30))).toEqual({
        start: '2025-03-01T00:00:00.000Z',
        end: '2025-04-01T00:00:00.000Z',
      })
      expect(aligned('1w', utc(2025, 3, 30, 23)).start).toBe('2025-03-24T00:00:00.000Z')
    })
  })
})
