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
 * the caller keeps only a bounded number of days of them. A day read for the
 * first time needs no template: {@link writeDayAt} writes it straight as the
 * export's text at the clock (the same writer with the holes filled), which is
 * what a backfill, reading each day once, costs.
 */
import { formatCalltouchDate, MS_PER_DAY, MS_PER_SECOND } from './wall-clock.ts'
import { str } from './deal-record.ts'
import {
  dealCountOn,
  dealRandom,
  DealDraws,
  drawDealAfterOrderTime,
  drawLeadOf,
  drawOrderWallMs,
  NOT_FILLED,
  NOT_SET,
  orderNumberKey,
  orderNumberOf,
  orderSourceRequestNumberOf,
  serialOf,
  trackingNumberOf,
  VISIT_DIRECT,
  VISIT_EMPTY,
  VISIT_NONE,
  VISIT_ORGANIC,
  VISIT_SOCIAL,
} from './deal-generator.ts'
import type { Random } from './prng.ts'
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
export interface DayTemplate extends DayAttributes {
  readonly dayNumber: number
  readonly vanishedWallMs: Float64Array
  readonly inProgressWallMs: Float64Array
  readonly closedWallMs: Float64Array
  readonly deletedWallMs: Float64Array
  readonly outcome: Uint8Array
  /**
   * The clock-independent JSON of every deal as UTF-8, off the JS heap: piece k
   * of deal i is `pieces[starts[8i + k] .. starts[8i + k + 1])`.
   */
  readonly pieces: Buffer
  readonly starts: Int32Array
}

/** Byte offsets of a day's records as UTF-8 text: record i is `buffer[offsets[i] .. offsets[i + 1] - 1)`. */
export interface DayBytes {
  /** The day's records joined by ',' (so a run of records is one slice, commas included). */
  buffer: Buffer
  /** n + 1 offsets; offsets[n] = buffer.length + 1 (as if a comma followed the last record). */
  offsets: Int32Array
}

/**
 * A writer of JSON straight into a growing UTF-8 byte array, with the same
 * output as the string helpers of deal-record.ts (`str`, `num` …): no
 * intermediate strings, no per-deal garbage beyond small number texts. Module
 * state rather than an object (the hottest loop of a cold page); one day is
 * written at a time, synchronously.
 *
 * Constant text is copied as pre-encoded bytes with `TypedArray.set` (a memmove:
 * ~20 ns a call whatever the length, where a JS loop costs ~3 ns a byte on these
 * machines), and a key is joined with the generator's constant values next to it
 * into one memoised fragment, so a deal is a few dozen copies and its numbers.
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

/** UTF-8 bytes of constant JSON text. */
function encoded(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'utf8'))
}

function bytes(source: Uint8Array): void {
  const n = source.length
  if (n > 256) reserve(n)
  out.set(source, at)
  at += n
}

/**
 * `prefix + str(value) + suffix` as bytes, memoised per value: for the
 * generator's own values only (a few constants each), never per-deal ones.
 */
function fragments(prefix: string, suffix: string): (value: string | null) => Uint8Array {
  const memo = new Map<string | null, Uint8Array>()
  return (value) => {
    let fragment = memo.get(value)
    if (fragment === undefined) {
      fragment = encoded(prefix + str(value) + suffix)
      memo.set(value, fragment)
    }
    return fragment
  }
}

/** A JSON string literal of a generator's constant (tags), memoised. */
const jsonString = fragments('', '')

/** `str(value)` of text known to be ASCII without characters JSON escapes (order numbers), copied by hand: short. */
function asciiString(value: string): void {
  const n = value.length
  if (n > 256) reserve(n + 2)
  const o = out
  let a = at
  o[a++] = 34
  for (let i = 0; i < n; i++) o[a++] = value.charCodeAt(i)
  o[a++] = 34
  at = a
}

/** '00'..'99' as character codes, tens then units: numbers are written two digits per division. */
const DIGIT_PAIRS = Uint8Array.from({ length: 200 }, (_, k) => 48 + (k % 2 === 0 ? Math.floor(k / 20) : (k >> 1) % 10))

/** Writes a non-negative or negative integer as `String(value)` would. */
function writeInt(value: number): void {
  if (!Number.isSafeInteger(value)) return bytes(encoded(String(value)))
  let n = value
  if (n < 0) {
    out[at++] = 45 // -
    n = -n
  }
  let digits = 1
  for (let p = 10; p <= n; p *= 10) digits++
  const o = out
  let k = at + digits
  at = k
  while (n >= 100) {
    const pair = (n % 100) * 2
    n = Math.floor(n / 100)
    o[--k] = DIGIT_PAIRS[pair + 1] as number
    o[--k] = DIGIT_PAIRS[pair] as number
  }
  // The leading one or two digits fill what is left: positions k - 1 (and k - 2).
  if (n >= 10) {
    o[k - 1] = DIGIT_PAIRS[n * 2 + 1] as number
    o[k - 2] = DIGIT_PAIRS[n * 2] as number
  } else {
    o[k - 1] = 48 + n
  }
}

function writeTwoDigits(n: number): void {
  out[at++] = 48 + Math.floor(n / 10)
  out[at++] = 48 + (n % 10)
}

/** `"dd/mm/yyyy` of a day number (the opening quote included), memoised. */
const quotedDates = new Map<number, Uint8Array>()
function quotedDate(dayNumber: number): Uint8Array {
  let date = quotedDates.get(dayNumber)
  if (date === undefined) {
    date = encoded('"' + formatCalltouchDate(dayNumber))
    if (quotedDates.size > 20_000) quotedDates.clear()
    quotedDates.set(dayNumber, date)
  }
  return date
}

/** `str(formatCalltouchDate(dayNumber))`. */
function writeDate(dayNumber: number): void {
  bytes(quotedDate(dayNumber))
  out[at++] = 34
}

/** `str(formatCalltouchDateTime(wallMs))`, without building the string. */
function writeDateTime(wallMs: number): void {
  const dayNumber = Math.floor(wallMs / MS_PER_DAY)
  const second = Math.floor((wallMs - dayNumber * MS_PER_DAY) / MS_PER_SECOND)
  bytes(quotedDate(dayNumber))
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

const NULL_BYTES = encoded('null')

/** The tags of a deal's draws, with the closing tag if `closing` (`stringArrayJson`, or null when none). */
function writeTags(d: DealDraws, closing: boolean): void {
  const extra = closing && d.closingTag !== null
  if (d.tagCount === 0 && !extra) return bytes(NULL_BYTES)
  out[at++] = 91 // [
  for (let i = 0; i < d.tagCount; i++) {
    if (i > 0) out[at++] = 44 // ,
    bytes(jsonString(d.tags[i] as string))
  }
  if (extra) {
    if (d.tagCount > 0) out[at++] = 44
    bytes(jsonString(d.closingTag))
  }
  out[at++] = 93 // ]
}

const NOT_FILLED_JSON = str(NOT_FILLED)
const NOT_SET_JSON = str(NOT_SET)
const VISIT_NULL = encoded(',"visit":null')
const VISIT_EMPTY_JSON = encoded(
  ',"visit":{"utmSource":null,"additionalTags":[],"utmTerm":null,"utmContent":null,"visitDate":null,"utmMedium":null,"source":null,"medium":null,"keyword":null,"utmCampaign":null}',
)
const DIRECT_HEAD = encoded(',"visit":{"utmSource":"","additionalTags":[],"utmTerm":"","utmContent":"","visitDate":')
const DIRECT_TAIL = encoded(
  `,"utmMedium":"","source":"(direct)","medium":"(none)","keyword":${NOT_SET_JSON},"utmCampaign":""}`,
)
const ORGANIC_HEAD = encoded(
  `,"visit":{"utmSource":${NOT_FILLED_JSON},"additionalTags":[],"utmTerm":${NOT_FILLED_JSON},"utmContent":${NOT_FILLED_JSON},"visitDate":`,
)
const ORGANIC_TAIL = fragments(
  `,"utmMedium":${NOT_FILLED_JSON},"source":`,
  `,"medium":"organic","keyword":${NOT_SET_JSON},"utmCampaign":${NOT_FILLED_JSON}}`,
)
const SOCIAL_HEAD = encoded(`,"visit":{"utmSource":"vk","additionalTags":[],"utmTerm":${NOT_FILLED_JSON},"utmContent":`)
const SOCIAL_TAIL = fragments(
  `,"utmMedium":"social","source":"vk","medium":"social","keyword":${NOT_SET_JSON},"utmCampaign":`,
  '}',
)
const CPC_SOURCE = fragments(',"visit":{"utmSource":', ',"additionalTags":[],"utmTerm":')
const CPC_TERM = fragments('', ',"utmContent":')
const CPC_MEDIUM_SOURCE = fragments(',"utmMedium":"cpc","source":', ',"medium":"cpc","keyword":')
const CPC_KEYWORD = fragments('', ',"utmCampaign":')
const CPC_CAMPAIGN = fragments('', '}')
const VISIT_DATE_KEY = encoded(',"visitDate":')
const NOT_FILLED_BYTES = encoded(NOT_FILLED_JSON)
const POST_PREFIX = encoded('"post_')
const AD_PREFIX = encoded('"ad_')

/** `utmContent` of a social or cpc visit: `"<prefix>N"` or NOT_FILLED. */
function writeContent(prefix: Uint8Array, content: number): void {
  if (content < 0) return bytes(NOT_FILLED_BYTES)
  bytes(prefix)
  writeInt(content)
  out[at++] = 34
}

/** Writes `,"visit":` and `visitJson` of deal-record.ts for the visit of a deal's draws (the fields of `visitOf` in deal-generator.ts). */
function writeVisit(d: DealDraws): void {
  switch (d.visitKind) {
    case VISIT_NONE:
      return bytes(VISIT_NULL)
    case VISIT_EMPTY:
      return bytes(VISIT_EMPTY_JSON)
    case VISIT_DIRECT:
      bytes(DIRECT_HEAD)
      writeDateTime(d.visitWallMs)
      return bytes(DIRECT_TAIL)
    case VISIT_ORGANIC:
      bytes(ORGANIC_HEAD)
      writeDateTime(d.visitWallMs)
      return bytes(ORGANIC_TAIL(d.visitSource))
    case VISIT_SOCIAL:
      bytes(SOCIAL_HEAD)
      writeContent(POST_PREFIX, d.content)
      bytes(VISIT_DATE_KEY)
      writeDateTime(d.visitWallMs)
      return bytes(SOCIAL_TAIL(d.visitCampaign))
    default:
      bytes(CPC_SOURCE(d.visitSource))
      bytes(CPC_TERM(d.termFilled ? d.visitKeyword : NOT_FILLED))
      writeContent(AD_PREFIX, d.content)
      bytes(VISIT_DATE_KEY)
      writeDateTime(d.visitWallMs)
      bytes(CPC_MEDIUM_SOURCE(d.visitSource))
      bytes(CPC_KEYWORD(d.keywordSet ? d.visitKeyword : NOT_SET))
      return bytes(CPC_CAMPAIGN(d.visitCampaign))
  }
}

/** `"name":` of each custom field as encoded bytes. */
const CUSTOM_OPEN = encoded(',"custom":{')
const COST_KEY = encoded(str('Себестоимость') + ':')
const DISCOUNT_KEY = encoded(str('Скидка') + ':')
const MARGIN_KEY = encoded(str('Маржа') + ':')
const CODE_KEY = encoded(str('Код_1С') + ':')

/** Writes `"name":value` of a numeric custom field the deal has (a ',' first unless the object is still empty); returns whether it still is. */
function writeCustomNumber(key: Uint8Array, value: number | undefined, empty: boolean): boolean {
  if (value === undefined) return empty
  if (!empty) out[at++] = 44 // ,
  bytes(key)
  writeInt(value)
  return false
}

/** Writes `customJson` of deal-record.ts for the custom fields of a deal's draws (the object of `customOf`). */
function writeCustom(d: DealDraws): void {
  bytes(CUSTOM_OPEN)
  let empty = writeCustomNumber(COST_KEY, d.cost, true)
  empty = writeCustomNumber(DISCOUNT_KEY, d.discount, empty)
  empty = writeCustomNumber(MARGIN_KEY, d.margin, empty)
  if (d.code !== undefined) {
    if (!empty) out[at++] = 44
    bytes(CODE_KEY)
    // Digits and a sign: ASCII, copied by hand (38 bytes, once in ~20 deals).
    const code = d.code
    for (let i = 0; i < code.length; i++) out[at++] = code.charCodeAt(i)
  }
  out[at++] = 125 // }
}

/** The constant text of a deal between its values, and the keys joined with the generator's values around them. */
const CLIENT_OPEN = encoded('{"client":{"phones":')
const FIO_THEN_AMOUNT = fragments(',"fio":', '},"completedAmount":')
const COMPLETED_DATE_KEY = encoded(',"completedDate":')
const FUNNEL_THEN_DELETED = fragments('', ',"isDeleted":')
const MANAGER_THEN_ORDER_DATE = fragments(',"manager":', ',"orderDate":')
const ORDER_ID_KEY = encoded(',"orderId":')
const ORDER_NUMBER_KEY = encoded(',"orderNumber":')
const ORIGIN_THEN_CALL = fragments(',"orderOrigin":', ',"orderSource":{"callId":')
const ORIGIN_THEN_REQUEST = fragments(',"orderOrigin":', ',"orderSource":{"requestNumber":"')
const DURATION_KEY = encoded(',"duration":')
const TRACKING_THEN_ANI = fragments(',"phoneNumber":', ',"type":"CALL","ani":')
const DATE_CALL_KEY = encoded(',"dateCall":')
const CALL_END = encoded('},"orderStatus":')
const REQUEST_END = encoded('","type":"REQUEST"},"orderStatus":')
const PLANNED_AMOUNT_KEY = encoded(',"plannedAmount":')
const SERVICE = fragments(',"service":', '')
const TAGS_KEY = encoded(',"tags":')

const draws = new DealDraws()

/**
 * Generates a day of a site straight into its template: the deals' draws are
 * written as JSON bytes in export order (orderDate, then orderNumber) with no
 * per-deal objects. Same draws as `generateDeal`, so the same bytes as
 * `serializeDealRecord(renderGeneratedDeal(generateDeal(…)))` at any clock.
 */
export function writeDayTemplate(seed: number, site: ResolvedSiteConfig, dayNumber: number): DayTemplate {
  return writeDay(seed, site, dayNumber, undefined).template
}

/**
 * Generates a day of a site straight into the export's text at one clock, with
 * tags: only the deals visible then, holes filled, one pass and no template
 * (a day read once — a backfill — never needs one). The same bytes as
 * `renderTemplateText(writeDayTemplate(…), visible, clockWallMs, true)`; the text
 * without tags is {@link withoutTags} of it.
 */
export function writeDayAt(seed: number, site: ResolvedSiteConfig, dayNumber: number, clockWallMs: number): DayAtClock {
  return writeDay(seed, site, dayNumber, clockWallMs).atClock
}

/** The filter attributes of a day's deals, sorted by (orderDate, orderNumber) (shared constant strings, no copies). */
export interface DayAttributes {
  readonly count: number
  readonly orderWallMs: Float64Array
  readonly orderNumber: readonly string[]
  readonly orderOrigin: readonly string[]
  readonly sourceType: readonly ('CALL' | 'REQUEST')[]
  readonly manager: readonly (string | null)[]
  readonly service: readonly (string | null)[]
  /** The client's phone of each deal as drawn (`phoneText` makes the string, only for the rare lookup by phone). */
  readonly phoneDigits: Int32Array
}

/**
 * A day written at one clock ({@link writeDayAt}): the attributes of its visible
 * deals and their records with tags, joined by ','; record k is
 * `buffer[offsets[k] .. offsets[k + 1] - 1)` and its `,"tags":…` is
 * `buffer[tagsStarts[k] .. tagsEnds[k])`.
 */
export interface DayAtClock extends DayAttributes {
  readonly buffer: Buffer
  readonly offsets: Int32Array
  readonly tagsStarts: Int32Array
  readonly tagsEnds: Int32Array
}

/** Bits of a deal's state at a clock: the index in STATUS_BYTES (bits 0..1), closed (bit 2), deleted (bit 3). */
const CLOSED_BIT = 4
const DELETED_BIT = 8

/** The state of a deal at a clock (the rule of `renderGeneratedDeal`), as bits. */
function stateAt(
  clockWallMs: number,
  inProgressWallMs: number,
  closedWallMs: number,
  outcome: number,
  deletedWallMs: number,
): number {
  const closed = closedWallMs <= clockWallMs
  const status = closed ? (outcome === OUTCOME_FINAL ? 2 : 3) : inProgressWallMs <= clockWallMs ? 1 : 0
  return status | (closed ? CLOSED_BIT : 0) | (deletedWallMs <= clockWallMs ? DELETED_BIT : 0)
}

/** A deal's index is below this in a sort key: the generator's ceiling of 2^19 deals a day (INDEX_LIMIT in deal-generator.ts). */
const INDEX_KEY_SPAN = 2 ** 19

/**
 * The indexes of a day's deals in export order: by orderDate, then orderNumber.
 * A numeric sort of (second of day, index) keys in a Float64Array (native, no
 * comparator calls), then each run of deals in the same second by order number.
 */
function exportOrder(dayNumber: number, wallByIndex: Float64Array, numberByIndex: readonly string[]): Int32Array {
  const n = wallByIndex.length
  const dayStart = dayNumber * MS_PER_DAY
  const keys = new Float64Array(n)
  for (let index = 0; index < n; index++)
    keys[index] = (((wallByIndex[index] as number) - dayStart) / MS_PER_SECOND) * INDEX_KEY_SPAN + index
  keys.sort()
  const sorted = new Int32Array(n)
  for (let i = 0; i < n; i++) sorted[i] = (keys[i] as number) % INDEX_KEY_SPAN
  for (let first = 0; first < n;) {
    let end = first + 1
    while (end < n && wallByIndex[sorted[end] as number] === wallByIndex[sorted[first] as number]) end++
    // Insertion sort of a run of the same second (rarely more than two deals).
    for (let i = first + 1; i < end; i++) {
      const index = sorted[i] as number
      const orderNumber = numberByIndex[index] as string
      let j = i - 1
      while (j >= first && (numberByIndex[sorted[j] as number] as string) > orderNumber) {
        sorted[j + 1] = sorted[j] as number
        j--
      }
      sorted[j + 1] = index
    }
    first = end
  }
  return sorted
}

/**
 * The one writer behind {@link writeDayTemplate} (`atClockWallMs` undefined: every
 * deal, pieces around the clock's holes) and {@link writeDayAt} (the deals visible
 * at that clock, holes filled). Only what it returns for its mode is meaningful.
 */
function writeDay(
  seed: number,
  site: ResolvedSiteConfig,
  dayNumber: number,
  atClockWallMs: number | undefined,
): { template: DayTemplate; atClock: DayAtClock } {
  const n = dealCountOn(seed, site, dayNumber)
  const siteId = site.siteId
  const direct = atClockWallMs !== undefined
  const clockWallMs = atClockWallMs ?? 0
  // The sort key of each deal (its first two draws and its order number), then export order.
  // Each deal's stream is kept after its first two draws and goes on in drawDealAfterOrderTime.
  const wallByIndex = new Float64Array(n)
  const numberByIndex = new Array<string>(n)
  const randomByIndex = new Array<Random>(n)
  const key = orderNumberKey(seed, siteId)
  for (let index = 0; index < n; index++) {
    const random = dealRandom(seed, siteId, dayNumber, index)
    wallByIndex[index] = drawOrderWallMs(random, dayNumber)
    randomByIndex[index] = random
    numberByIndex[index] = orderNumberOf(seed, siteId, dayNumber, index, key)
  }
  const sorted = exportOrder(dayNumber, wallByIndex, numberByIndex)
  // Deals ordered after the clock are not in the export yet: a direct write stops before them.
  let end = n
  if (direct) while (end > 0 && (wallByIndex[sorted[end - 1] as number] as number) > clockWallMs) end--
  // `,"phoneNumber":"7495…","type":"CALL","ani":` of each channel's tracking number.
  const tracking = new Map<string, Uint8Array>()
  const orderNumber = new Array<string>(end)
  const orderWallMs = new Float64Array(end)
  const vanishedWallMs = new Float64Array(end)
  const inProgressWallMs = new Float64Array(end)
  const closedWallMs = new Float64Array(end)
  const deletedWallMs = new Float64Array(end)
  const outcome = new Uint8Array(end)
  const orderOrigin = new Array<string>(end)
  const sourceType = new Array<'CALL' | 'REQUEST'>(end)
  const manager = new Array<string | null>(end)
  const service = new Array<string | null>(end)
  const phoneDigits = new Int32Array(end)
  const starts = new Int32Array(direct ? 0 : end * PIECES + 1)
  const offsets = new Int32Array(direct ? end + 1 : 0)
  const tagsStarts = new Int32Array(direct ? end : 0)
  const tagsEnds = new Int32Array(direct ? end : 0)
  at = 0
  const createdDateThenFunnel = encoded(`,"createdDate":"${formatCalltouchDate(dayNumber)}","funnel":`)
  const d = draws
  // i: the deal in export order; k: where it goes (every deal in a template, the visible ones at a clock).
  let k = 0
  for (let i = 0; i < end; i++) {
    const index = sorted[i] as number
    drawDealAfterOrderTime(d, randomByIndex[index] as Random, wallByIndex[index] as number)
    drawLeadOf(d, seed, site, dayNumber, index)
    if (direct && d.vanishedWallMs <= clockWallMs) continue
    const serial = serialOf(dayNumber, index)
    const dealOutcome = d.outcome === 'final' ? OUTCOME_FINAL : d.outcome === 'lost' ? OUTCOME_LOST : OUTCOME_OPEN
    orderNumber[k] = numberByIndex[index] as string
    orderWallMs[k] = d.orderWallMs
    vanishedWallMs[k] = d.vanishedWallMs
    inProgressWallMs[k] = d.inProgressWallMs
    closedWallMs[k] = d.closedWallMs
    deletedWallMs[k] = d.deletedWallMs
    outcome[k] = dealOutcome
    orderOrigin[k] = d.orderOrigin
    sourceType[k] = d.isCall ? 'CALL' : 'REQUEST'
    manager[k] = d.manager
    service[k] = d.service
    phoneDigits[k] = d.phoneDigits
    const state = direct ? stateAt(clockWallMs, d.inProgressWallMs, d.closedWallMs, dealOutcome, d.deletedWallMs) : 0
    const p = k * PIECES
    reserve(DEAL_RESERVE)
    if (direct) {
      if (k > 0) out[at++] = 44 // ','
      offsets[k] = at
    } else {
      starts[p + HEAD] = at
    }
    bytes(CLIENT_OPEN)
    writePhone(d.phoneDigits)
    bytes(FIO_THEN_AMOUNT(d.fio))
    if (!direct) starts[p + CLOSED_COMPLETION] = at
    if (direct ? (state & CLOSED_BIT) !== 0 : d.outcome !== 'open') {
      if (d.outcome === 'final') writeInt(d.completedAmount)
      else bytes(NULL_BYTES)
      bytes(COMPLETED_DATE_KEY)
      writeDate(Math.floor(d.closedWallMs / MS_PER_DAY))
    } else if (direct) {
      bytes(OPEN_COMPLETION_BYTES)
    }
    if (!direct) starts[p + BEFORE_DELETED] = at
    bytes(createdDateThenFunnel)
    bytes(FUNNEL_THEN_DELETED(d.funnel))
    if (direct) bytes((state & DELETED_BIT) !== 0 ? TRUE_BYTES : FALSE_BYTES)
    else starts[p + BEFORE_STATUS] = at
    bytes(MANAGER_THEN_ORDER_DATE(d.manager))
    writeDateTime(d.orderWallMs)
    bytes(ORDER_ID_KEY)
    writeInt(serial + 3)
    bytes(ORDER_NUMBER_KEY)
    asciiString(orderNumber[k] as string)
    if (d.isCall) {
      bytes(ORIGIN_THEN_CALL(d.orderOrigin))
      writeInt(d.leadSerial + 1)
      bytes(DURATION_KEY)
      writeInt(d.duration)
      let trackingThenAni = tracking.get(d.leadChannel)
      if (trackingThenAni === undefined) {
        trackingThenAni = TRACKING_THEN_ANI(trackingNumberOf(seed, siteId, d.leadChannel))
        tracking.set(d.leadChannel, trackingThenAni)
      }
      bytes(trackingThenAni)
      writePhone(d.phoneDigits)
      bytes(DATE_CALL_KEY)
      writeDateTime(d.leadWallMs)
      bytes(CALL_END)
    } else {
      bytes(ORIGIN_THEN_REQUEST(d.orderOrigin))
      writeInt(orderSourceRequestNumberOf(d.leadSerial, d.numberless))
      bytes(REQUEST_END)
    }
    if (direct) bytes(STATUS_BYTES[state & 3] as Uint8Array)
    else starts[p + BEFORE_TAGS] = at
    bytes(PLANNED_AMOUNT_KEY)
    writeInt(d.plannedAmount)
    bytes(SERVICE(d.service))
    if (direct) {
      tagsStarts[k] = at
      bytes(TAGS_KEY)
      writeTags(d, (state & CLOSED_BIT) !== 0)
      tagsEnds[k] = at
    } else {
      starts[p + TAGS_OPEN] = at
      bytes(TAGS_KEY)
      writeTags(d, false)
      starts[p + TAGS_CLOSED] = at
      bytes(TAGS_KEY)
      writeTags(d, true)
      starts[p + TAIL] = at
    }
    writeVisit(d)
    if (d.cost !== undefined || d.discount !== undefined || d.margin !== undefined || d.code !== undefined)
      writeCustom(d)
    out[at++] = 125 // }
    k++
  }
  if (direct) offsets[k] = at + 1
  else starts[k * PIECES] = at
  // A copy of the written part (the writer's array is reused for the next day); not zero-filled first.
  const buffer = Buffer.allocUnsafeSlow(at)
  buffer.set(out.subarray(0, at))
  orderNumber.length = orderOrigin.length = sourceType.length = manager.length = service.length = k
  const attributes: DayAttributes = {
    count: k,
    orderWallMs: orderWallMs.subarray(0, k),
    orderNumber,
    orderOrigin,
    sourceType,
    manager,
    service,
    phoneDigits: phoneDigits.subarray(0, k),
  }
  return {
    template: {
      ...attributes,
      dayNumber,
      vanishedWallMs,
      inProgressWallMs,
      closedWallMs,
      deletedWallMs,
      outcome,
      pieces: buffer,
      starts,
    },
    atClock: { ...attributes, buffer, offsets: offsets.subarray(0, k + 1), tagsStarts, tagsEnds },
  }
}

/** The records of a day written at a clock without their `,"tags":…` (as the export serves them without `withOrdersTags`). */
export function withoutTags(day: DayAtClock): DayBytes {
  const { buffer: source, offsets: sourceOffsets, tagsStarts, tagsEnds, count } = day
  let total = source.length
  for (let k = 0; k < count; k++) total -= (tagsEnds[k] as number) - (tagsStarts[k] as number)
  const buffer = Buffer.allocUnsafeSlow(total)
  const offsets = new Int32Array(count + 1)
  let removed = 0
  let from = 0
  for (let k = 0; k < count; k++) {
    offsets[k] = (sourceOffsets[k] as number) - removed
    const tagsStart = tagsStarts[k] as number
    source.copy(buffer, from - removed, from, tagsStart)
    from = tagsEnds[k] as number
    removed += from - tagsStart
  }
  source.copy(buffer, from - removed, from, source.length)
  offsets[count] = total + 1
  return { buffer, offsets }
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
const STATUS_BYTES = [STATUS_START, STATUS_IN_PROGRESS, STATUS_FINAL, STATUS_LOST].map(
  (s) => new Uint8Array(Buffer.from(s)),
)

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
export function renderTemplateText(
  t: DayTemplate,
  deals: Int32Array,
  clockWallMs: number,
  withTags: boolean,
): DayBytes {
  const { starts, closedWallMs, inProgressWallMs, deletedWallMs, outcome } = t
  // A plain view: subarray() of a Buffer builds a Buffer, of a Uint8Array a cheaper view.
  const pieces = new Uint8Array(t.pieces.buffer, t.pieces.byteOffset, t.pieces.length)
  const n = deals.length
  const end = (i: number, k: number): number => starts[i * PIECES + k + 1] as number
  const start = (i: number, k: number): number => starts[i * PIECES + k] as number
  let total = Math.max(0, n - 1)
  const status = new Uint8Array(n) // stateAt of each deal
  for (let d = 0; d < n; d++) {
    const i = deals[d] as number
    const state = stateAt(
      clockWallMs,
      inProgressWallMs[i] as number,
      closedWallMs[i] as number,
      outcome[i] as number,
      deletedWallMs[i] as number,
    )
    status[d] = state
    const closed = (state & CLOSED_BIT) !== 0
    const deleted = (state & DELETED_BIT) !== 0
    total +=
      end(i, HEAD) -
      start(i, HEAD) +
      (closed ? end(i, CLOSED_COMPLETION) - start(i, CLOSED_COMPLETION) : OPEN_COMPLETION_BYTES.length) +
      end(i, BEFORE_DELETED) -
      start(i, BEFORE_DELETED) +
      (deleted ? 4 : 5) +
      end(i, BEFORE_STATUS) -
      start(i, BEFORE_STATUS) +
      end(i, BEFORE_TAGS) -
      start(i, BEFORE_TAGS) +
      (STATUS_BYTES[state & 3] as Uint8Array).length +
      (withTags
        ? closed
          ? end(i, TAGS_CLOSED) - start(i, TAGS_CLOSED)
          : end(i, TAGS_OPEN) - start(i, TAGS_OPEN)
        : 0) +
      end(i, TAIL) -
      start(i, TAIL)
  }
  const buffer = Buffer.allocUnsafeSlow(total)
  const out = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.length)
  const offsets = new Int32Array(n + 1)
  let at = 0
  for (let d = 0; d < n; d++) {
    const i = deals[d] as number
    const bits = status[d] as number
    const closed = (bits & CLOSED_BIT) !== 0
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
    at = (bits & DELETED_BIT) !== 0 ? put(out, at, TRUE_BYTES, 0, 4) : put(out, at, FALSE_BYTES, 0, 5)
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
