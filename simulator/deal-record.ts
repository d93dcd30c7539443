/**
 * The shape of one deal in the export, and its exact JSON text.
 *
 * The JSON is written by hand, not by JSON.stringify of the object, for two
 * reasons: custom field values are integers of up to 38 digits that must reach
 * the wire as number literals no JS number can hold (they are kept as strings
 * here), and a fixed key order makes pages byte-identical across runs.
 */

/** `orderSource` of a deal made from a call. */
export interface CallOrderSource {
  callId: number | null
  duration: number | null
  phoneNumber: string | null
  type: 'CALL'
  ani: string | null
  dateCall: string | null
}

/** `orderSource` of a deal made from a request (web form, chat …). */
export interface RequestOrderSource {
  requestNumber: string | null
  type: 'REQUEST'
}

/** `visit`: where the call or request came from. */
export interface DealVisit {
  utmSource: string | null
  additionalTags: string[]
  utmTerm: string | null
  utmContent: string | null
  visitDate: string | null
  utmMedium: string | null
  source: string | null
  medium: string | null
  keyword: string | null
  utmCampaign: string | null
}

/**
 * One deal as the export serves it. Keys are listed in the order they are written.
 * `custom` values are integer literals kept as text (e.g. '-99999999999999999999999999999999999999');
 * on the wire they are JSON numbers.
 */
export interface DealRecord {
  client: { phones: string | null; fio: string | null }
  completedAmount: number | null
  completedDate: string | null
  createdDate: string
  /** Obsolete (the vendor says to ignore fields it does not describe). */
  funnel: string | null
  isDeleted: boolean
  manager: string | null
  orderDate: string
  /** Obsolete numeric id. */
  orderId: number
  orderNumber: string
  orderOrigin: string
  orderSource: CallOrderSource | RequestOrderSource | null
  orderStatus: string
  plannedAmount: number | null
  service: string | null
  /** Served only with `withOrdersTags=true`; null when the deal has no tags. */
  tags: string[] | null
  visit: DealVisit | null
  /** Absent when the deal has no custom values. */
  custom?: Record<string, string>
}

/** Characters JSON.stringify may write otherwise than as themselves; surrogates, because a lone one becomes an escape (`\ud800`), as written to the API, not U+FFFD. */
// eslint-disable-next-line no-control-regex -- control characters are exactly what JSON escapes
const NEEDS_ESCAPE = /["\\\u0000-\u001f\u2028\u2029\ud800-\udfff]/

/** A JSON string literal; skips JSON.stringify (4× slower) for the usual strings that need no escaping. */
export function str(value: string | null): string {
  if (value === null) return 'null'
  return NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : '"' + value + '"'
}

function num(value: number | null): string {
  return value === null ? 'null' : String(value)
}

function stringArrayJson(values: readonly string[]): string {
  let out = '['
  for (let i = 0; i < values.length; i++) out += (i === 0 ? '' : ',') + str(values[i] as string)
  return out + ']'
}

function orderSourceJson(source: DealRecord['orderSource']): string {
  if (source === null) return 'null'
  if (source.type === 'CALL') {
    return `{"callId":${num(source.callId)},"duration":${num(source.duration)},"phoneNumber":${str(source.phoneNumber)},"type":"CALL","ani":${str(source.ani)},"dateCall":${str(source.dateCall)}}`
  }
  return `{"requestNumber":${str(source.requestNumber)},"type":"REQUEST"}`
}

function visitJson(visit: DealVisit | null): string {
  if (visit === null) return 'null'
  return `{"utmSource":${str(visit.utmSource)},"additionalTags":${stringArrayJson(visit.additionalTags)},"utmTerm":${str(visit.utmTerm)},"utmContent":${str(visit.utmContent)},"visitDate":${str(visit.visitDate)},"utmMedium":${str(visit.utmMedium)},"source":${str(visit.source)},"medium":${str(visit.medium)},"keyword":${str(visit.keyword)},"utmCampaign":${str(visit.utmCampaign)}}`
}

function customJson(custom: Record<string, string>): string {
  let out = '{'
  let first = true
  for (const [name, value] of Object.entries(custom)) {
    out += (first ? '' : ',') + str(name) + ':' + value
    first = false
  }
  return out + '}'
}

/**
 * The exact JSON text of one record as the export writes it.
 *
 * @param withTags whether the request had `withOrdersTags=true` (otherwise `tags` is left out)
 */
export function serializeDealRecord(record: DealRecord, withTags: boolean): string {
  let out =
    `{"client":{"phones":${str(record.client.phones)},"fio":${str(record.client.fio)}}` +
    `,"completedAmount":${num(record.completedAmount)},"completedDate":${str(record.completedDate)}` +
    `,"createdDate":${str(record.createdDate)},"funnel":${str(record.funnel)},"isDeleted":${record.isDeleted}` +
    `,"manager":${str(record.manager)},"orderDate":${str(record.orderDate)},"orderId":${record.orderId}` +
    `,"orderNumber":${str(record.orderNumber)},"orderOrigin":${str(record.orderOrigin)}` +
    `,"orderSource":${orderSourceJson(record.orderSource)},"orderStatus":${str(record.orderStatus)}` +
    `,"plannedAmount":${num(record.plannedAmount)},"service":${str(record.service)}`
  if (withTags) out += `,"tags":${record.tags === null ? 'null' : stringArrayJson(record.tags)}`
  out += `,"visit":${visitJson(record.visit)}`
  if (record.custom !== undefined) out += `,"custom":${customJson(record.custom)}`
  return out + '}'
}

/** Deal statuses the generator uses (a CRM may write any other text). */
export const DEAL_STATUSES = ['start', 'in_progress', 'final', 'lost'] as const
