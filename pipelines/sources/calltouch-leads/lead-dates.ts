import { DAY_FORMAT, isDay, type Day } from '../../core/day.ts'

/**
 * The two journals' date formats (LEADS-API.md §3): one day is written two ways, and
 * `10/02/2024` is 10 February to the calls journal and 2 October to the requests journal. Each
 * has its own named formatter and parser, so neither is ever guessed, here or in the database.
 * Days themselves, and their arithmetic, are core's (`core/day.ts`).
 */

/** The calls journal's query dates: day first, `dd/mm/yyyy` (LEADS-API.md §1.1). */
export const CALLS_JOURNAL_DATE_FORMAT = 'DD/MM/YYYY'

/** The requests journal's query dates: MONTH first, `mm/dd/yyyy` (LEADS-API.md §2.1). */
export const REQUESTS_JOURNAL_DATE_FORMAT = 'MM/DD/YYYY'

/**
 * A day as the calls journal's `dateFrom`/`dateTo` want it.
 *
 * @example formatCallsJournalDate('2024-02-10') // '10/02/2024'
 */
export function formatCallsJournalDate(day: Day): string {
  const [year, month, dayOfMonth] = partsOf(day)
  return `${dayOfMonth}/${month}/${year}`
}

/**
 * A day as the requests journal's `dateFrom`/`dateTo` want it: month first.
 *
 * @example formatRequestsJournalDate('2024-02-10') // '02/10/2024'
 */
export function formatRequestsJournalDate(day: Day): string {
  const [year, month, dayOfMonth] = partsOf(day)
  return `${month}/${dayOfMonth}/${year}`
}

/** The day a calls-journal date `dd/mm/yyyy` names; undefined when it names none (31/02, 2024-02-10, …). */
export function parseCallsJournalDate(text: string): Day | undefined {
  const match = SLASHED_DATE.exec(text)
  return match === null ? undefined : dayOf(match[3] ?? '', match[2] ?? '', match[1] ?? '')
}

/** The day a requests-journal date `mm/dd/yyyy` names; undefined when it names none. */
export function parseRequestsJournalDate(text: string): Day | undefined {
  const match = SLASHED_DATE.exec(text)
  return match === null ? undefined : dayOf(match[3] ?? '', match[1] ?? '', match[2] ?? '')
}

/**
 * The instant of the calls journal's `timestamp`: whole epoch SECONDS, UTC (LEADS-API.md §1.3).
 * Undefined for anything else (a fraction, a string, a value outside JavaScript's dates).
 *
 * @example instantOfEpochSeconds(1714567324) // 2024-05-01T12:42:04.000Z
 */
export function instantOfEpochSeconds(value: unknown): Date | undefined {
  return instantOf(value, 1000)
}

/**
 * The instant of the requests journal's `date`: whole epoch MILLISECONDS, UTC (LEADS-API.md §2.3).
 *
 * @example instantOfEpochMilliseconds(1714567324000) // 2024-05-01T12:42:04.000Z
 */
export function instantOfEpochMilliseconds(value: unknown): Date | undefined {
  return instantOf(value, 1)
}

const SLASHED_DATE = /^([0-9]{2})\/([0-9]{2})\/([0-9]{4})$/

/** The largest instant JavaScript dates hold (ECMA-262 §21.4.1.1), in milliseconds. */
const MAX_DATE_MS = 8.64e15

function instantOf(value: unknown, msPerUnit: number): Date | undefined {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) return undefined
  const ms = value * msPerUnit
  return Math.abs(ms) <= MAX_DATE_MS ? new Date(ms) : undefined
}

function partsOf(day: Day): [string, string, string] {
  if (!isDay(day)) throw new RangeError(`not a day as ${DAY_FORMAT}: ${JSON.stringify(day)}`)
  return [day.slice(0, 4), day.slice(5, 7), day.slice(8, 10)]
}

function dayOf(year: string, month: string, dayOfMonth: string): Day | undefined {
  const day = `${year}-${month}-${dayOfMonth}`
  return isDay(day) ? day : undefined
}
