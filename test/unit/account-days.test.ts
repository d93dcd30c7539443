import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { addDays, eachDay } from '../../pipelines/core/day.ts'
import { dayRanges, planAccountDays, type AccountDaysOptions } from '../../pipelines/warehouse/account-days.ts'
import type { LedgerDay } from '../../pipelines/warehouse/ledger.ts'

const NOW = new Date('2026-12-07T09:00:00Z')
const TODAY = '2026-12-07'
const MS_PER_DAY = 86_400_000
const BASE: AccountDaysOptions = {
  mode: { kind: 'sync' },
  today: TODAY,
  startDate: '2026-11-01',
  earliestDay: '2025-12-08',
  lookbackDays: 10,
  refreshMaxAgeDays: 60,
  refreshAfterDays: 7,
  now: NOW,
}

function ok(day: string, daysAgo: number): LedgerDay {
  return { day, records: 1, status: 'ok', lastSucceededAt: new Date(NOW.getTime() - daysAgo * MS_PER_DAY) }
}

describe('the days a run of an ad account reads', () => {
  it('reads every day from the start date on the first sync, and the look-back plus failed days after a fresh read', () => {
    expect(planAccountDays([], BASE)).toEqual({ days: eachDay('2026-11-01', TODAY), tooOld: [] })
    const ledger = eachDay('2026-11-01', TODAY).map((day) => ok(day, 0))
    ledger[3] = { ...ok('2026-11-04', 0), status: 'failed' }
    expect(planAccountDays(ledger, BASE).days).toEqual(['2026-11-04', ...eachDay('2026-11-28', TODAY)])
  })

  it('re-reads days within refreshMaxAgeDays last read refreshAfterDays ago or more, and the days the platform said changed', () => {
    const ledger = eachDay('2026-11-01', TODAY).map((day) => ok(day, day < '2026-11-10' ? 7 : 6))
    expect(planAccountDays(ledger, { ...BASE, changedDays: ['2026-11-20', '2026-10-01'] }).days).toEqual([
      ...eachDay('2026-11-01', '2026-11-09'),
      '2026-11-20',
      ...eachDay('2026-11-28', TODAY),
    ])
  })

  it('backfills exactly from..to up to today, and names the days older than the platform keeps', () => {
    expect(planAccountDays([], { ...BASE, mode: { kind: 'backfill', from: '2025-12-06', to: '2025-12-09' } })).toEqual({
      days: ['2025-12-08', '2025-12-09'],
      tooOld: ['2025-12-06', '2025-12-07'],
    })
    expect(planAccountDays([], { ...BASE, mode: { kind: 'backfill', from: '2026-12-06', to: '2026-12-31' } })).toEqual({
      days: ['2026-12-06', TODAY],
      tooOld: [],
    })
  })

  it('for any ledger: reads each day once, oldest first, within the start, the platform and today, never missing an unread or failed day', () => {
    const day = fc.integer({ min: -400, max: 5 }).map((offset) => addDays(TODAY, offset))
    const entry = fc.record({
      day,
      status: fc.constantFrom('ok' as const, 'failed' as const),
      ageDays: fc.integer({ min: 0, max: 90 }),
    })
    fc.assert(
      fc.property(
        fc.uniqueArray(entry, { selector: (e) => e.day, maxLength: 120 }),
        fc.integer({ min: -500, max: 3 }),
        fc.integer({ min: 0, max: 40 }),
        (entries, startOffset, lookbackDays) => {
          const ledger = entries.map((e) => ({ ...ok(e.day, e.ageDays), status: e.status }))
          const options = { ...BASE, startDate: addDays(TODAY, startOffset), lookbackDays }
          const { days } = planAccountDays(ledger, options)
          const first = options.startDate > BASE.earliestDay ? options.startDate : BASE.earliestDay
          expect(days).toEqual([...new Set(days)].sort())
          expect(days.every((d) => d >= first && d <= TODAY)).toBe(true)
          const okDays = new Set(ledger.filter((e) => e.status === 'ok').map((e) => e.day))
          const due = first > TODAY ? [] : eachDay(first, TODAY).filter((d) => !okDays.has(d))
          expect(due.filter((d) => !days.includes(d))).toEqual([])
          const lookback = first > TODAY || lookbackDays === 0 ? [] : eachDay(addDays(TODAY, 1 - lookbackDays), TODAY)
          expect(lookback.filter((d) => d >= first && !days.includes(d))).toEqual([])
        },
      ),
      { seed: 16, numRuns: 300 },
    )
  })
})

describe('ranges of days', () => {
  it('groups consecutive days into ranges of at most maxDays', () => {
    expect(dayRanges(['2026-12-05', '2026-12-01', '2026-12-02', '2026-12-03', '2026-12-02'], 2)).toEqual([
      { firstDay: '2026-12-01', lastDay: '2026-12-02' },
      { firstDay: '2026-12-03', lastDay: '2026-12-03' },
      { firstDay: '2026-12-05', lastDay: '2026-12-05' },
    ])
    expect(() => dayRanges([], 0)).toThrow('maxDays must be at least 1, got 0')
  })

  it('for any days, covers exactly them with the fewest ranges of at most maxDays consecutive days', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 200 }), { maxLength: 150 }),
        fc.integer({ min: 1, max: 95 }),
        (offsets, maxDays) => {
          const days = offsets.map((offset) => addDays('2026-01-01', offset))
          const ranges = dayRanges(days, maxDays)
          expect(ranges.flatMap((r) => eachDay(r.firstDay, r.lastDay))).toEqual([...days].sort())
          expect(ranges.every((r) => eachDay(r.firstDay, r.lastDay).length <= maxDays)).toBe(true)
          // Fewest: a range shorter than maxDays is followed by a gap (or nothing).
          ranges.forEach((r, i) => {
            const next = ranges[i + 1]
            if (next !== undefined && eachDay(r.firstDay, r.lastDay).length < maxDays)
              expect(addDays(r.lastDay, 1) < next.firstDay).toBe(true)
          })
        },
      ),
      { seed: 16, numRuns: 300 },
    )
  })
})
