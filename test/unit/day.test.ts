import { describe, expect, it } from 'vitest'
import {
  addDays,
  dayOrderProblem,
  dayProblem,
  daysBetween,
  eachDay,
  isDay,
  isTimeZone,
  parseDay,
  parseTimeZone,
  timeZoneProblem,
  todayIn,
} from '../../pipelines/core/day.ts'
import { EtlError } from '../../pipelines/core/errors.ts'
import { formatDealsExportDate } from '../../pipelines/sources/calltouch-deals/calltouch-dates.ts'

/** 2026-11-28 20:30 UTC: 23:30 in Moscow, already the 29th in Yekaterinburg (UTC+5). */
const NOW = new Date('2026-11-28T20:30:00Z')

function errorOf(run: () => unknown): { code: string; message: string } {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(EtlError)
    return { code: (error as EtlError).code, message: (error as EtlError).message }
  }
  throw new Error('expected an EtlError')
}

describe('days', () => {
  it('are real calendar dates written YYYY-MM-DD, and nothing else', () => {
    expect(['2026-02-28', '2024-02-29', '2000-02-29', '0001-01-01'].map(isDay)).toEqual([true, true, true, true])
    expect(
      ['2026-02-29', '1900-02-29', '2026-13-01', '2026-04-31', '2026-3-1', '01.03.2026', '', undefined, 20260301].map(
        isDay,
      ),
    ).toEqual([false, false, false, false, false, false, false, false, false])
  })

  it('add, count and list across months, leap days and the daylight-saving change', () => {
    expect(addDays('2024-02-28', 1)).toBe('2024-02-29')
    expect(addDays('2026-03-01', -1)).toBe('2026-02-28')
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01')
    expect(daysBetween('2026-03-28', '2026-03-30')).toBe(2)
    expect(daysBetween('2026-11-07', '2026-11-01')).toBe(-6)
    expect(eachDay('2026-10-24', '2026-10-27')).toEqual(['2026-10-24', '2026-10-25', '2026-10-26', '2026-10-27'])
    expect(eachDay('2026-10-27', '2026-10-24')).toEqual([])
  })

  it('refuse arithmetic on a text that is not a day', () => {
    expect(() => addDays('2026-02-30', 1)).toThrow(new RangeError('not a day as YYYY-MM-DD: "2026-02-30"'))
  })

  it('are today by the clock of the zone', () => {
    expect(todayIn('Europe/Moscow', NOW)).toBe('2026-11-28')
    expect(todayIn('Asia/Yekaterinburg', NOW)).toBe('2026-11-29')
    expect(todayIn('UTC', NOW)).toBe('2026-11-28')
  })

  it('say why a text is not a day, or not a day up to today, as the end of a sentence', () => {
    expect(dayProblem('2026-11-28')).toBeUndefined()
    expect(dayProblem('yesterday')).toBe('must be a date as YYYY-MM-DD, got "yesterday"')
    expect(dayProblem('2026-02-30')).toBe('2026-02-30 is not a real date')
    expect(dayProblem('2026-11-29', { zone: 'Europe/Moscow', now: NOW })).toBe(
      '2026-11-29 is in the future (today is 2026-11-28 in Europe/Moscow)',
    )
    expect(dayProblem('2026-11-29', { zone: 'Asia/Yekaterinburg', now: NOW })).toBeUndefined()
  })

  it('say which of two days is after the other', () => {
    expect(dayOrderProblem({ name: '--from', day: '2026-11-02' }, { name: '--to', day: '2026-11-01' })).toBe(
      '--from 2026-11-02 is after --to 2026-11-01: give the earlier day first',
    )
    expect(dayOrderProblem({ name: '--from', day: '2026-11-01' }, { name: '--to', day: '2026-11-01' })).toBeUndefined()
  })

  it("parse into a day, or a one-line error naming the option and the exit code's kind", () => {
    expect(parseDay('2026-11-01', '--from', 'USAGE')).toBe('2026-11-01')
    expect(errorOf(() => parseDay('2026-11-31', '--to', 'USAGE'))).toEqual({
      code: 'USAGE',
      message: '--to 2026-11-31 is not a real date',
    })
    expect(errorOf(() => parseDay('1.11.2026', 'startDate'))).toEqual({
      code: 'INPUT',
      message: 'startDate must be a date as YYYY-MM-DD, got "1.11.2026"',
    })
    expect(
      errorOf(() => parseDay('2026-11-29', 'CALLTOUCH_START_DATE', 'CONFIG', { zone: 'Europe/Moscow', now: NOW })),
    ).toEqual({
      code: 'CONFIG',
      message: 'CALLTOUCH_START_DATE 2026-11-29 is in the future (today is 2026-11-28 in Europe/Moscow)',
    })
  })

  it('are written dd/mm/yyyy for the deals export', () => {
    expect(formatDealsExportDate('2026-03-01')).toBe('01/03/2026')
    expect(() => formatDealsExportDate('2026-02-30')).toThrow(new RangeError('not a day as YYYY-MM-DD: "2026-02-30"'))
  })
})

describe('time zones', () => {
  it("are the IANA database's zones", () => {
    expect(['Europe/Moscow', 'Asia/Yekaterinburg', 'UTC'].map(isTimeZone)).toEqual([true, true, true])
    expect(['Mars/Olympus', '', 'MSK+1', undefined].map(isTimeZone)).toEqual([false, false, false, false])
  })

  it('are refused with one message naming examples', () => {
    expect(timeZoneProblem('Europe/Moscow')).toBeUndefined()
    expect(timeZoneProblem('Mars/Olympus')).toBe(
      '"Mars/Olympus" is not an IANA time zone (e.g. Europe/Moscow, Asia/Yekaterinburg)',
    )
    expect(parseTimeZone('Asia/Yekaterinburg', '--timezone', 'USAGE')).toBe('Asia/Yekaterinburg')
    expect(errorOf(() => parseTimeZone('Moon/Base', '--timezone', 'USAGE'))).toEqual({
      code: 'USAGE',
      message: '--timezone "Moon/Base" is not an IANA time zone (e.g. Europe/Moscow, Asia/Yekaterinburg)',
    })
    expect(errorOf(() => parseTimeZone('Moon/Base', 'CALLTOUCH_TIMEZONE'))).toEqual({
      code: 'CONFIG',
      message: 'CALLTOUCH_TIMEZONE "Moon/Base" is not an IANA time zone (e.g. Europe/Moscow, Asia/Yekaterinburg)',
    })
  })
})
