/**
 * Parameters of the deals export and the vendor's rules about them.
 * Source: deals-export-api.ru.txt (the vendor page) and API.md.
 */
import { MAX_PAGE_LIMIT } from './simulator-options.ts'
import { MS_PER_DAY, MS_PER_SECOND, parseCalltouchDate, parseTimeOfDay } from './wall-clock.ts'

/**
 * `errorCode` values of 400 answers. The vendor does not publish its codes; these
 * are the simulator's own, stable so tests can assert them.
 */
export const EXPORT_ERROR_CODES = {
  missingDates: 1000,
  badDate: 1001,
  dateOrder: 1002,
  limitTooLarge: 1003,
  paginationRequired: 1004,
  badPaging: 1005,
  badTime: 1006,
  badOrderSource: 1007,
} as const

export interface ExportError {
  errorCode: number
  errorMessage: string
}

/** A parsed, valid export request. */
export interface ExportQuery {
  /** Present when `page` was given: the answer then has the page envelope. */
  paging: { page: number; limit: number } | undefined
  /** Wall-time bounds on orderDate: [fromWallMs, toWallMs). Undefined for lookups by order number or phone. */
  range: { fromDay: number; toDay: number; fromWallMs: number; toWallMs: number } | undefined
  orderNumber: string | undefined
  phone: string | undefined
  orderSource: 'CALL' | 'REQUEST' | undefined
  manager: string | undefined
  service: string | undefined
  bindTo: string | undefined
  withTags: boolean
  allOrigins: boolean
}

/** How the parts nobody documents behave (simulator switches). */
export interface ExportRules {
  dateToInclusive: boolean
  acceptEqualDates: boolean
}

const fail = (errorCode: number, errorMessage: string): { error: ExportError } => ({
  error: { errorCode, errorMessage },
})

function positiveInteger(text: string): number | undefined {
  return /^\d{1,9}$/.test(text) && Number(text) >= 1 ? Number(text) : undefined
}

/** Validates the query string of an export request. */
export function parseExportQuery(
  params: URLSearchParams,
  rules: ExportRules,
): { query: ExportQuery } | { error: ExportError } {
  const get = (name: string): string | undefined => params.get(name) ?? undefined
  const orderSourceText = get('orderSource')
  if (orderSourceText !== undefined && orderSourceText !== 'CALL' && orderSourceText !== 'REQUEST') {
    return fail(EXPORT_ERROR_CODES.badOrderSource, `Некорректное значение orderSource: ожидается CALL или REQUEST`)
  }
  let paging: ExportQuery['paging']
  const pageText = get('page')
  if (pageText !== undefined) {
    const page = positiveInteger(pageText)
    const limitText = get('limit')
    const limit = limitText === undefined ? MAX_PAGE_LIMIT : positiveInteger(limitText)
    if (page === undefined || limit === undefined)
      return fail(EXPORT_ERROR_CODES.badPaging, 'Параметры page и limit должны быть целыми числами больше 0')
    if (limit > MAX_PAGE_LIMIT)
      return fail(EXPORT_ERROR_CODES.limitTooLarge, `Параметр limit не может быть больше ${MAX_PAGE_LIMIT}`)
    paging = { page, limit }
  }
  const orderNumber = get('orderNumber')
  const phone = get('phoneNumber.value')
  let range: ExportQuery['range']
  if (orderNumber === undefined && phone === undefined) {
    const fromText = get('dateFrom')
    const toText = get('dateTo')
    if (fromText === undefined || toText === undefined)
      return fail(EXPORT_ERROR_CODES.missingDates, 'Параметры dateFrom и dateTo обязательны')
    const fromDay = parseCalltouchDate(fromText)
    const toDay = parseCalltouchDate(toText)
    if (fromDay === undefined || toDay === undefined)
      return fail(EXPORT_ERROR_CODES.badDate, 'Неверный формат даты: ожидается dd/mm/yyyy')
    const timeFromText = get('timeFrom')
    const timeToText = get('timeTo')
    const timeFrom = timeFromText === undefined ? 0 : parseTimeOfDay(timeFromText)
    const timeTo = timeToText === undefined ? undefined : parseTimeOfDay(timeToText)
    if (timeFrom === undefined || (timeToText !== undefined && timeTo === undefined)) {
      return fail(EXPORT_ERROR_CODES.badTime, 'Неверный формат времени: ожидается hh:mm:ss')
    }
    if (fromDay > toDay || (fromDay === toDay && !rules.acceptEqualDates)) {
      return fail(EXPORT_ERROR_CODES.dateOrder, 'Параметр dateFrom должен быть меньше dateTo')
    }
    if (toDay - fromDay > 1 && paging === undefined) {
      return fail(EXPORT_ERROR_CODES.paginationRequired, 'Для диапазона более 1 дня укажите параметры page и limit')
    }
    const fromWallMs = fromDay * MS_PER_DAY + timeFrom * MS_PER_SECOND
    const inclusiveExtraMs = rules.dateToInclusive ? (timeTo === undefined ? MS_PER_DAY : MS_PER_SECOND) : 0
    const toWallMs = toDay * MS_PER_DAY + (timeTo ?? 0) * MS_PER_SECOND + inclusiveExtraMs
    range = { fromDay, toDay: Math.floor((toWallMs - 1) / MS_PER_DAY), fromWallMs, toWallMs }
  }
  return {
    query: {
      paging,
      range,
      orderNumber,
      phone,
      orderSource: orderSourceText,
      manager: get('manager'),
      service: get('service'),
      bindTo: get('bindTo'),
      withTags: get('withOrdersTags') === 'true',
      allOrigins: get('withAllOrderOrigins') === 'true',
    },
  }
}
