import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  formatCallsJournalDate,
  formatRequestsJournalDate,
  instantOfEpochMilliseconds,
  instantOfEpochSeconds,
  parseCallsJournalDate,
  parseRequestsJournalDate,
} from '../../pipelines/sources/calltouch-leads/lead-dates.ts'

const days = fc
  .date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2999-12-31T00:00:00Z'), noInvalidDate: true })
  .map((date) => date.toISOString().slice(0, 10))

describe('the leads journals’ two date formats', () => {
  it('write 10 February 2024 day first for calls and month first for requests', () => {
    expect(formatCallsJournalDate('2024-02-10')).toBe('10/02/2024')
    expect(formatRequestsJournalDate('2024-02-10')).toBe('02/10/2024')
    expect(parseCallsJournalDate('10/02/2024')).toBe('2024-02-10')
    expect(parseRequestsJournalDate('10/02/2024')).toBe('2024-10-02')
    expect(parseRequestsJournalDate('02/10/2024')).toBe('2024-02-10')
  })

  it('refuse a day that does not exist in either format', () => {
    expect(parseCallsJournalDate('31/02/2024')).toBeUndefined()
    expect(parseRequestsJournalDate('13/01/2024')).toBeUndefined()
    expect(parseCallsJournalDate('2024-02-10')).toBeUndefined()
    expect(() => formatRequestsJournalDate('2024-02-30')).toThrow(RangeError)
  })

  it('read back every day each formatter writes', () => {
    fc.assert(
      fc.property(days, (day) => {
        expect(parseCallsJournalDate(formatCallsJournalDate(day))).toBe(day)
        expect(parseRequestsJournalDate(formatRequestsJournalDate(day))).toBe(day)
      }),
    )
  })

  it('read the same day from both formats only when day and month are equal', () => {
    fc.assert(
      fc.property(days, (day) => {
        const calls = formatCallsJournalDate(day)
        expect(parseRequestsJournalDate(calls) === day).toBe(day.slice(5, 7) === day.slice(8, 10))
      }),
    )
  })
})

describe('the journals’ epoch timestamps', () => {
  it('take the calls journal’s seconds and the requests journal’s milliseconds to the same instant', () => {
    expect(instantOfEpochSeconds(1714567324)?.toISOString()).toBe('2024-05-01T12:42:04.000Z')
    expect(instantOfEpochMilliseconds(1714567324000)?.toISOString()).toBe('2024-05-01T12:42:04.000Z')
    expect(instantOfEpochMilliseconds(1714567324123)?.toISOString()).toBe('2024-05-01T12:42:04.123Z')
  })

  it('refuse fractions, strings and instants no date holds', () => {
    expect(instantOfEpochSeconds(1.5)).toBeUndefined()
    expect(instantOfEpochSeconds('1714567324')).toBeUndefined()
    expect(instantOfEpochSeconds(8.64e12 + 1)).toBeUndefined()
  })

  it('are exact for every whole second and millisecond', () => {
    fc.assert(
      fc.property(fc.integer({ min: -8.64e12, max: 8.64e12 }), (seconds) => {
        expect(instantOfEpochSeconds(seconds)?.getTime()).toBe(seconds * 1000)
      }),
    )
    fc.assert(
      fc.property(fc.integer({ min: -8.64e15, max: 8.64e15 }), (ms) => {
        expect(instantOfEpochMilliseconds(ms)?.getTime()).toBe(ms)
      }),
    )
  })
})
