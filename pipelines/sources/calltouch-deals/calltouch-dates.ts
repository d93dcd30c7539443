import { DAY_FORMAT, isDay, type Day } from '../../core/day.ts'

/**
 * A day as the deals export wants it: dd/mm/yyyy (vendor page). Calltouch's
 * requests export uses mm/dd/yyyy; this formatter is for the deals export only.
 * Days themselves, and their arithmetic, are core's (`core/day.ts`).
 *
 * @example formatDealsExportDate('2026-03-01') // '01/03/2026'
 */
export function formatDealsExportDate(day: Day): string {
  if (!isDay(day)) throw new RangeError(`not a day as ${DAY_FORMAT}: ${JSON.stringify(day)}`)
  return `${day.slice(8, 10)}/${day.slice(5, 7)}/${day.slice(0, 4)}`
}
