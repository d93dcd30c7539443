import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { addDays, type Day } from '../../pipelines/core/day.ts'
import { chunkPlannedDays } from '../../pipelines/jobs/job-chunks.ts'

function daysFrom(first: Day, count: number): Day[] {
  return Array.from({ length: count }, (_, index) => addDays(first, index))
}

const spans = (chunks: Day[][]): string[] => chunks.map((days) => `${days[0]}..${days.at(-1)}`)

describe('cutting planned days into jobs', () => {
  it('cuts days never read every chunkDays days, and never across a gap in the plan', () => {
    const planned = [...daysFrom('2026-11-01', 30), ...daysFrom('2026-12-05', 3)]
    expect(spans(chunkPlannedDays(planned, () => null, { chunkDays: 14 }))).toEqual([
      '2026-11-01..2026-11-14',
      '2026-11-15..2026-11-28',
      '2026-11-29..2026-11-30',
      '2026-12-05..2026-12-07',
    ])
  })

  it("keeps a small site's known month in one job, where 14-day jobs would cost three requests", () => {
    const planned = daysFrom('2026-11-01', 30)
    expect(spans(chunkPlannedDays(planned, () => 3, { chunkDays: 14 }))).toEqual(['2026-11-01..2026-11-30'])
  })

  it('cuts known days by records: up to the target per job, a day above it alone', () => {
    const records: Record<Day, number> = {
      '2026-11-01': 6_000,
      '2026-11-02': 6_000,
      '2026-11-03': 6_000,
      '2026-11-04': 40_000,
      '2026-11-05': 1_000,
      '2026-11-06': 1_000,
    }
    const planned = daysFrom('2026-11-01', 6)
    expect(spans(chunkPlannedDays(planned, (day) => records[day] ?? null, { chunkDays: 14 }))).toEqual([
      '2026-11-01..2026-11-02',
      '2026-11-03..2026-11-03',
      '2026-11-04..2026-11-04',
      '2026-11-05..2026-11-06',
    ])
  })

  it('cuts a run of known days followed by new ones at chunkDays days, as nothing tells the new days’ size', () => {
    const planned = daysFrom('2026-11-01', 20)
    const recordsOf = (day: Day): number | null => (day <= '2026-11-10' ? 10 : null)
    expect(spans(chunkPlannedDays(planned, recordsOf, { chunkDays: 14 }))).toEqual([
      '2026-11-01..2026-11-14',
      '2026-11-15..2026-11-20',
    ])
  })

  it('puts every planned day in exactly one job, in order, within the bounds, for any plan and sizes', () => {
    const plan = fc.array(fc.tuple(fc.integer({ min: 1, max: 3 }), fc.option(fc.integer({ min: 0, max: 30_000 }))), {
      maxLength: 120,
    })
    fc.assert(
      fc.property(
        plan,
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 20_000 }),
        (steps, chunkDays, target) => {
          // Days advancing 1-3 at a time (gaps in the plan), each with a known size or none.
          const planned: Day[] = []
          const sizes = new Map<Day, number | null>()
          let day: Day = '2026-01-01'
          for (const [step, size] of steps) {
            day = addDays(day, step)
            planned.push(day)
            sizes.set(day, size)
          }
          const chunks = chunkPlannedDays(planned, (d) => sizes.get(d) ?? null, { chunkDays, recordsPerJob: target })
          expect(chunks.flat()).toEqual(planned)
          for (const chunk of chunks) {
            chunk.slice(1).forEach((d, index) => expect(d).toBe(addDays(chunk[index] as Day, 1)))
            const known = chunk.map((d) => sizes.get(d) ?? null)
            if (known.some((size) => size === null)) expect(chunk.length).toBeLessThanOrEqual(chunkDays)
            else if (chunk.length > 1)
              expect(known.reduce<number>((sum, size) => sum + (size ?? 0), 0)).toBeLessThanOrEqual(target)
          }
          // Greedy: a job ends before a consecutive day only because that day would not fit.
          chunks.slice(1).forEach((chunk, index) => {
            const before = chunks[index] as Day[]
            const next = chunk[0] as Day
            if (addDays(before.at(-1) as Day, 1) !== next) return
            const sizesJoined = [...before, next].map((d) => sizes.get(d) ?? null)
            if (sizesJoined.every((size) => size !== null))
              expect(sizesJoined.reduce<number>((sum, size) => sum + (size ?? 0), 0)).toBeGreaterThan(target)
            else expect(before.length).toBe(chunkDays)
          })
        },
      ),
      { numRuns: 500 },
    )
  })
})
