/**
 * How the coordinator cuts one stream's planned days into jobs. A job costs at least one request
 * per window it reads, so cutting a small site's month into 14-day jobs spends three requests
 * where one would do (measured by bench/scale-out.ts: 4.8 × the least requests on 30 small sites
 * in 14-day jobs, 1.6 × uncut). Where the ledger knows each day's records (every day read
 * before, as in a nightly), a job takes consecutive days up to a number of records, however many
 * days that is; days never read are cut every `chunkDays`, since nothing tells how big they are.
 */
import { addDays, type Day } from '../core/day.ts'

/** Records a job aims at where the ledger knows its days: 15 pages, about 3 s of one address's limit. */
export const JOB_RECORDS_TARGET = 15_000

export interface ChunkRule {
  /** Days per job where a day's size is unknown. */
  readonly chunkDays: number
  /** Records per job where every day's size is known (default {@link JOB_RECORDS_TARGET}). */
  readonly recordsPerJob?: number
}

/**
 * Consecutive planned days grouped into jobs: a job never spans a gap in the plan; one whose days
 * are all known holds at most `recordsPerJob` records (a single day above it is a job of its own);
 * one with a day of unknown size holds at most `chunkDays` days.
 */
export function chunkPlannedDays(
  planned: readonly Day[],
  recordsOf: (day: Day) => number | null,
  rule: ChunkRule,
): Day[][] {
  const chunkDays = Math.max(1, rule.chunkDays)
  const recordsPerJob = rule.recordsPerJob ?? JOB_RECORDS_TARGET
  const chunks: { days: Day[]; records: number; allKnown: boolean }[] = []
  for (const day of planned) {
    const records = recordsOf(day)
    const last = chunks.at(-1)
    if (last !== undefined && addDays(last.days.at(-1) as Day, 1) === day) {
      const allKnown = last.allKnown && records !== null
      const fits = allKnown ? last.records + (records ?? 0) <= recordsPerJob : last.days.length < chunkDays
      if (fits) {
        last.days.push(day)
        last.records += records ?? 0
        last.allKnown = allKnown
        continue
      }
    }
    chunks.push({ days: [day], records: records ?? 0, allKnown: records !== null })
  }
  return chunks.map((chunk) => chunk.days)
}
