/**
 * The export's text of generated deals, built once per day and rendered at any
 * clock by joining precomputed pieces.
 *
 * Only five things in a generated deal's JSON depend on the clock: whether it is
 * in the export at all, `completedAmount` + `completedDate`, `isDeleted`,
 * `orderStatus` and `tags`. A {@link DayTemplate} keeps everything else as ready
 * JSON text between those holes, plus the times at which the holes change, so a
 * day at a new clock costs a few string joins per deal instead of building a
 * record object and serializing it field by field. A day is generated straight
 * into its template ({@link writeDayTemplate}: the generator's draws written as
 * bytes, no per-deal objects); the bytes are those `serializeDealRecord` writes
 * for the same deal (test/simulator checks it page by page).
 *
 * A template is plain arrays of strings and numbers — no per-deal objects — and
 * the caller keeps only a bounded number of days of them.
 */
import { formatCalltouchDate, MS_PER_DAY, MS_PER_SECOND } from './wall-clock.ts'
import { str } from './deal-record.ts'
import {
  dealCountOn,
  dealRandom,
  DealDraws,
  drawDeal,
  drawOrderWallMs,
  NOT_FILLED,
  NOT_SET,
  orderNumberOf,
  phoneOf,
  serialOf,
  trackingNumberOf,
  VISIT_DIRECT,
  VISIT_EMPTY,
  VISIT_NONE,
  VISIT_ORGANIC,
  VISIT_SOCIAL,
} from './deal-generator.ts'
import type { ResolvedSiteConfig } from './simulator-options.ts'

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
  // Locals, not the module's variables, in the loop: kept in registers.
  const o = out
  let a = at
  for (let i = 0; i < n; i++) o[a++] = text.charCodeAt(i)
  at = a
}

function bytes(source: Uint8Array): void {
  const n = source.length
  if (n > 256) reserve(n)
  const o = out
  let a = at
  for (let i = 0; i < n; i++) o[a++] = source[i] as number
  at = a
}

/** `str(value)` of deal-record.ts. */
function jsonString(value: string | null): void {
  if (value === null) return raw('null')
  const n = value.length
  if (n > 256) reserve(n + 2)
  // One pass: copy while checking; on a character JSON escapes or a non-ASCII one, start over from the memo.
  const o = out
  let a = at
  o[a++] = 34
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i)
    if (c < 0x20 || c >= 0x7f || c === 34 || c === 92) {
      let encoded = literalBytes.get(value)
      if (encoded === undefined) {
        encoded = new Uint8Array(Buffer.from(str(value), 'utf8'))
        if (literalBytes.size < 10_000) literalBytes.set(value, encoded)
      }
      return bytes(encoded)
    }
    o[a++] = c
  }
  o[a++] = 34
  at = a
}

/** Writes a non-negative or negative integer as `String(value)` would. */
function writeInt(value: number): void {
  if (!Number.isSafeInteger(value)) return raw(String(value))
  let n = value
  if (n < 0) {
    out[at++] = 45 // -
    n = -n
  }
  let digits = 1
  for (let p = 10; p <= n; p *= 10) digits++
  const end = at + digits
  for (let k = end - 1; k >= at; k--) {
    out[k] = 48 + (n % 10)
    n = Math.floor(n / 10)
  }
  at = end
}

function writeTwoDigits(n: number): void {
  out[at++] = 48 + Math.floor(n / 10)
  out[at++] = 48 + (n % 10)
}

/** `str(formatCalltouchDate(dayNumber))`. */
function writeDate(dayNumber: number): void {
  out[at++] = 34
  raw(formatCalltouchDate(dayNumber))
  out[at++] = 34
}

/** `str(formatCalltouchDateTime(wallMs))`, without building the string. */
function writeDateTime(wallMs: number): void {
  const dayNumber = Math.floor(wallMs / MS_PER_DAY)
  const second = Math.floor((wallMs - dayNumber * MS_PER_DAY) / MS_PER_SECOND)
  out[at++] = 34
  raw(formatCalltouchDate(dayNumber))
  out[at++] = 32 // ' '
  writeTwoDigits(Math.floor(second / 3600))
  out[at++] = 58 // :
  writeTwoDigits(Math.floor((second % 3600) / 60))
  out[at++] = 58
  writeTwoDigits(second % 60)
  out[at++] = 34
}

/** `str('79' + 9 digits)` of a client's phone. */
function writePhone(digits: number): void {
  out[at++] = 34
  out[at++] = 55 // 7
  out[at++] = 57 // 9
  let n = digits
  for (let k = at + 8; k >= at; k--) {
    out[k] = 48 + (n % 10)
    n = Math.floor(n / 10)
  }
  at += 9
  out[at++] = 34
}

/** The tags of a deal's draws, with the closing tag if `closing` (`stringArrayJson`, or null when none). */
function writeTags(d: DealDraws, closing: boolean): void {
  const extra = closing && d.closingTag !== null
  if (d.tagCount === 0 && !extra) return raw('null')
  out[at++] = 91 // [
  for (let i = 0; i < d.tagCount; i++) {
    if (i > 0) out[at++] = 44 // ,
    jsonString(d.tags[i] as string)
  }
  if (extra) {
    if (d.tagCount > 0) out[at++] = 44
    jsonString(d.closingTag)
  }
  out[at++] = 93 // ]
}

const EMPTY_VISIT = '{"utmSource":null,"additionalTags":[],"utmTerm":null,"utmContent":null,"visitDate":null,"utmMedium":null,"source":null,"medium":null,"keyword":null,"utmCampaign":null}'
const NOT_FILLED_JSON = str(NOT_FILLED)
const NOT_SET_JSON = str(NOT_SET)

/** `utmContent` of a social or cpc visit: `"<prefix>N"` or NOT_FILLED. */
function writeContent(prefix: string, content: number): void {
  if (content < 0) return jsonString(NOT_FILLED)
  out[at++] = 34
  raw(prefix)
  writeInt(content)
  out[at++] = 34
}

/** Writes `visitJson` of deal-record.ts for the visit of a deal's draws (the fields of `visitOf` in deal-generator.ts). */
function writeVisit(d: DealDraws): void {
  switch (d.visitKind) {
    case VISIT_NONE:
      return raw('null')
    case VISIT_EMPTY:
      return raw(EMPTY_VISIT)
    case VISIT_DIRECT:
      raw('{"utmSource":"","additionalTags":[],"utmTerm":"","utmContent":"","visitDate":')
      writeDateTime(d.visitWallMs)
      return raw(`,"utmMedium":"","source":"(direct)","medium":"(none)","keyword":${NOT_SET_JSON},"utmCampaign":""}`)
    case VISIT_ORGANIC:
      bytes(ORGANIC_HEAD)
      writeDateTime(d.visitWallMs)
      bytes(ORGANIC_MIDDLE)
      jsonString(d.visitSource)
      return bytes(ORGANIC_TAIL)
    case VISIT_SOCIAL:
      bytes(SOCIAL_HEAD)
      writeContent('post_', d.content)
      raw(',"visitDate":')
      writeDateTime(d.visitWallMs)
      bytes(SOCIAL_MIDDLE)
      jsonString(d.visitCampaign)
      return raw('}')
    default:
      raw('{"utmSource":')
      jsonString(d.visitSource)
      raw(',"additionalTags":[],"utmTerm":')
      jsonString(d.termFilled ? d.visitKeyword : NOT_FILLED)
      raw(',"utmContent":')
      writeContent('ad_', d.content)
      raw(',"visitDate":')
      writeDateTime(d.visitWallMs)
      raw(',"utmMedium":"cpc","source":')
      jsonString(d.visitSource)
      raw(',"medium":"cpc","keyword":')
      jsonString(d.keywordSet ? d.visitKeyword : NOT_SET)
      raw(',"utmCampaign":')
      jsonString(d.visitCampaign)
      return raw('}')
  }
}

/** UTF-8 bytes of constant JSON text that may hold non-ASCII characters. */
function encoded(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'utf8'))
}
const ORGANIC_HEAD = encoded(`{"utmSource":${NOT_FILLED_JSON},"additionalTags":[],"utmTerm":${NOT_FILLED_JSON},"utmContent":${NOT_FILLED_JSON},"visitDate":`)
const ORGANIC_MIDDLE = encoded(`,"utmMedium":${NOT_FILLED_JSON},"source":`)
const ORGANIC_TAIL = encoded(`,"medium":"organic","keyword":${NOT_SET_JSON},"utmCampaign":${NOT_FILLED_JSON}}`)
const SOCIAL_HEAD = encoded(`{"utmSource":"vk","additionalTags":[],"utmTerm":${NOT_FILLED_JSON},"utmContent":`)
const SOCIAL_MIDDLE = encoded(`,"utmMedium":"social","source":"vk","medium":"social","keyword":${NOT_SET_JSON},"utmCampaign":`)

const CUSTOM_NAMES = ['Себестоимость', 'Скидка', 'Маржа', 'Код_1С'].map((name) => encoded(str(name)))

/** Writes `customJson` of deal-record.ts for the custom fields of a deal's draws (the object of `customOf`). */
function writeCustom(d: DealDraws): void {
  raw(',"custom":{')
  let first = true
  const values = [d.cost, d.discount, d.margin]
  for (let k = 0; k < 3; k++) {
    const value = values[k]
    if (value === undefined) continue
    if (!first) out[at++] = 44
    first = false
    bytes(CUSTOM_NAMES[k] as Uint8Array)
    out[at++] = 58 // :
    writeInt(value)
  }
  if (d.code !== undefined) {
    if (!first) out[at++] = 44
    bytes(CUSTOM_NAMES[3] as Uint8Array)
    out[at++] = 58
    raw(d.code)
  }
  out[at++] = 125 // }
}

const draws = new DealDraws()

/**
 * Generates a day of a site straight into its template: the deals' draws are
 * written as JSON bytes in export order (orderDate, then orderNumber) with no
 * per-deal objects. Same draws as `generateDeal`, so the same bytes as
 * `serializeDealRecord(renderGeneratedDeal(generateDeal(…)))` at any clock.
 */
export function writeDayTemplate(seed: number, site: ResolvedSiteConfig, dayNumber: number): DayTemplate {
  const n = dealCountOn(seed, site, dayNumber)
  const siteId = site.siteId
  // The sort key of each deal (its first two draws and its order number), then export order.
  const wallByIndex = new Float64Array(n)
  const numberByIndex = new Array<string>(n)
  for (let index = 0; index < n; index++) {
    wallByIndex[index] = drawOrderWallMs(dealRandom(seed, siteId, dayNumber, index), dayNumber)
    numberByIndex[index] = orderNumberOf(seed, siteId, dayNumber, index)
  }
  const sorted = Array.from({ length: n }, (_, index) => index)
  sorted.sort((a, b) => {
    const x = wallByIndex[a] as number
    const y = wallByIndex[b] as number
    if (x !== y) return x - y
    const p = numberByIndex[a] as string
    const q = numberByIndex[b] as string
    return p < q ? -1 : p > q ? 1 : 0
  })
  const tracking = new Map<string, string>()
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
  const d = draws
  for (let i = 0; i < n; i++) {
    const index = sorted[i] as number
    drawDeal(d, seed, site, dayNumber, index)
    const serial = serialOf(dayNumber, index)
    orderNumber[i] = numberByIndex[index] as string
    orderWallMs[i] = d.orderWallMs
    vanishedWallMs[i] = d.vanishedWallMs
    inProgressWallMs[i] = d.inProgressWallMs
    closedWallMs[i] = d.closedWallMs
    deletedWallMs[i] = d.deletedWallMs
    outcome[i] = d.outcome === 'final' ? OUTCOME_FINAL : d.outcome === 'lost' ? OUTCOME_LOST : OUTCOME_OPEN
    orderOrigin[i] = d.orderOrigin
    sourceType[i] = d.isCall ? 'CALL' : 'REQUEST'
    manager[i] = d.manager
    service[i] = d.service
    phone[i] = phoneOf(d)
    const p = i * PIECES
    reserve(DEAL_RESERVE)
    starts[p + HEAD] = at
    raw('{"client":{"phones":')
    writePhone(d.phoneDigits)
    raw(',"fio":')
    jsonString(d.fio)
    raw('},"completedAmount":')
    starts[p + CLOSED_COMPLETION] = at
    if (d.outcome !== 'open') {
      if (d.outcome === 'final') writeInt(d.completedAmount)
      else raw('null')
      raw(',"completedDate":')
      writeDate(Math.floor(d.closedWallMs / MS_PER_DAY))
    }
    starts[p + BEFORE_DELETED] = at
    raw(',"createdDate":"')
    raw(createdDate)
    raw('","funnel":')
    jsonString(d.funnel)
    raw(',"isDeleted":')
    starts[p + BEFORE_STATUS] = at
    raw(',"manager":')
    jsonString(d.manager)
    raw(',"orderDate":')
    writeDateTime(d.orderWallMs)
    raw(',"orderId":')
    writeInt(serial + 3)
    raw(',"orderNumber":')
    jsonString(orderNumber[i] as string)
    raw(',"orderOrigin":')
    jsonString(d.orderOrigin)
    if (d.isCall) {
      raw(',"orderSource":{"callId":')
      writeInt(serial + 1)
      raw(',"duration":')
      writeInt(d.duration)
      raw(',"phoneNumber":')
      let trackingNumber = tracking.get(d.channel)
      if (trackingNumber === undefined) {
        trackingNumber = trackingNumberOf(seed, siteId, d.channel)
        tracking.set(d.channel, trackingNumber)
      }
      jsonString(trackingNumber)
      raw(',"type":"CALL","ani":')
      writePhone(d.phoneDigits)
      raw(',"dateCall":')
      writeDateTime(d.leadWallMs)
      raw('},"orderStatus":')
    } else {
      raw(',"orderSource":{"requestNumber":"')
      writeInt(serial + 7)
      raw('","type":"REQUEST"},"orderStatus":')
    }
    starts[p + BEFORE_TAGS] = at
    raw(',"plannedAmount":')
    writeInt(d.plannedAmount)
    raw(',"service":')
    jsonString(d.service)
    starts[p + TAGS_OPEN] = at
    raw(',"tags":')
    writeTags(d, false)
    starts[p + TAGS_CLOSED] = at
    raw(',"tags":')
    writeTags(d, true)
    starts[p + TAIL] = at
    raw(',"visit":')
    writeVisit(d)
    if (d.cost !== undefined || d.discount !== undefined || d.margin !== undefined || d.code !== undefined) writeCustom(d)
    out[at++] = 125 // }
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
    // Pieces stored one after another are copied as one run (HEAD + CLOSED_COMPLETION + BEFORE_DELETED
    // when closed, BEFORE_TAGS + TAGS_OPEN while open, TAGS_CLOSED + TAIL once closed).
    if (closed) {
      at = put(out, at, pieces, start(i, HEAD), end(i, BEFORE_DELETED))
    } else {
      at = put(out, at, pieces, start(i, HEAD), end(i, HEAD))
      at = put(out, at, OPEN_COMPLETION_BYTES, 0, OPEN_COMPLETION_BYTES.length)
      at = put(out, at, pieces, start(i, BEFORE_DELETED), end(i, BEFORE_DELETED))
    }
    at = (bits & 8) !== 0 ? put(out, at, TRUE_BYTES, 0, 4) : put(out, at, FALSE_BYTES, 0, 5)
    at = put(out, at, pieces, start(i, BEFORE_STATUS), end(i, BEFORE_STATUS))
    const statusBytes = STATUS_BYTES[bits & 3] as Uint8Array
    at = put(out, at, statusBytes, 0, statusBytes.length)
    if (!withTags) {
      at = put(out, at, pieces, start(i, BEFORE_TAGS), end(i, BEFORE_TAGS))
      at = put(out, at, pieces, start(i, TAIL), end(i, TAIL))
    } else if (closed) {
      at = put(out, at, pieces, start(i, BEFORE_TAGS), end(i, BEFORE_TAGS))
      at = put(out, at, pieces, start(i, TAGS_CLOSED), end(i, TAIL))
    } else {
      at = put(out, at, pieces, start(i, BEFORE_TAGS), end(i, TAGS_OPEN))
      at = put(out, at, pieces, start(i, TAIL), end(i, TAIL))
    }
  }
  offsets[n] = at + 1
  if (at !== total) throw new Error(`simulator: rendered ${at} bytes, expected ${total}`)
  return { buffer, offsets }
}
