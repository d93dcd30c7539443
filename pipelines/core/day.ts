import { DateTime, IANAZone } from 'luxon'
import { EtlError, type ErrorCode } from './errors.ts'

/**
 * Days and zones, one vocabulary for every source, option and file.
 *
 * A day is a 'YYYY-MM-DD' string: a calendar day local to an account (a site's
 * zone), as the warehouse's `date` columns return it. Arithmetic on days is done
 * in UTC so that no daylight-saving shift can skip or repeat a day. Plain `Date`
 * arithmetic, not luxon: the window planner does day arithmetic in its inner
 * loops, where luxon's objects cost ~40 µs a call.
 *
 * The `*Problem` functions say why a text is not what it should be as the end of
 * a sentence whose subject the caller names (`--from`, `CALLTOUCH_START_DATE`,
 * `sites[1].startDate:`), so every option, variable and file field reads alike.
 */
export type Day = string

/** How a day is written, for help texts and messages. */
export const DAY_FORMAT = 'YYYY-MM-DD'
/** Zones named in messages, so the fix is one copy away. */
const ZONE_EXAMPLES = 'e.g. Europe/Moscow, Asia/Yekaterinburg'

const DAY_PATTERN = /^\d{4}-\d{2}-\d{2}$/
const MS_PER_DAY = 86_400_000

/** Days since 1970-01-01, or undefined when `day` is not a real date written YYYY-MM-DD. */
function epochDayOf(day: unknown): number | undefined {
  if (typeof day !== 'string' || !DAY_PATTERN.test(day)) return undefined
  const [year, month, date] = [Number(day.slice(0, 4)), Number(day.slice(5, 7)), Number(day.slice(8, 10))]
  const value = new Date(0)
  // setUTCFullYear, unlike Date.UTC, does not read years 0–99 as 1900–1999.
  value.setUTCFullYear(year, month - 1, date)
  if (value.getUTCFullYear() !== year || value.getUTCMonth() !== month - 1 || value.getUTCDate() !== date)
    return undefined
  return value.getTime() / MS_PER_DAY
}

function epochDay(day: Day): number {
  const epoch = epochDayOf(day)
  if (epoch === undefined) throw new RangeError(`not a day as ${DAY_FORMAT}: ${JSON.stringify(day)}`)
  return epoch
}

function dayOf(epoch: number): Day {
  const day = new Date(epoch * MS_PER_DAY).toISOString().slice(0, 10)
  if (!DAY_PATTERN.test(day)) throw new RangeError(`day ${epoch} since 1970-01-01 has no ${DAY_FORMAT}`)
  return day
}

/** True for a real calendar date written YYYY-MM-DD (callers in plain JavaScript may pass anything). */
export function isDay(value: unknown): value is Day {
  return epochDayOf(value) !== undefined
}

/** @example addDays('2026-02-28', 1) // '2026-03-01' */
export function addDays(day: Day, days: number): Day {
  return dayOf(epochDay(day) + days)
}

/** Days from `from` to `to` (negative when `to` is earlier). */
export function daysBetween(from: Day, to: Day): number {
  return epochDay(to) - epochDay(from)
}

/** Every day from `first` to `last`, both included; none when `last` is earlier. */
export function eachDay(first: Day, last: Day): Day[] {
  const days: Day[] = []
  for (let epoch = epochDay(first), end = epochDay(last); epoch <= end; epoch++) days.push(dayOf(epoch))
  return days
}

/** The day it is at `now` in `zone`. @example todayIn('Asia/Yekaterinburg', new Date('2026-11-28T20:00:00Z')) // '2026-11-29' */
export function todayIn(zone: string, now: Date): Day {
  return DateTime.fromJSDate(now, { zone }).toISODate() as Day
}

/** True for a zone of the IANA database (Europe/Moscow), which days of an account are local to. */
export function isTimeZone(value: unknown): value is string {
  return typeof value === 'string' && value !== '' && IANAZone.isValidZone(value)
}

/**
 * Why `text` is not a day (and, with `notAfter`, not a day up to today in its
 * zone), or undefined when it is one.
 *
 * @example
 * dayProblem('yesterday') // 'must be a date as YYYY-MM-DD, got "yesterday"'
 * dayProblem('2026-02-30') // '2026-02-30 is not a real date'
 * dayProblem('2026-11-30', { zone: 'Europe/Moscow', now }) // '2026-11-30 is in the future (today is 2026-11-29 in Europe/Moscow)'
 */
export function dayProblem(text: string, notAfter?: { readonly zone: string; readonly now: Date }): string | undefined {
  if (!DAY_PATTERN.test(text)) return `must be a date as ${DAY_FORMAT}, got ${JSON.stringify(text)}`
  const shown: string = text
  if (!isDay(text)) return `${shown} is not a real date`
  if (notAfter === undefined) return undefined
  const today = todayIn(notAfter.zone, notAfter.now)
  return text > today ? `${text} is in the future (today is ${today} in ${notAfter.zone})` : undefined
}

/** Why `zone` is not an IANA time zone, or undefined when it is one. */
export function timeZoneProblem(zone: string): string | undefined {
  return isTimeZone(zone) ? undefined : `${JSON.stringify(zone)} is not an IANA time zone (${ZONE_EXAMPLES})`
}

/** Why the day `from` comes after the day `to`, or undefined when it does not. */
export function dayOrderProblem(
  from: { readonly name: string; readonly day: Day },
  to: { readonly name: string; readonly day: Day },
): string | undefined {
  return from.day > to.day
    ? `${from.name} ${from.day} is after ${to.name} ${to.day}: give the earlier day first`
    : undefined
}

/**
 * `text` as a day, or a one-line EtlError naming `what` (an option, a variable, a
 * field) and the fix. `code` decides the exit code; all of them exit 2 today.
 *
 * @example parseDay(options.from, '--from', 'USAGE')
 */
export function parseDay(
  text: string,
  what: string,
  code: ErrorCode = 'INPUT',
  notAfter?: { readonly zone: string; readonly now: Date },
): Day {
  const problem = dayProblem(text, notAfter)
  if (problem !== undefined) throw new EtlError(code, `${what} ${problem}`)
  return text
}

/** `zone` when it is an IANA time zone, or a one-line EtlError naming `what`. @example parseTimeZone(options.timezone, '--timezone', 'USAGE') */
export function parseTimeZone(zone: string, what: string, code: ErrorCode = 'CONFIG'): string {
  const problem = timeZoneProblem(zone)
  if (problem !== undefined) throw new EtlError(code, `${what} ${problem}`)
  return zone
}
