/**
 * Days are 'YYYY-MM-DD' strings (site-local calendar days, as the warehouse's
 * `date` columns return them); arithmetic on them is done in UTC so that no
 * daylight-saving shift can skip or repeat a day. Plain `Date` arithmetic, not
 * luxon: the window planner does day arithmetic in its inner loops, where
 * luxon's objects cost ~40 µs a call.
 */
export type Day = string

const DAY_PATTERN = /^\d{4}-\d{2}-\d{2}$/
const MS_PER_DAY = 86_400_000

/** Days since 1970-01-01, or undefined when `day` is not a real date written YYYY-MM-DD. */
function epochDayOf(day: string): number | undefined {
  if (!DAY_PATTERN.test(day)) return undefined
  const [year, month, date] = [Number(day.slice(0, 4)), Number(day.slice(5, 7)), Number(day.slice(8, 10))]
  const value = new Date(0)
  // setUTCFullYear, unlike Date.UTC, does not read years 0–99 as 1900–1999.
  value.setUTCFullYear(year, month - 1, date)
  if (value.getUTCFullYear() !== year || value.getUTCMonth() !== month - 1 || value.getUTCDate() !== date) return undefined
  return value.getTime() / MS_PER_DAY
}

function epochDay(day: Day): number {
  const epoch = epochDayOf(day)
  if (epoch === undefined) throw new RangeError(`not a day as YYYY-MM-DD: ${JSON.stringify(day)}`)
  return epoch
}

function dayOf(epoch: number): Day {
  const day = new Date(epoch * MS_PER_DAY).toISOString().slice(0, 10)
  if (!DAY_PATTERN.test(day)) throw new RangeError(`day ${epoch} since 1970-01-01 has no YYYY-MM-DD`)
  return day
}

/** True for a real calendar date written YYYY-MM-DD. */
export function isDay(text: string): boolean {
  return epochDayOf(text) !== undefined
}

export function addDays(day: Day, days: number): Day {
  return dayOf(epochDay(day) + days)
}

/** Days from `from` to `to` (negative when `to` is earlier). */
export function daysBetween(from: Day, to: Day): number {
  return epochDay(to) - epochDay(from)
}

/** Every day from `first` to `last`, both included. */
export function eachDay(first: Day, last: Day): Day[] {
  const days: Day[] = []
  for (let epoch = epochDay(first), end = epochDay(last); epoch <= end; epoch++) days.push(dayOf(epoch))
  return days
}

/**
 * A day as the deals export wants it: dd/mm/yyyy (vendor page). Calltouch's
 * requests export uses mm/dd/yyyy; this formatter is for the deals export only.
 */
export function formatDealsExportDate(day: Day): string {
  epochDay(day)
  return `${day.slice(8, 10)}/${day.slice(5, 7)}/${day.slice(0, 4)}`
}
