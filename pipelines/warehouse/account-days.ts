import { addDays, daysBetween, eachDay, type Day } from '../core/day.ts'
import type { LedgerDay } from './ledger.ts'

/**
 * Which days of an ad account a run reads, from the account's ledger. Shared by the ad sources
 * (yandex-direct, vk-ads): their reports cover ranges of days in one request, so a day costs
 * little and the plan can be generous.
 */

export type AccountRunMode =
  | { readonly kind: 'sync' }
  /** Every day of from..to, whatever the ledger says. */
  | { readonly kind: 'backfill'; readonly from: Day; readonly to: Day }

export interface AccountDaysOptions {
  readonly mode: AccountRunMode
  /** The account's today (its zone): the last day there can be statistics of. */
  readonly today: Day
  /** The first day to read at all (adAccounts[].startDate). */
  readonly startDate: Day
  /** The oldest day the platform still has statistics of (Direct: 3 years, VK Ads: 366 days). */
  readonly earliestDay: Day
  /** Days up to today re-read by every sync: the platform refines recent statistics. */
  readonly lookbackDays: number
  /** Older days are re-read up to this age ... */
  readonly refreshMaxAgeDays: number
  /** ... once their last complete read is this many days old: corrections older than the look-back. */
  readonly refreshAfterDays: number
  /** Days the platform said changed (Direct's Changes.check BorderDate onwards): read whatever the ledger says. */
  readonly changedDays?: readonly Day[]
  readonly now: Date
}

export interface AccountDaysPlan {
  /** Days to read, oldest first. */
  readonly days: Day[]
  /** Days asked for (a backfill's from..to) that the platform no longer keeps: not read. */
  readonly tooOld: Day[]
}

const MS_PER_DAY = 86_400_000

/**
 * The days a run of an account reads, oldest first. A sync reads: every day from startDate to
 * today never read completely (never read, or its last read failed), the look-back, the days the
 * platform said changed, and the days within refreshMaxAgeDays last read completely more than
 * refreshAfterDays ago. A backfill reads from..to. No day before earliestDay or after today.
 *
 * @example
 * planAccountDays(ledger, { mode: { kind: 'sync' }, today: '2026-12-07', startDate: '2026-01-01',
 *   earliestDay: '2023-12-01', lookbackDays: 10, refreshMaxAgeDays: 60, refreshAfterDays: 7, now })
 */
export function planAccountDays(ledger: readonly LedgerDay[], options: AccountDaysOptions): AccountDaysPlan {
  const { today, earliestDay } = options
  const first = options.startDate > earliestDay ? options.startDate : earliestDay
  const wanted = new Set<Day>()
  if (options.mode.kind === 'backfill') {
    const last = options.mode.to < today ? options.mode.to : today
    if (options.mode.from > last) return { days: [], tooOld: [] }
    const asked = eachDay(options.mode.from, last)
    return { days: asked.filter((day) => day >= earliestDay), tooOld: asked.filter((day) => day < earliestDay) }
  }
  if (first > today) return { days: [], tooOld: [] }
  const readDays = new Map(ledger.map((entry) => [entry.day, entry]))
  for (const day of eachDay(first, today)) {
    const entry = readDays.get(day)
    if (entry === undefined || entry.status !== 'ok') wanted.add(day)
  }
  const lookbackFirst = addDays(today, -Math.max(0, options.lookbackDays - 1))
  if (options.lookbackDays > 0) for (const day of eachDay(maxDay(lookbackFirst, first), today)) wanted.add(day)
  for (const day of options.changedDays ?? []) if (day >= first && day <= today) wanted.add(day)
  const refreshFirst = maxDay(addDays(today, -options.refreshMaxAgeDays), first)
  for (const entry of ledger) {
    if (entry.status !== 'ok' || entry.day < refreshFirst || entry.day > today) continue
    const age =
      entry.lastSucceededAt === null ? Infinity : (options.now.getTime() - entry.lastSucceededAt.getTime()) / MS_PER_DAY
    if (age >= options.refreshAfterDays) wanted.add(entry.day)
  }
  return { days: [...wanted].sort(), tooOld: [] }
}

/**
 * Consecutive days grouped into ranges of at most `maxDays` each: one report or one statistics
 * request per range.
 *
 * @example
 * dayRanges(['2026-12-01', '2026-12-02', '2026-12-05'], 31) // [{ firstDay: '2026-12-01', lastDay: '2026-12-02' }, { firstDay: '2026-12-05', lastDay: '2026-12-05' }]
 */
export function dayRanges(days: readonly Day[], maxDays: number): { firstDay: Day; lastDay: Day }[] {
  if (!(maxDays >= 1)) throw new RangeError(`maxDays must be at least 1, got ${maxDays}`)
  const ranges: { firstDay: Day; lastDay: Day }[] = []
  for (const day of [...new Set(days)].sort()) {
    const last = ranges.at(-1)
    if (last !== undefined && addDays(last.lastDay, 1) === day && daysBetween(last.firstDay, day) < maxDays)
      last.lastDay = day
    else ranges.push({ firstDay: day, lastDay: day })
  }
  return ranges
}

function maxDay(a: Day, b: Day): Day {
  return a > b ? a : b
}
