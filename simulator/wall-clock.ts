/**
 * Site-local calendar arithmetic.
 *
 * Calltouch writes every date as the site's local wall time ('dd/mm/yyyy hh:mm:ss',
 * no zone). The simulator therefore keeps deal times as "wall milliseconds": the
 * local date and time read as if it were UTC. The clock (a real instant) is turned
 * into wall time once per request with the site's zone, and everything else is
 * plain integer arithmetic — no time-zone library on the hot path.
 */
import { DateTime } from 'luxon'

export const MS_PER_SECOND = 1000
export const MS_PER_DAY = 86_400_000

/** A local calendar day as 'YYYY-MM-DD'. */
export type DayKey = string

const TWO_DIGITS: readonly string[] = Array.from({ length: 100 }, (_, n) => (n < 10 ? '0' + n : String(n)))
function pad2(n: number): string {
  return TWO_DIGITS[n] ?? String(n)
}

/** Days since 1970-01-01 of a 'YYYY-MM-DD' key, or undefined when it is not a real date. */
export function dayNumberOf(day: DayKey): number | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day)
  if (!match) return undefined
  return dayNumberFromParts(Number(match[1]), Number(match[2]), Number(match[3]))
}

function dayNumberFromParts(year: number, month: number, dayOfMonth: number): number | undefined {
  const ms = Date.UTC(year, month - 1, dayOfMonth)
  const check = new Date(ms)
  if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== dayOfMonth) {
    return undefined
  }
  return ms / MS_PER_DAY
}

/** 'YYYY-MM-DD' of a day number. */
export function dayKeyOf(dayNumber: number): DayKey {
  const d = new Date(dayNumber * MS_PER_DAY)
  return `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}`
}

/** Day of week of a day number, 1 = Monday … 7 = Sunday. */
export function isoWeekday(dayNumber: number): number {
  // 1970-01-01 was a Thursday.
  return ((((dayNumber + 3) % 7) + 7) % 7) + 1
}

const ddmmyyyyCache = new Map<number, string>()

/** 'dd/mm/yyyy' of a day number (the format of the export's dates). */
export function formatCalltouchDate(dayNumber: number): string {
  let text = ddmmyyyyCache.get(dayNumber)
  if (text === undefined) {
    const d = new Date(dayNumber * MS_PER_DAY)
    text = `${pad2(d.getUTCDate())}/${pad2(d.getUTCMonth() + 1)}/${d.getUTCFullYear()}`
    if (ddmmyyyyCache.size > 20_000) ddmmyyyyCache.clear()
    ddmmyyyyCache.set(dayNumber, text)
  }
  return text
}

/** 'dd/mm/yyyy hh:mm:ss' of a wall time in milliseconds. */
export function formatCalltouchDateTime(wallMs: number): string {
  const dayNumber = Math.floor(wallMs / MS_PER_DAY)
  const secondOfDay = Math.floor((wallMs - dayNumber * MS_PER_DAY) / MS_PER_SECOND)
  return (
    formatCalltouchDate(dayNumber) +
    ' ' +
    pad2(Math.floor(secondOfDay / 3600)) +
    ':' +
    pad2(Math.floor((secondOfDay % 3600) / 60)) +
    ':' +
    pad2(secondOfDay % 60)
  )
}

/** Day number of a strict 'dd/mm/yyyy', or undefined. */
export function parseCalltouchDate(text: string): number | undefined {
  const match = /^(\d{2})\/(\d{2})\/(\d{4})$/.exec(text)
  if (!match) return undefined
  return dayNumberFromParts(Number(match[3]), Number(match[2]), Number(match[1]))
}

/** Wall milliseconds of a strict 'dd/mm/yyyy hh:mm:ss', or undefined. */
export function parseCalltouchDateTime(text: string): number | undefined {
  const match = /^(\d{2}\/\d{2}\/\d{4}) (\d{2}:\d{2}:\d{2})$/.exec(text)
  if (!match) return undefined
  const dayNumber = parseCalltouchDate(match[1] as string)
  const second = parseTimeOfDay(match[2] as string)
  if (dayNumber === undefined || second === undefined) return undefined
  return dayNumber * MS_PER_DAY + second * MS_PER_SECOND
}

/** Seconds since midnight of a strict 'hh:mm:ss', or undefined. */
export function parseTimeOfDay(text: string): number | undefined {
  const match = /^(\d{2}):(\d{2}):(\d{2})$/.exec(text)
  if (!match) return undefined
  const h = Number(match[1])
  const m = Number(match[2])
  const s = Number(match[3])
  if (h > 23 || m > 59 || s > 59) return undefined
  return h * 3600 + m * 60 + s
}

/** Local wall milliseconds of an instant in a zone. */
export function toWallMs(epochMs: number, timeZone: string): number {
  // The clock only moves when set, and every request asks: remember the last answer (luxon's zone lookup costs ~25 µs).
  if (epochMs === lastWall.epochMs && timeZone === lastWall.timeZone) return lastWall.wallMs
  const offsetMinutes = DateTime.fromMillis(epochMs, { zone: timeZone }).offset
  const wallMs = epochMs + offsetMinutes * 60_000
  lastWall = { epochMs, timeZone, wallMs }
  return wallMs
}
let lastWall = { epochMs: NaN, timeZone: '', wallMs: NaN }

/**
 * Parses an ISO 8601 instant. A value without an offset is read in `timeZone`.
 * Throws a RangeError that names the value when it is not a valid instant.
 */
export function parseInstant(iso: string, timeZone: string): number {
  const parsed = DateTime.fromISO(iso, { zone: timeZone, setZone: true })
  if (!parsed.isValid) {
    throw new RangeError(
      `Not an ISO 8601 date-time: ${JSON.stringify(iso)} (${parsed.invalidExplanation ?? 'invalid'})`,
    )
  }
  return parsed.toMillis()
}

/** ISO 8601 of an instant, written in the given zone (e.g. '2026-11-29T12:00:00.000+03:00'). */
export function formatInstant(epochMs: number, timeZone: string): string {
  return DateTime.fromMillis(epochMs, { zone: timeZone }).toISO() ?? new Date(epochMs).toISOString()
}

/** Throws when the zone is not a valid IANA zone. */
export function assertTimeZone(timeZone: string): void {
  if (!DateTime.local().setZone(timeZone).isValid) {
    throw new RangeError(`Unknown time zone ${JSON.stringify(timeZone)}; use an IANA name such as 'Europe/Moscow'`)
  }
}
