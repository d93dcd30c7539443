/**
 * What the two lead journals' query strings share: dates (day-first for calls,
 * month-first for requests — LEADS-API.md §3), times, inclusive ranges, and the
 * simulator's error codes.
 */
import { MS_PER_DAY, MS_PER_SECOND, parseCalltouchDate, parseTimeOfDay } from './wall-clock.ts'

/**
 * `errorCode` values of the journals' 400 answers. Calltouch publishes none;
 * these are the simulator's own, stable so tests can assert them.
 */
export const LEADS_ERROR_CODES = {
  missingDates: 1100,
  badDate: 1101,
  dateOrder: 1102,
  limitTooLarge: 1103,
  paginationRequired: 1104,
  badPaging: 1105,
  badTime: 1106,
  missingSiteId: 1107,
} as const

export interface LeadsError {
  errorCode: number
  errorMessage: string
}

/** A date range in site-local wall time: [fromWallMs, toWallMs), and the days it touches. */
export interface WallRange {
  fromDay: number
  toDay: number
  fromWallMs: number
  toWallMs: number
}

export const fail = (errorCode: number, errorMessage: string): { error: LeadsError } => ({
  error: { errorCode, errorMessage },
})

/** Day number of a strict 'mm/dd/yyyy' (the requests journal's query dates), or undefined. */
export function parseMonthFirstDate(text: string): number | undefined {
  const match = /^(\d{2})\/(\d{2})\/(\d{4})$/.exec(text)
  if (!match) return undefined
  return parseCalltouchDate(`${match[2]}/${match[1]}/${match[3]}`)
}

/**
 * Reads `dateFrom`, `dateTo`, `timeFrom`, `timeTo` with one named date format.
 * Both dates are inclusive; `timeFrom` applies to `dateFrom` and `timeTo` to `dateTo` (inclusive to the second).
 */
export function parseRange(
  params: URLSearchParams,
  parseDate: (text: string) => number | undefined,
  formatName: string,
): { range: WallRange } | { error: LeadsError } {
  const fromText = params.get('dateFrom')
  const toText = params.get('dateTo')
  if (fromText === null || toText === null)
    return fail(LEADS_ERROR_CODES.missingDates, 'Параметры dateFrom и dateTo обязательны')
  const fromDay = parseDate(fromText)
  const toDay = parseDate(toText)
  if (fromDay === undefined || toDay === undefined)
    return fail(LEADS_ERROR_CODES.badDate, `Неверный формат даты: ожидается ${formatName}`)
  if (fromDay > toDay) return fail(LEADS_ERROR_CODES.dateOrder, 'Параметр dateFrom не может быть позже dateTo')
  const timeFromText = params.get('timeFrom')
  const timeToText = params.get('timeTo')
  const timeFrom = timeFromText === null ? 0 : parseTimeOfDay(timeFromText)
  const timeTo = timeToText === null ? undefined : parseTimeOfDay(timeToText)
  if (timeFrom === undefined || (timeToText !== null && timeTo === undefined))
    return fail(LEADS_ERROR_CODES.badTime, 'Неверный формат времени: ожидается hh:mm:ss')
  const fromWallMs = fromDay * MS_PER_DAY + timeFrom * MS_PER_SECOND
  const toWallMs = timeTo === undefined ? (toDay + 1) * MS_PER_DAY : toDay * MS_PER_DAY + (timeTo + 1) * MS_PER_SECOND
  return { range: { fromDay, toDay, fromWallMs, toWallMs } }
}

/** A query boolean: Calltouch's clients send the literal `true`. */
export function flag(params: URLSearchParams, name: string): boolean {
  return params.get(name) === 'true'
}
