/**
 * Bodies of `POST /lead-service/v1/api/client-order/{create,update,delete}`, turned
 * into changes of a {@link SimulatedSite}. The body is validated whole before
 * anything is applied: a request either applies every order or none.
 */
import { hashString } from './prng.ts'
import type { CallOrderSource, DealRecord, RequestOrderSource } from './deal-record.ts'
import type { DealChange, SimulatedSite } from './simulated-site.ts'
import { formatCalltouchDate, MS_PER_DAY, parseCalltouchDate, parseCalltouchDateTime } from './wall-clock.ts'

export type WriteKind = 'create' | 'update' | 'delete'

/** `errorCode` values of 400 answers to writes (the simulator's own). */
export const WRITE_ERROR_CODES = { badBody: 2000, badOrder: 2001, notFound: 2002, badCustomField: 2003 } as const

export interface WriteError {
  errorCode: number
  errorMessage: string
}

/** A JSON number literal. */
const JSON_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/

/**
 * JSON.parse that keeps number literals a JS number would change: outside
 * strings, every integer of 16 or more digits, and every literal beyond a
 * double's range (1e400000), is turned into a string first.
 */
export function parseLosslessJson(text: string): unknown {
  let out = ''
  let i = 0
  let copiedTo = 0
  while (i < text.length) {
    const ch = text.charCodeAt(i)
    if (ch === 34 /* " */) {
      i++
      while (i < text.length && text.charCodeAt(i) !== 34) i += text.charCodeAt(i) === 92 /* \ */ ? 2 : 1
      i++
    } else if (ch === 45 /* - */ || (ch >= 48 && ch <= 57)) {
      const start = i
      i++
      while (i < text.length && /[0-9.eE+-]/.test(text[i] as string)) i++
      const literal = text.slice(start, i)
      if (/^-?\d{16,}$/.test(literal) || !Number.isFinite(Number(literal))) {
        out += text.slice(copiedTo, start) + '"' + literal + '"'
        copiedTo = i
      }
    } else {
      i++
    }
  }
  return JSON.parse(out + text.slice(copiedTo))
}

type Json = Record<string, unknown>
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value)

/** A written value as text: scalars as themselves, objects as JSON (as the API would echo them), absent as ''. */
function textOf(value: unknown): string {
  if (value === undefined || value === null) return ''
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value)
  return JSON.stringify(value)
}

function tagList(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined
  if (!Array.isArray(value)) return undefined
  return value
    .map((item) => (isObject(item) ? textOf(item['tag'] ?? item['name']) : String(item)))
    .filter((tag) => tag !== '')
}

function customChanges(value: unknown): DealChange[] | WriteError {
  if (value === undefined || value === null) return []
  const pairs: [string, unknown][] = Array.isArray(value)
    ? value.map((item): [string, unknown] => (isObject(item) ? [textOf(item['name']), item['value']] : ['', undefined]))
    : isObject(value)
      ? Object.entries(value)
      : [['', undefined]]
  const changes: DealChange[] = []
  for (const [name, raw] of pairs) {
    if (name === '')
      return { errorCode: WRITE_ERROR_CODES.badCustomField, errorMessage: 'customFields: у поля нет имени' }
    if (raw === null || raw === '') {
      changes.push({ kind: 'custom', name, value: null })
      continue
    }
    // Any number is accepted and served (long and out-of-range literals as written), so tests can
    // send the loader what it must reject (1.5, 39 digits, 1e400000); text is refused.
    const text = typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw : ''
    if (!JSON_NUMBER.test(text)) {
      return {
        errorCode: WRITE_ERROR_CODES.badCustomField,
        errorMessage: `customFields: значение поля ${name} должно быть числом (текст передавайте тегами)`,
      }
    }
    changes.push({ kind: 'custom', name, value: text.replace(/^(-?)0+(?=\d)/, '$1') })
  }
  return changes
}

function sourceFromMatching(matching: unknown): CallOrderSource | RequestOrderSource | null {
  if (!Array.isArray(matching)) return null
  for (const item of matching) {
    if (!isObject(item)) continue
    const type = textOf(item['type']).toLowerCase()
    const params = [item['callParams'], item['requestParams'], item['value'], item].find(isObject) as Json
    if (type === 'call') {
      const callId = Number(params['callId'])
      return {
        callId: Number.isFinite(callId) ? callId : null,
        duration: null,
        phoneNumber: null,
        type: 'CALL',
        ani: null,
        dateCall: null,
      }
    }
    if (type === 'request') {
      const requestNumber = params['requestNumber'] ?? params['requestId']
      return { requestNumber: requestNumber === undefined ? null : textOf(requestNumber), type: 'REQUEST' }
    }
  }
  return null
}

function amount(value: unknown): number | null | undefined | 'bad' {
  if (value === undefined) return undefined
  if (value === null) return null
  const n = typeof value === 'string' ? Number(value) : value
  return typeof n === 'number' && Number.isFinite(n) ? n : 'bad'
}

/** Turns one order of an update (or the fields of a create) into changes. */
function orderChanges(order: Json, clockDay: number): DealChange[] | WriteError {
  const changes: DealChange[] = []
  const bad = (field: string): WriteError => ({
    errorCode: WRITE_ERROR_CODES.badOrder,
    errorMessage: `Некорректное поле ${field} в сделке ${String(order['orderNumber'])}`,
  })
  if (order['orderDate'] !== undefined) {
    if (typeof order['orderDate'] !== 'string' || parseCalltouchDateTime(order['orderDate']) === undefined)
      return bad('orderDate (dd/mm/yyyy hh:mm:ss)')
    changes.push({ kind: 'orderDate', value: order['orderDate'] })
  }
  const status = order['status'] ?? order['orderStatus']
  if (status !== undefined) {
    if (typeof status !== 'string') return bad('status')
    changes.push({ kind: 'set', field: 'orderStatus', value: status })
  }
  const revenue = amount(order['revenue'] ?? order['completedAmount'])
  if (revenue === 'bad') return bad('revenue')
  if (revenue !== undefined) changes.push({ kind: 'set', field: 'completedAmount', value: revenue })
  const planned = amount(order['plannedRevenue'] ?? order['plannedAmount'])
  if (planned === 'bad') return bad('plannedRevenue')
  if (planned !== undefined) changes.push({ kind: 'set', field: 'plannedAmount', value: planned })
  const completedDate = order['completedDate']
  if (completedDate !== undefined) {
    if (
      completedDate !== null &&
      (typeof completedDate !== 'string' || parseCalltouchDate(completedDate) === undefined)
    )
      return bad('completedDate (dd/mm/yyyy)')
    changes.push({ kind: 'set', field: 'completedDate', value: completedDate })
  } else if (status === 'final' || status === 'lost') {
    changes.push({ kind: 'set', field: 'completedDate', value: formatCalltouchDate(clockDay) })
  }
  for (const field of ['manager', 'service'] as const) {
    const value = order[field]
    if (value === undefined) continue
    if (value !== null && typeof value !== 'string') return bad(field)
    changes.push({ kind: 'set', field, value })
  }
  if (order['isDeleted'] !== undefined) {
    if (typeof order['isDeleted'] !== 'boolean') return bad('isDeleted')
    changes.push({ kind: 'set', field: 'isDeleted', value: order['isDeleted'] })
  }
  if (isObject(order['client'])) {
    const client = order['client']
    changes.push({
      kind: 'client',
      value: {
        phones: client['phones'] == null ? null : textOf(client['phones']),
        fio: client['fio'] == null ? null : textOf(client['fio']),
      },
    })
  }
  const addTags = tagList(order['addTags'] ?? order['tags'])
  if (addTags !== undefined && addTags.length > 0) changes.push({ kind: 'addTags', value: addTags })
  const removeTags = tagList(order['removeTags'])
  if (removeTags !== undefined && removeTags.length > 0) changes.push({ kind: 'removeTags', value: removeTags })
  const custom = customChanges(order['customFields'])
  if (!Array.isArray(custom)) return custom
  changes.push(...custom)
  return changes
}

/** What a write did, per order, for the answer. */
export interface WriteResult {
  orderNumber: string
  result: 'CREATED' | 'UPDATED' | 'DELETED'
}

/**
 * Validates a write body and applies it to the site, all or nothing.
 *
 * @param clockWallMs the simulator clock as site-local wall time (createdDate of new deals)
 */
export function applyWrite(
  kind: WriteKind,
  bodyText: string,
  site: SimulatedSite,
  clockWallMs: number,
): { results: WriteResult[] } | { error: WriteError } {
  let body: unknown
  try {
    body = parseLosslessJson(bodyText)
  } catch {
    return { error: { errorCode: WRITE_ERROR_CODES.badBody, errorMessage: 'Тело запроса не является корректным JSON' } }
  }
  if (!isObject(body) || !Array.isArray(body['orders']) || body['orders'].length === 0) {
    return {
      error: { errorCode: WRITE_ERROR_CODES.badBody, errorMessage: 'Ожидается объект с непустым массивом orders' },
    }
  }
  const crm = typeof body['crm'] === 'string' ? body['crm'] : null
  const clockDay = Math.floor(clockWallMs / MS_PER_DAY)
  const planned: (() => WriteResult)[] = []
  for (const order of body['orders'] as unknown[]) {
    if (
      !isObject(order) ||
      (typeof order['orderNumber'] !== 'string' && typeof order['orderNumber'] !== 'number') ||
      String(order['orderNumber']) === ''
    ) {
      return {
        error: { errorCode: WRITE_ERROR_CODES.badOrder, errorMessage: 'У каждой сделки должен быть orderNumber' },
      }
    }
    const orderNumber = String(order['orderNumber'])
    if (kind !== 'create' && !site.exists(orderNumber, clockWallMs)) {
      return { error: { errorCode: WRITE_ERROR_CODES.notFound, errorMessage: `Сделка ${orderNumber} не найдена` } }
    }
    if (kind === 'delete') {
      planned.push(() => (site.remove(orderNumber, clockWallMs), { orderNumber, result: 'DELETED' }))
      continue
    }
    const changes = orderChanges(order, clockDay)
    if (!Array.isArray(changes)) return { error: changes }
    if (kind === 'update') {
      planned.push(() => (site.update(orderNumber, changes, clockWallMs), { orderNumber, result: 'UPDATED' }))
      continue
    }
    if (typeof order['orderDate'] !== 'string') {
      return {
        error: {
          errorCode: WRITE_ERROR_CODES.badOrder,
          errorMessage: `У сделки ${orderNumber} нет orderDate (dd/mm/yyyy hh:mm:ss)`,
        },
      }
    }
    const record: DealRecord = {
      client: { phones: null, fio: null },
      completedAmount: null,
      completedDate: null,
      createdDate: formatCalltouchDate(clockDay),
      funnel: null,
      isDeleted: false,
      manager: null,
      orderDate: order['orderDate'],
      orderId: hashString(orderNumber),
      orderNumber,
      orderOrigin: 'API',
      orderSource: sourceFromMatching(order['matching']),
      orderStatus: 'start',
      plannedAmount: null,
      service: crm,
      tags: null,
      visit: null,
    }
    planned.push(() => {
      site.create(record)
      site.update(orderNumber, changes, Number.POSITIVE_INFINITY)
      return { orderNumber, result: 'CREATED' }
    })
  }
  return { results: planned.map((apply) => apply()) }
}
