/**
 * The export's text of generated deals, built once per day and rendered at any
 * clock by joining precomputed pieces.
 *
 * Only five things in a generated deal's JSON depend on the clock: whether it is
 * in the export at all, `completedAmount` + `completedDate`, `isDeleted`,
 * `orderStatus` and `tags`. A {@link DayTemplate} keeps everything else as ready
 * JSON text between those holes, plus the times at which the holes change, so a
 * day at a new clock costs a few string joins per deal instead of building a
 * record object and serializing it field by field. The pieces come from the same
 * helpers as `serializeDealRecord`, so the bytes are the same by construction
 * (and test/simulator checks it).
 *
 * A template is plain arrays of strings and numbers — no per-deal objects — and
 * the caller keeps only a bounded number of days of them.
 */
import { formatCalltouchDate, MS_PER_DAY } from './wall-clock.ts'
import { str } from './deal-record.ts'
import type { GeneratedDeal } from './deal-generator.ts'

const OUTCOME_OPEN = 0
const OUTCOME_FINAL = 1
const OUTCOME_LOST = 2

/** `completedAmount` and `completedDate` of a deal not closed yet. */
const OPEN_COMPLETION = 'null,"completedDate":null'
const STATUS_START = str('start')
const STATUS_IN_PROGRESS = str('in_progress')
const STATUS_FINAL = str('final')
const STATUS_LOST = str('lost')

/** The JSON pieces of a deal, in the order they are stored (see {@link DayTemplate.pieces}). */
const HEAD = 0 // `{"client":{…},"completedAmount":`
const CLOSED_COMPLETION = 1 // `N,"completedDate":"dd/mm/yyyy"` (or `null,…` when lost); empty for a deal that never closes
const BEFORE_DELETED = 2 // `,"createdDate":…,"funnel":…,"isDeleted":`
const BEFORE_STATUS = 3 // `,"manager":…,"orderSource":{…},"orderStatus":`
const BEFORE_TAGS = 4 // `,"plannedAmount":…,"service":…`
const TAGS_OPEN = 5 // `,"tags":…` before it closes
const TAGS_CLOSED = 6 // `,"tags":…` once closed (with the closing tag, if any)
const TAIL = 7 // `,"visit":…,"custom":…}`
const PIECES = 8

/** A day of generated deals, sorted by (orderDate, orderNumber), as UTF-8 JSON pieces and lifecycle times. */
export interface DayTemplate {
  readonly dayNumber: number
  readonly count: number
  readonly orderNumber: readonly string[]
  readonly orderWallMs: Float64Array
  readonly vanishedWallMs: Float64Array
  readonly inProgressWallMs: Float64Array
  readonly closedWallMs: Float64Array
  readonly deletedWallMs: Float64Array
  readonly outcome: Uint8Array
  /** Filter attributes (shared constant strings, no copies). */
  readonly orderOrigin: readonly string[]
  readonly sourceType: readonly ('CALL' | 'REQUEST')[]
  readonly manager: readonly (string | null)[]
  readonly service: readonly (string | null)[]
  readonly phone: readonly (string | null)[]
  /**
   * The clock-independent JSON of every deal as UTF-8, off the JS heap: piece k
   * of deal i is `pieces[starts[8i + k] .. starts[8i + k + 1])`.
   */
  readonly pieces: Buffer
  readonly starts: Int32Array
}

/** Encoded JSON literals of strings that need escaping or are not ASCII (the generator's constants), memoised. */
const literalBytes = new Map<string, Uint8Array>()

/**
 * A writer of JSON straight into a growing UTF-8 byte array, with the same
 * output as the string helpers of deal-record.ts (`str`, `num` …): no
 * intermediate strings, no per-deal garbage beyond small number texts. Module
 * state rather than an object (the hottest loop of a cold page); one day is
 * written at a time, synchronously.
 */
let out = new Uint8Array(1 << 20)
let at = 0

/** Makes room for `extra` more bytes (called once per deal with a generous bound, and for long strings). */
function reserve(extra: number): void {
  if (at + extra <= out.length) return
  const grown = new Uint8Array(Math.max(out.length * 2, at + extra))
  grown.set(out.subarray(0, at))
  out = grown
}

/** Most bytes one deal's pieces can take besides its long strings (each reserved on its own). */
const DEAL_RESERVE = 8192

/** Text known to be ASCII without characters JSON escapes (keys, punctuation, digits). */
function raw(text: string): void {
  const n = text.length
  if (n > 256) reserve(n)
  for (let i = 0; i < n; i++) out[at++] = text.charCodeAt(i)
}

function bytes(source: Uint8Array): void {
  const n = source.length
  if (n > 256) reserve(n)
  for (let i = 0; i < n; i++) out[at++] = source[i] as number
}

/** `str(value)` of deal-record.ts. */
function jsonString(value: string | null): void {
  if (value === null) return raw('null')
  const n = value.length
  if (n > 256) reserve(n + 2)
  // One pass: copy while checking; on a character JSON escapes or a non-ASCII one, start over from the memo.
  const start = at
  out[at++] = 34
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i)
    if (c < 0x20 || c >= 0x7f || c === 34 || c === 92) {
      at = start
      let encoded = literalBytes.get(value)
      if (encoded === undefined) {
        encoded = new Uint8Array(Buffer.from(str(value), 'utf8'))
        if (literalBytes.size < 10_000) literalBytes.set(value, encoded)
      }
      return bytes(encoded)
    }
    out[at++] = c
  }
  out[at++] = 34
}

/** `num(value)` of deal-record.ts. */
function jsonNumber(value: number | null): void {
  raw(value === null ? 'null' : String(value))
}

/** `stringArrayJson(values)` of deal-record.ts. */
function jsonStrings(values: readonly string[]): void {
  out[at++] = 91 // [
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out[at++] = 44 // ,
    jsonString(values[i] as string)
  }
  out[at++] = 93 // ]
}

/** Writes `orderSourceJson` of deal-record.ts. */
function writeOrderSource(source: GeneratedDeal['orderSource']): void {
  if (source.type === 'CALL') {
    raw('{"callId":')
    jsonNumber(source.callId)
    raw(',"duration":')
    jsonNumber(source.duration)
    raw(',"phoneNumber":')
    jsonString(source.phoneNumber)
    raw(',"type":"CALL","ani":')
    jsonString(source.ani)
    raw(',"dateCall":')
    jsonString(source.dateCall)
    raw('}')
  } else {
    raw('{"requestNumber":')
    jsonString(source.requestNumber)
    raw(',"type":"REQUEST"}')
  }
}

/** Writes `visitJson` of deal-record.ts. */
function writeVisit(visit: GeneratedDeal['visit']): void {
  if (visit === null) return raw('null')
  raw('{"utmSource":')
  jsonString(visit.utmSource)
  raw(',"additionalTags":')
  jsonStrings(visit.additionalTags)
  raw(',"utmTerm":')
  jsonString(visit.utmTerm)
  raw(',"utmContent":')
  jsonString(visit.utmContent)
  raw(',"visitDate":')
  jsonString(visit.visitDate)
  raw(',"utmMedium":')
  jsonString(visit.utmMedium)
  raw(',"source":')
  jsonString(visit.source)
  raw(',"medium":')
  jsonString(visit.medium)
  raw(',"keyword":')
  jsonString(visit.keyword)
  raw(',"utmCampaign":')
  jsonString(visit.utmCampaign)
  raw('}')
}

/** Writes `customJson` of deal-record.ts (values are integer literals). */
function writeCustom(custom: Record<string, string>): void {
  raw('{')
  let first = true
  for (const name in custom) {
    if (!first) raw(',')
    first = false
    jsonString(name)
    raw(':')
    raw(custom[name] as string)
  }
  raw('}')
}

/**
 * Builds the template of a day from its generated deals, in any order: `sorted`
 * lists the deals' indexes in export order (orderDate, then orderNumber).
 */
export function buildDayTemplate(dayNumber: number, deals: readonly GeneratedDeal[], sorted: readonly number[]): DayTemplate {
  const n = deals.length
  const orderNumber = new Array<string>(n)
  const orderWallMs = new Float64Array(n)
  const vanishedWallMs = new Float64Array(n)
  const inProgressWallMs = new Float64Array(n)
  const closedWallMs = new Float64Array(n)
  const deletedWallMs = new Float64Array(n)
  const outcome = new Uint8Array(n)
  const orderOrigin = new Array<string>(n)
  const sourceType = new Array<'CALL' | 'REQUEST'>(n)
  const manager = new Array<string | null>(n)
  const service = new Array<string | null>(n)
  const phone = new Array<string | null>(n)
  const starts = new Int32Array(n * PIECES + 1)
  at = 0
  const createdDate = formatCalltouchDate(dayNumber)
  for (let i = 0; i < n; i++) {
    const deal = deals[sorted[i] as number] as GeneratedDeal
    orderNumber[i] = deal.orderNumber
    orderWallMs[i] = deal.orderWallMs
    vanishedWallMs[i] = deal.vanishedWallMs
    inProgressWallMs[i] = deal.inProgressWallMs
    closedWallMs[i] = deal.closedWallMs
    deletedWallMs[i] = deal.deletedWallMs
    outcome[i] = deal.outcome === 'final' ? OUTCOME_FINAL : deal.outcome === 'lost' ? OUTCOME_LOST : OUTCOME_OPEN
    orderOrigin[i] = deal.orderOrigin
    sourceType[i] = deal.orderSource.type
    manager[i] = deal.manager
    service[i] = deal.service
    phone[i] = deal.client.phones
    const p = i * PIECES
    reserve(DEAL_RESERVE)
    starts[p + HEAD] = at
    raw('{"client":{"phones":')
    jsonString(deal.client.phones)
    raw(',"fio":')
    jsonString(deal.client.fio)
    raw('},"completedAmount":')
    starts[p + CLOSED_COMPLETION] = at
    if (deal.outcome !== 'open') {
      raw(deal.outcome === 'final' ? String(deal.completedAmount) : 'null')
      raw(',"completedDate":')
      jsonString(formatCalltouchDate(Math.floor(deal.closedWallMs / MS_PER_DAY)))
    }
    starts[p + BEFORE_DELETED] = at
    raw(',"createdDate":')
    jsonString(createdDate)
    raw(',"funnel":')
    jsonString(deal.funnel)
    raw(',"isDeleted":')
    starts[p + BEFORE_STATUS] = at
    raw(',"manager":')
    jsonString(deal.manager)
    raw(',"orderDate":')
    jsonString(deal.orderDate)
    raw(',"orderId":')
    raw(String(deal.orderId))
    raw(',"orderNumber":')
    jsonString(deal.orderNumber)
    raw(',"orderOrigin":')
    jsonString(deal.orderOrigin)
    raw(',"orderSource":')
    writeOrderSource(deal.orderSource)
    raw(',"orderStatus":')
    starts[p + BEFORE_TAGS] = at
    raw(',"plannedAmount":')
    jsonNumber(deal.plannedAmount)
    raw(',"service":')
    jsonString(deal.service)
    starts[p + TAGS_OPEN] = at
    raw(',"tags":')
    if (deal.tags.length === 0) raw('null')
    else jsonStrings(deal.tags)
    starts[p + TAGS_CLOSED] = at
    raw(',"tags":')
    if (deal.closingTags.length === 0) {
      if (deal.tags.length === 0) raw('null')
      else jsonStrings(deal.tags)
    } else {
      jsonStrings([...deal.tags, ...deal.closingTags])
    }
    starts[p + TAIL] = at
    raw(',"visit":')
    writeVisit(deal.visit)
    if (deal.custom !== undefined) {
      raw(',"custom":')
      writeCustom(deal.custom)
    }
    raw('}')
  }
  starts[n * PIECES] = at
  // A copy of the written part (the writer's array is reused for the next day); not zero-filled first.
  const pieces = Buffer.allocUnsafeSlow(at)
  pieces.set(out.subarray(0, at))
  return {
    dayNumber,
    count: n,
    orderNumber,
    orderWallMs,
    vanishedWallMs,
    inProgressWallMs,
    closedWallMs,
    deletedWallMs,
    outcome,
    orderOrigin,
    sourceType,
    manager,
    service,
    phone,
    pieces,
    starts,
  }
}

/** n + 1 start offsets of `count` pieces joined by '\n' in `buffer` (JSON without whitespace never holds a raw newline); the last is buffer.length + 1. */
export function pieceStarts(buffer: Buffer, count: number): Int32Array {
  const starts = new Int32Array(count + 1)
  let at = -1
  for (let i = 1; i < count; i++) {
    at = buffer.indexOf(10, at + 1)
    if (at < 0) throw new Error('simulator: a JSON piece has no separator')
    starts[i] = at + 1
  }
  if (count > 0 && buffer.indexOf(10, at + 1) >= 0) throw new Error('simulator: a raw newline in a JSON piece')
  starts[count] = buffer.length + 1
  return starts
}

/** Whether deal `i` of a template is in the export at a clock (same rule as `isVisible`). */
export function templateVisible(t: DayTemplate, i: number, clockWallMs: number): boolean {
  return (t.orderWallMs[i] as number) <= clockWallMs && (t.vanishedWallMs[i] as number) > clockWallMs
}

const OPEN_COMPLETION_BYTES = new Uint8Array(Buffer.from(OPEN_COMPLETION))
const TRUE_BYTES = new Uint8Array(Buffer.from('true'))
const FALSE_BYTES = new Uint8Array(Buffer.from('false'))
const STATUS_BYTES = [STATUS_START, STATUS_IN_PROGRESS, STATUS_FINAL, STATUS_LOST].map((s) => new Uint8Array(Buffer.from(s)))

/** Copies src[from, to) into dst at `at`; returns the new position. Short pieces by hand (no view allocated). */
function put(dst: Uint8Array, at: number, src: Uint8Array, from: number, to: number): number {
  const length = to - from
  if (length > 128) {
    dst.set(src.subarray(from, to), at)
    return at + length
  }
  for (let k = from; k < to; k++) dst[at++] = src[k] as number
  return at
}

/**
 * The exact UTF-8 JSON of the given deals of a template at a clock, joined by ','
 * (as `serializeDealRecord(renderGeneratedDeal(…))` would write each), and the
 * n + 1 offsets of the records (the last is buffer.length + 1).
 */
export function renderTemplateText(t: DayTemplate, deals: Int32Array, clockWallMs: number, withTags: boolean): { buffer: Buffer; offsets: Int32Array } {
  const { starts, closedWallMs, inProgressWallMs, deletedWallMs, outcome } = t
  // A plain view: subarray() of a Buffer builds a Buffer, of a Uint8Array a cheaper view.
  const pieces = new Uint8Array(t.pieces.buffer, t.pieces.byteOffset, t.pieces.length)
  const n = deals.length
  const end = (i: number, k: number): number => starts[i * PIECES + k + 1] as number
  const start = (i: number, k: number): number => starts[i * PIECES + k] as number
  let total = Math.max(0, n - 1)
  const status = new Uint8Array(n) // bit 0..1 status, bit 2 closed, bit 3 deleted
  for (let d = 0; d < n; d++) {
    const i = deals[d] as number
    const closed = (closedWallMs[i] as number) <= clockWallMs
    const s = closed ? ((outcome[i] as number) === OUTCOME_FINAL ? 2 : 3) : (inProgressWallMs[i] as number) <= clockWallMs ? 1 : 0
    const deleted = (deletedWallMs[i] as number) <= clockWallMs
    status[d] = s | (closed ? 4 : 0) | (deleted ? 8 : 0)
    total +=
      end(i, HEAD) - start(i, HEAD) +
      (closed ? end(i, CLOSED_COMPLETION) - start(i, CLOSED_COMPLETION) : OPEN_COMPLETION_BYTES.length) +
      end(i, BEFORE_DELETED) - start(i, BEFORE_DELETED) +
      (deleted ? 4 : 5) +
      end(i, BEFORE_STATUS) - start(i, BEFORE_STATUS) +
      end(i, BEFORE_TAGS) - start(i, BEFORE_TAGS) +
      (STATUS_BYTES[s] as Uint8Array).length +
      (withTags ? (closed ? end(i, TAGS_CLOSED) - start(i, TAGS_CLOSED) : end(i, TAGS_OPEN) - start(i, TAGS_OPEN)) : 0) +
      end(i, TAIL) - start(i, TAIL)
  }
  const buffer = Buffer.allocUnsafeSlow(total)
  const out = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.length)
  const offsets = new Int32Array(n + 1)
  let at = 0
  for (let d = 0; d < n; d++) {
    const i = deals[d] as number
    const bits = status[d] as number
    const closed = (bits & 4) !== 0
    if (d > 0) out[at++] = 44 // ','
    offsets[d] = at
    at = put(out, at, pieces, start(i, HEAD), end(i, HEAD))
    at = closed ? put(out, at, pieces, start(i, CLOSED_COMPLETION), end(i, CLOSED_COMPLETION)) : put(out, at, OPEN_COMPLETION_BYTES, 0, OPEN_COMPLETION_BYTES.length)
    at = put(out, at, pieces, start(i, BEFORE_DELETED), end(i, BEFORE_DELETED))
    at = (bits & 8) !== 0 ? put(out, at, TRUE_BYTES, 0, 4) : put(out, at, FALSE_BYTES, 0, 5)
    at = put(out, at, pieces, start(i, BEFORE_STATUS), end(i, BEFORE_STATUS))
    const statusBytes = STATUS_BYTES[bits & 3] as Uint8Array
    at = put(out, at, statusBytes, 0, statusBytes.length)
    at = put(out, at, pieces, start(i, BEFORE_TAGS), end(i, BEFORE_TAGS))
    if (withTags) at = closed ? put(out, at, pieces, start(i, TAGS_CLOSED), end(i, TAGS_CLOSED)) : put(out, at, pieces, start(i, TAGS_OPEN), end(i, TAGS_OPEN))
    at = put(out, at, pieces, start(i, TAIL), end(i, TAIL))
  }
  offsets[n] = at + 1
  if (at !== total) throw new Error(`simulator: rendered ${at} bytes, expected ${total}`)
  return { buffer, offsets }
}
