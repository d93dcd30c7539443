import { DateTime } from 'luxon'

/**
 * Days are 'YYYY-MM-DD' strings (site-local calendar days, as the warehouse's
 * `date` columns return them); arithmetic on them is done in UTC so that no
 * daylight-saving shift can skip or repeat a day.
 */
export type Day = string

const DAY_PATTERN = /^\d{4}-\d{2}-\d{2}$/

function toDateTime(day: Day): DateTime {
  const value = DateTime.fromISO(day, { zone: 'utc' })
  if (!DAY_PATTERN.test(day) || !value.isValid) throw new RangeError(`not a day as YYYY-MM-DD: ${JSON.stringify(day)}`)
  return value
}

/** True for a real calendar date written YYYY-MM-DD. */
export function isDay(text: string): boolean {
  return DAY_PATTERN.test(text) && DateTime.fromISO(text, { zone: 'utc' }).isValid
}

export function addDays(day: Day, days: number): Day {
  return toDateTime(day).plus({ days }).toISODate() as Day
}

/** Days from `from` to `to` (negative when `to` is earlier). */
export function daysBetween(from: Day, to: Day): number {
  return Math.round(toDateTime(to).diff(toDateTime(from), 'days').days)
}

/** Every day from `first` to `last`, both included. */
export function eachDay(first: Day, last: Day): Day[] {
  const days: Day[] = []
  for (let day = first; day <= last; day = addDays(day, 1)) days.push(day)
  return days
}

/**
 * A day as the deals export wants it: dd/mm/yyyy (vendor page). Calltouch's
 * requests export uses mm/dd/yyyy; this formatter is for the deals export only.
 */
export function formatDealsExportDate(day: Day): string {
  return toDateTime(day).toFormat('dd/MM/yyyy')
}
