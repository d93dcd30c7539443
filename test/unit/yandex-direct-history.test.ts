import { describe, expect, it } from 'vitest'
import { earliestDirectDay, MAX_REPORT_DAYS } from '../../pipelines/sources/yandex-direct/sync-account.ts'
import { dayRanges } from '../../pipelines/warehouse/account-days.ts'
import { eachDay } from '../../pipelines/core/day.ts'

describe("Yandex Direct's history", () => {
  it('starts 3 years before the first day of the current month', () => {
    expect(earliestDirectDay('2026-11-29')).toBe('2023-11-01')
    expect(earliestDirectDay('2026-01-01')).toBe('2023-01-01')
    expect(earliestDirectDay('2028-02-29')).toBe('2025-02-01')
  })

  it('is read in 37 reports of at most 31 days when a backfill asks for all of it', () => {
    const ranges = dayRanges(eachDay(earliestDirectDay('2026-11-29'), '2026-11-29'), MAX_REPORT_DAYS)
    expect(ranges).toHaveLength(37)
    expect(ranges[0]).toEqual({ firstDay: '2023-11-01', lastDay: '2023-12-01' })
    expect(ranges.at(-1)).toEqual({ firstDay: '2026-11-21', lastDay: '2026-11-29' })
  })
})
