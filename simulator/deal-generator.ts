/**
 * Generates a site's deals for one day as a pure function of
 * (seed, site, dayNumber, index). Nothing here depends on the clock: a
 * {@link GeneratedDeal} carries its whole future (when it goes in progress,
 * closes, is deleted or vanishes) and is rendered at a clock by
 * `renderGeneratedDeal`.
 */
import { createRandom, hash32, unitHash, weightedChoice, type Random } from './prng.ts'
import type { CallOrderSource, DealRecord, DealVisit, RequestOrderSource } from './deal-record.ts'
import type { ResolvedSiteConfig } from './simulator-options.ts'
import { formatCalltouchDate, formatCalltouchDateTime, isoWeekday, MS_PER_DAY, MS_PER_SECOND } from './wall-clock.ts'

/** Everything about a generated deal; times are site-local wall milliseconds. */
export interface GeneratedDeal {
  dayNumber: number
  index: number
  orderNumber: string
  orderWallMs: number
  orderDate: string
  orderId: number
  client: { phones: string; fio: string | null }
  manager: string | null
  orderOrigin: string
  orderSource: CallOrderSource | RequestOrderSource
  service: string | null
  plannedAmount: number
  visit: DealVisit | null
  funnel: string | null
  tags: string[]
  custom: Record<string, string> | undefined
  inProgressWallMs: number
  outcome: 'final' | 'lost' | 'open'
  closedWallMs: number
  completedAmount: number
  closingTags: string[]
  deletedWallMs: number
  vanishedWallMs: number
}

/** Relative volume by ISO weekday (Mon..Sun); averages 1. */
const WEEKDAY_FACTOR = [1.1, 1.2, 1.15, 1.1, 1.0, 0.8, 0.65] as const
/** Share of days without a single deal (holidays, tracking outages). */
const EMPTY_DAY_SHARE = 0.03
/** Bits of the per-day index in an order number's hidden value; 2^19 deals a day is the ceiling. */
const INDEX_BITS = 19
const INDEX_LIMIT = 2 ** INDEX_BITS
const HALF_BITS = 18
const HALF_MASK = 2 ** HALF_BITS - 1
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'

/** Salts that keep the independent random streams apart. */
const SALT = {
  count: 1,
  empty: 2,
  deal: 3,
  feistel: 4,
  suffix: 5,
  sharedLead: 6,
  sharedLeadDays: 7,
  numberless: 8,
} as const

/**
 * Share of deals made from the lead of an earlier deal of the site (a client who called or sent a
 * request once and bought twice): such a deal names that lead in its orderSource, so the lead has
 * two deals (rarely more).
 */
export const SHARED_LEAD_SHARE = 0.05
/** A deal sharing a lead names that of the deal with its own index 1 to this many days before. */
export const SHARED_LEAD_MAX_DAYS = 20
/** Share of request deals whose site sent no number: orderSource.requestNumber is the request's requestId as text. */
export const NUMBERLESS_REQUEST_SHARE = 0.1
/**
 * requestId of the request behind a numberless request deal is this + serial + 5: apart from every
 * requestNumber the generator writes (serial + 7 stays below it until the year 2038), so the
 * requestId fallback can only find its own request.
 */
export const NUMBERLESS_REQUEST_ID_BASE = 10_000_000_000

/** How many deals a site has on a day (0 before its history starts). */
export function dealCountOn(seed: number, site: ResolvedSiteConfig, dayNumber: number): number {
  const fixed = site.dealsOnDays.get(dayNumber)
  if (fixed !== undefined) return fixed
  if (dayNumber < site.historyStartDay || site.dealsPerDay <= 0) return 0
  if (unitHash(seed, site.siteId, dayNumber, SALT.empty) < EMPTY_DAY_SHARE) return 0
  const weekday = WEEKDAY_FACTOR[isoWeekday(dayNumber) - 1] ?? 1
  const season = 1 + 0.1 * Math.sin((2 * Math.PI * dayNumber) / 365.25)
  const noise = 0.7 + 0.6 * unitHash(seed, site.siteId, dayNumber, SALT.count)
  const mean = site.dealsPerDay * weekday * season * noise
  // Stochastic rounding keeps small volumes (2 a day) honest, including their zeros.
  const count = Math.floor(mean + unitHash(seed, site.siteId, dayNumber, SALT.count, 1))
  return Math.min(count, INDEX_LIMIT - 1)
}

function feistelRound(key: number, round: number, half: number): number {
  return hash32(key, round, half) & HALF_MASK
}

/** Bijective scramble of a 36-bit value, so order numbers look random yet decode back to (day, index). */
function scramble(key: number, value: number): number {
  let left = Math.floor(value / 2 ** HALF_BITS)
  let right = value & HALF_MASK
  for (let round = 0; round < 4; round++) {
    const next = left ^ feistelRound(key, round, right)
    left = right
    right = next
  }
  return left * 2 ** HALF_BITS + right
}

function unscramble(key: number, value: number): number {
  let left = Math.floor(value / 2 ** HALF_BITS)
  let right = value & HALF_MASK
  for (let round = 3; round >= 0; round--) {
    const previous = right ^ feistelRound(key, round, left)
    right = left
    left = previous
  }
  return left * 2 ** HALF_BITS + right
}

const BASE62_CODES = Array.from(BASE62, (ch) => ch.charCodeAt(0))

/** Writes `value` as `width` base-62 digits into `codes` at `offset`. */
function writeBase62(codes: number[], offset: number, value: number, width: number): void {
  let rest = value
  for (let i = width - 1; i >= 0; i--) {
    codes[offset + i] = BASE62_CODES[rest % 62] as number
    rest = Math.floor(rest / 62)
  }
}

function feistelKey(seed: number, siteId: number): number {
  return hash32(seed, siteId, SALT.feistel)
}

/** The key {@link orderNumberOf} scrambles a site's order numbers with. */
export const orderNumberKey = feistelKey

/** Whether a generated deal's order number is numeric (a CRM id) or Calltouch's 14-character id. */
function isNumericOrderNumber(seed: number, siteId: number, dayNumber: number, index: number): boolean {
  return unitHash(seed, siteId, dayNumber, index, SALT.suffix) < 0.4
}

/** The character codes of the order number being built (reused: one order number at a time, synchronously). */
const ORDER_NUMBER_CODES = new Array<number>(14).fill(0)

/**
 * The order number of generated deal (dayNumber, index): unique per site, stable per seed.
 * `key` is the site's scrambling key ({@link orderNumberKey}), for callers numbering a whole day.
 */
export function orderNumberOf(
  seed: number,
  siteId: number,
  dayNumber: number,
  index: number,
  key = feistelKey(seed, siteId),
): string {
  const scrambled = scramble(key, dayNumber * INDEX_LIMIT + index)
  if (isNumericOrderNumber(seed, siteId, dayNumber, index)) return String(scrambled)
  const codes = ORDER_NUMBER_CODES
  writeBase62(codes, 0, scrambled, 7)
  writeBase62(codes, 7, hash32(seed, siteId, scrambled, SALT.suffix), 7)
  return String.fromCharCode(...codes)
}

/** The (dayNumber, index) a generated order number stands for, or undefined when it is not one. */
export function decodeOrderNumber(
  seed: number,
  siteId: number,
  orderNumber: string,
): { dayNumber: number; index: number } | undefined {
  let scrambled: number
  if (/^\d{1,11}$/.test(orderNumber)) {
    scrambled = Number(orderNumber)
  } else if (/^[0-9A-Za-z]{14}$/.test(orderNumber)) {
    scrambled = 0
    for (const ch of orderNumber.slice(0, 7)) scrambled = scrambled * 62 + BASE62.indexOf(ch)
  } else {
    return undefined
  }
  if (scrambled >= 2 ** (2 * HALF_BITS)) return undefined
  const value = unscramble(feistelKey(seed, siteId), scrambled)
  const dayNumber = Math.floor(value / INDEX_LIMIT)
  const index = value % INDEX_LIMIT
  if (orderNumberOf(seed, siteId, dayNumber, index) !== orderNumber) return undefined
  return { dayNumber, index }
}

const MANAGERS = [
  'Анна Смирнова',
  'Коля',
  'Дмитрий Петров',
  'Елена Кузнецова',
  'Ольга Иванова',
  'Сергей Волков',
  'Марина Соколова',
  'Алексей Новиков',
] as const
const CLIENT_NAMES = [
  'Вася',
  'Иван Петрович',
  'Мария Ковалёва',
  'Пётр Сидоров',
  'Екатерина',
  'Артём Фёдоров',
  'Наталья Юрьевна',
  'ООО «Ромашка»',
  'Игорь',
] as const
const TAGS = [
  'VIP',
  'повторный клиент',
  'Акции',
  'доставка',
  'оптовый заказ',
  'рассрочка',
  'самовывоз',
  'жалоба',
  'тёплый лид',
] as const
const SERVICES = weightedChoice<string | null>([
  ['AmoCRM', 45],
  ['Bitrix24', 25],
  ['retailCRM', 20],
  [null, 10],
])
const ORIGINS = weightedChoice([
  ['API', 85],
  ['MANUAL', 10],
  ['AUTO', 5],
])
const FUNNELS = weightedChoice<string | null>([
  [null, 60],
  ['Основная воронка', 30],
  ['Опт', 10],
])
const KEYWORDS = [
  'ремонт квартир',
  'ремонт квартир под ключ цена',
  'дизайн интерьера москва',
  'натяжные потолки',
  'купить кухню недорого',
  'укладка плитки',
] as const

type Channel = 'yandex_cpc' | 'google_cpc' | 'direct' | 'organic' | 'social'
const CHANNELS = weightedChoice<Channel>([
  ['yandex_cpc', 34],
  ['google_cpc', 12],
  ['direct', 20],
  ['organic', 22],
  ['social', 12],
])
const CAMPAIGNS: Record<'yandex_cpc' | 'google_cpc' | 'social', readonly string[]> = {
  yandex_cpc: ['brand_moscow', 'poisk_remont_kvartir', 'rsya_retarget', 'Поиск | Москва | Ремонт'],
  google_cpc: ['search_brand', 'pmax_moscow', 'Поиск — Ремонт'],
  social: ['vk_lookalike', 'vk_retarget_осень', 'vk_promo'],
}
export const NOT_FILLED = '<не заполнено>'
export const NOT_SET = '(not set)'

/** A standard normal deviate (Box–Muller). */
function normal(random: Random): number {
  const u = 1 - random.next()
  const v = random.next()
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
}

function bigInteger(random: Random, digits: number): string {
  let out = String(random.int(1, 9))
  while (out.length < digits) out += String(random.int(0, 999_999)).padStart(6, '0')
  return out.slice(0, digits)
}

/** Hour-of-day weights: the phones ring in business hours. */
const HOURS = weightedChoice(
  [1, 0.5, 0.3, 0.2, 0.2, 0.3, 1, 3, 7, 10, 11, 11, 10, 10, 10, 10, 9, 8, 7, 5, 4, 3, 2, 1.5].map(
    (weight, hour) => [hour, weight] as const,
  ),
)
const TAG_COUNTS = weightedChoice([
  [0, 45],
  [1, 35],
  [2, 15],
  [3, 5],
])
const OUTCOMES = weightedChoice<GeneratedDeal['outcome']>([
  ['final', 50],
  ['lost', 32],
  ['open', 18],
])

/** Kinds of `visit` a generated deal has (see {@link DealDraws.visitKind}). */
export const VISIT_NONE = 0 // null
export const VISIT_EMPTY = 1 // every field null
export const VISIT_DIRECT = 2
export const VISIT_ORGANIC = 3
export const VISIT_SOCIAL = 4
export const VISIT_CPC = 5

const CHANNEL_VISIT: Record<Channel, number> = {
  direct: VISIT_DIRECT,
  organic: VISIT_ORGANIC,
  social: VISIT_SOCIAL,
  yandex_cpc: VISIT_CPC,
  google_cpc: VISIT_CPC,
}

/**
 * Every random draw of one generated deal, as primitives and references to the
 * generator's constant strings: no objects, no formatted dates. {@link drawDeal}
 * fills one in place, so a day's template can be written straight from it
 * (day-text.ts) and {@link generateDeal} builds the same deal as objects — one
 * draw order for both, so both give the same bytes.
 */
export class DealDraws {
  orderWallMs = 0
  /** Unpadded `random.int(0, 999_999_999)` of the client's phone ('79' + 9 digits). */
  phoneDigits = 0
  channel: Channel = 'direct'
  isCall = false
  /** Time of the call (CALL) or request; the visit is before it. After {@link drawLeadOf}, that of the lead it names. */
  leadWallMs = 0
  duration = 0
  /** The serial of the deal whose lead this deal names ({@link drawLeadOf}): its own, or an earlier deal's. */
  leadSerial = 0
  /** The channel of that deal (its tracking number is the call's `phoneNumber`). */
  leadChannel: Channel = 'direct'
  /** A request deal whose site sent no number: orderSource.requestNumber is the requestId as text. */
  numberless = false
  visitKind = VISIT_NONE
  visitWallMs = 0
  /** `source` of an organic, social or cpc visit ('yandex', 'google', 'vk'). */
  visitSource = ''
  visitCampaign = ''
  visitKeyword = ''
  /** `utmTerm` of a cpc visit is the keyword (else NOT_FILLED). */
  termFilled = false
  /** The number in `utmContent` (`post_N` social, `ad_N` cpc), or -1 for NOT_FILLED. */
  content = -1
  /** `keyword` of a cpc visit is the keyword (else NOT_SET). */
  keywordSet = false
  plannedAmount = 0
  /** The first `tagCount` entries are the deal's tags (distinct, in draw order). */
  readonly tags: string[] = []
  tagCount = 0
  inProgressWallMs = 0
  outcome: GeneratedDeal['outcome'] = 'open'
  closedWallMs = Infinity
  completedAmount = 0
  /** 'оплачено' / 'отказ' added once closed, or null. */
  closingTag: string | null = null
  deletedWallMs = Infinity
  vanishedWallMs = Infinity
  fio: string | null = null
  manager: string | null = null
  orderOrigin = ''
  service: string | null = null
  funnel: string | null = null
  /** Custom fields: each value, or undefined when the deal lacks that field. */
  cost: number | undefined = undefined
  discount: number | undefined = undefined
  margin: number | undefined = undefined
  code: string | undefined = undefined
}

/** The random stream of generated deal (dayNumber, index). */
export function dealRandom(seed: number, siteId: number, dayNumber: number, index: number): Random {
  return createRandom(seed, siteId, dayNumber, index, SALT.deal)
}

/** The hour and second of day of a deal: the first two draws of its stream, the sort key of a day. */
export function drawOrderWallMs(random: Random, dayNumber: number): number {
  const hour = random.weighted(HOURS)
  const secondOfDay = hour * 3600 + random.int(0, 3599)
  return dayNumber * MS_PER_DAY + secondOfDay * MS_PER_SECOND
}

/** Fills `d` with the draws of generated deal (dayNumber, index), its lead included ({@link drawLeadOf}). */
export function drawDeal(d: DealDraws, seed: number, site: ResolvedSiteConfig, dayNumber: number, index: number): void {
  const random = dealRandom(seed, site.siteId, dayNumber, index)
  drawDealAfterOrderTime(d, random, drawOrderWallMs(random, dayNumber))
  drawLeadOf(d, seed, site, dayNumber, index)
}

/** Whether deal (dayNumber, index) is drawn to name an earlier deal's lead (it does when that deal exists and keeps its own). */
function sharesLeadDrawn(seed: number, siteId: number, dayNumber: number, index: number): boolean {
  return unitHash(seed, siteId, dayNumber, index, SALT.sharedLead) < SHARED_LEAD_SHARE
}

/** How many days before a deal drawn to share a lead the lending deal is (1..SHARED_LEAD_MAX_DAYS). */
function sharedLeadDays(seed: number, siteId: number, dayNumber: number, index: number): number {
  return 1 + (hash32(seed, siteId, dayNumber, index, SALT.sharedLeadDays) % SHARED_LEAD_MAX_DAYS)
}

/**
 * The day of the earlier deal whose lead generated deal (dayNumber, index) names — the deal with
 * the same index that many days before, if it exists and was not drawn to share a lead itself — or
 * undefined when the deal names a lead of its own. Pure hashes: the deals' streams are untouched.
 */
export function sharedLeadDayOf(
  seed: number,
  site: ResolvedSiteConfig,
  dayNumber: number,
  index: number,
): number | undefined {
  if (!sharesLeadDrawn(seed, site.siteId, dayNumber, index)) return undefined
  const day = dayNumber - sharedLeadDays(seed, site.siteId, dayNumber, index)
  if (index >= dealCountOn(seed, site, day) || sharesLeadDrawn(seed, site.siteId, day, index)) return undefined
  return day
}

/** The later days whose deal of the same index names the lead of deal (dayNumber, index), ascending: the inverse of {@link sharedLeadDayOf}. */
export function daysSharingLeadOf(seed: number, site: ResolvedSiteConfig, dayNumber: number, index: number): number[] {
  const days: number[] = []
  if (sharesLeadDrawn(seed, site.siteId, dayNumber, index)) return days
  for (let k = 1; k <= SHARED_LEAD_MAX_DAYS; k++) {
    const day = dayNumber + k
    if (
      sharesLeadDrawn(seed, site.siteId, day, index) &&
      sharedLeadDays(seed, site.siteId, day, index) === k &&
      index < dealCountOn(seed, site, day)
    )
      days.push(day)
  }
  return days
}

/** The draws of the deal lending its lead (drawLeadOf; never itself sharing one, so never re-entered). */
const lender = new DealDraws()

/**
 * Sets the lead a deal's orderSource names, after {@link drawDealAfterOrderTime}: its own
 * (`leadSerial` its serial, ~10% of request deals numberless), or, for a deal sharing an earlier
 * deal's lead ({@link sharedLeadDayOf}), that deal's lead: its serial, kind, time, call duration,
 * tracking channel, and the client's phone (the same client). The deal's other draws stay its own.
 */
export function drawLeadOf(
  d: DealDraws,
  seed: number,
  site: ResolvedSiteConfig,
  dayNumber: number,
  index: number,
): void {
  const leadDay = sharedLeadDayOf(seed, site, dayNumber, index)
  if (leadDay === undefined) {
    d.leadSerial = serialOf(dayNumber, index)
    d.leadChannel = d.channel
    d.numberless =
      !d.isCall && unitHash(seed, site.siteId, dayNumber, index, SALT.numberless) < NUMBERLESS_REQUEST_SHARE
    return
  }
  drawDeal(lender, seed, site, leadDay, index)
  d.leadSerial = lender.leadSerial
  d.leadChannel = lender.leadChannel
  d.numberless = lender.numberless
  d.isCall = lender.isCall
  d.leadWallMs = lender.leadWallMs
  d.duration = lender.duration
  d.phoneDigits = lender.phoneDigits
}

/** requestId of the request behind the deal of serial `leadSerial` (numberless: apart from every requestNumber). */
export function linkedRequestIdOf(leadSerial: number, numberless: boolean): number {
  return (numberless ? NUMBERLESS_REQUEST_ID_BASE : 0) + leadSerial + 5
}

/** orderSource.requestNumber of a request deal, as a number: the site's number (serial + 7), or the requestId when it sent none. */
export function orderSourceRequestNumberOf(leadSerial: number, numberless: boolean): number {
  return numberless ? linkedRequestIdOf(leadSerial, true) : leadSerial + 7
}

/**
 * {@link drawDeal} for a deal whose stream already gave its order time
 * ({@link drawOrderWallMs}): the rest of its draws, in the same order.
 */
export function drawDealAfterOrderTime(d: DealDraws, random: Random, orderWallMs: number): void {
  d.orderWallMs = orderWallMs
  d.phoneDigits = random.int(0, 999_999_999)
  const channel = random.weighted(CHANNELS)
  d.channel = channel
  d.isCall = random.chance(0.8)
  const leadWallMs = orderWallMs - random.int(0, 600) * MS_PER_SECOND
  d.leadWallMs = leadWallMs
  if (d.isCall) d.duration = random.chance(0.05) ? 0 : random.int(5, 900)
  const visitRoll = random.next()
  d.visitKind = visitRoll < 0.06 ? VISIT_NONE : visitRoll < 0.08 ? VISIT_EMPTY : CHANNEL_VISIT[channel]
  if (d.visitKind >= VISIT_DIRECT) {
    d.visitWallMs = leadWallMs - random.int(10, 1800) * MS_PER_SECOND
    switch (channel) {
      case 'direct':
        break
      case 'organic':
        d.visitSource = random.chance(0.75) ? 'yandex' : 'google'
        break
      case 'social':
        d.visitSource = 'vk'
        d.visitCampaign = random.pick(CAMPAIGNS.social)
        d.content = random.chance(0.08) ? -1 : random.int(100, 999)
        break
      default:
        d.visitSource = channel === 'yandex_cpc' ? 'yandex' : 'google'
        d.visitCampaign = random.pick(CAMPAIGNS[channel])
        d.visitKeyword = random.pick(KEYWORDS)
        d.termFilled = !random.chance(0.08)
        d.content = random.chance(0.08) ? -1 : random.int(1_000_000, 9_999_999)
        d.keywordSet = !random.chance(0.05)
    }
  }
  const plannedAmount = Math.max(
    500,
    Math.min(2_000_000, Math.round(Math.exp(Math.log(25_000) + 0.8 * normal(random)) / 100) * 100),
  )
  d.plannedAmount = plannedAmount
  const tags = d.tags
  const tagDraws = random.weighted(TAG_COUNTS)
  let tagCount = 0
  for (let i = 0; i < tagDraws; i++) {
    const tag = random.pick(TAGS)
    let seen = false
    for (let k = 0; k < tagCount; k++) if (tags[k] === tag) seen = true
    if (!seen) tags[tagCount++] = tag
  }
  d.tagCount = tagCount
  const inProgressWallMs = orderWallMs + Math.round((600 + random.next() ** 2 * 3 * 86_400) * MS_PER_SECOND)
  d.inProgressWallMs = inProgressWallMs
  const outcome = random.weighted(OUTCOMES)
  d.outcome = outcome
  const closeAfterDays = Math.min(150, 0.5 + -Math.log(1 - random.next()) * 18)
  d.closedWallMs = outcome === 'open' ? Infinity : inProgressWallMs + Math.round(closeAfterDays * MS_PER_DAY)
  d.completedAmount = Math.round((plannedAmount * (0.7 + 0.5 * random.next())) / 100) * 100
  d.closingTag =
    outcome === 'final' && random.chance(0.4) ? 'оплачено' : outcome === 'lost' && random.chance(0.5) ? 'отказ' : null
  d.deletedWallMs = random.chance(0.03) ? orderWallMs + random.int(1, 60) * MS_PER_DAY : Infinity
  d.vanishedWallMs = random.chance(0.01) ? orderWallMs + random.int(1, 30) * MS_PER_DAY : Infinity
  d.fio = random.chance(0.6) ? random.pick(CLIENT_NAMES) : null
  d.manager = random.chance(0.15) ? null : random.pick(MANAGERS)
  d.orderOrigin = random.weighted(ORIGINS)
  d.service = random.weighted(SERVICES)
  d.funnel = random.weighted(FUNNELS)
  d.cost = d.discount = d.margin = d.code = undefined
  if (random.chance(0.55)) {
    if (random.chance(0.8)) d.cost = Math.round(plannedAmount * (0.3 + 0.4 * random.next()))
    if (random.chance(0.3)) d.discount = -random.int(0, 50) * 100
    if (random.chance(0.4)) d.margin = random.int(-20_000, 80_000)
    if (random.chance(0.12)) {
      const extreme = random.chance(0.2)
      const digits = extreme ? '9'.repeat(38) : bigInteger(random, 38)
      d.code = (random.chance(0.3) ? '-' : '') + digits
    }
  }
}

/** A client's phone ('79' + 9 digits) from its drawn digits ({@link DealDraws.phoneDigits}). */
export function phoneText(phoneDigits: number): string {
  return '79' + String(phoneDigits).padStart(9, '0')
}

/** `orderSource.phoneNumber` of a call through a channel (a tracking number per site and channel). */
export function trackingNumberOf(seed: number, siteId: number, channel: Channel): string {
  return `7495${String(hash32(seed, siteId, CHANNELS.values.indexOf(channel)) % 10_000_000).padStart(7, '0')}`
}

/**
 * The generator's serial of a deal: orderId is serial + 3; the lead's callId serial + 1, requestNumber
 * serial + 7, requestId serial + 5 ({@link linkedRequestIdOf}), of the serial of the deal whose lead it is.
 */
export function serialOf(dayNumber: number, index: number): number {
  return dayNumber * 400_000 + index
}

function visitOf(d: DealDraws): DealVisit | null {
  const visitDate = d.visitKind >= VISIT_DIRECT ? formatCalltouchDateTime(d.visitWallMs) : null
  switch (d.visitKind) {
    case VISIT_NONE:
      return null
    case VISIT_EMPTY:
      return {
        utmSource: null,
        additionalTags: [],
        utmTerm: null,
        utmContent: null,
        visitDate: null,
        utmMedium: null,
        source: null,
        medium: null,
        keyword: null,
        utmCampaign: null,
      }
    case VISIT_DIRECT:
      return {
        utmSource: '',
        additionalTags: [],
        utmTerm: '',
        utmContent: '',
        visitDate,
        utmMedium: '',
        source: '(direct)',
        medium: '(none)',
        keyword: NOT_SET,
        utmCampaign: '',
      }
    case VISIT_ORGANIC:
      return {
        utmSource: NOT_FILLED,
        additionalTags: [],
        utmTerm: NOT_FILLED,
        utmContent: NOT_FILLED,
        visitDate,
        utmMedium: NOT_FILLED,
        source: d.visitSource,
        medium: 'organic',
        keyword: NOT_SET,
        utmCampaign: NOT_FILLED,
      }
    case VISIT_SOCIAL:
      return {
        utmSource: 'vk',
        additionalTags: [],
        utmTerm: NOT_FILLED,
        utmContent: d.content < 0 ? NOT_FILLED : `post_${d.content}`,
        visitDate,
        utmMedium: 'social',
        source: 'vk',
        medium: 'social',
        keyword: NOT_SET,
        utmCampaign: d.visitCampaign,
      }
    default:
      return {
        utmSource: d.visitSource,
        additionalTags: [],
        utmTerm: d.termFilled ? d.visitKeyword : NOT_FILLED,
        utmContent: d.content < 0 ? NOT_FILLED : `ad_${d.content}`,
        visitDate,
        utmMedium: 'cpc',
        source: d.visitSource,
        medium: 'cpc',
        keyword: d.keywordSet ? d.visitKeyword : NOT_SET,
        utmCampaign: d.visitCampaign,
      }
  }
}

function customOf(d: DealDraws): Record<string, string> | undefined {
  if (d.cost === undefined && d.discount === undefined && d.margin === undefined && d.code === undefined)
    return undefined
  const custom: Record<string, string> = {}
  if (d.cost !== undefined) custom['Себестоимость'] = String(d.cost)
  if (d.discount !== undefined) custom['Скидка'] = String(d.discount)
  if (d.margin !== undefined) custom['Маржа'] = String(d.margin)
  if (d.code !== undefined) custom['Код_1С'] = d.code
  return custom
}

const scratch = new DealDraws()

/** One generated deal; a pure function of its arguments. */
export function generateDeal(seed: number, site: ResolvedSiteConfig, dayNumber: number, index: number): GeneratedDeal {
  const d = scratch
  drawDeal(d, seed, site, dayNumber, index)
  const serial = serialOf(dayNumber, index)
  const clientPhone = phoneText(d.phoneDigits)
  const orderSource: CallOrderSource | RequestOrderSource = d.isCall
    ? {
        callId: d.leadSerial + 1,
        duration: d.duration,
        phoneNumber: trackingNumberOf(seed, site.siteId, d.leadChannel),
        type: 'CALL',
        ani: clientPhone,
        dateCall: formatCalltouchDateTime(d.leadWallMs),
      }
    : { requestNumber: String(orderSourceRequestNumberOf(d.leadSerial, d.numberless)), type: 'REQUEST' }
  return {
    dayNumber,
    index,
    orderNumber: orderNumberOf(seed, site.siteId, dayNumber, index),
    orderWallMs: d.orderWallMs,
    orderDate: formatCalltouchDateTime(d.orderWallMs),
    orderId: serial + 3,
    client: { phones: clientPhone, fio: d.fio },
    manager: d.manager,
    orderOrigin: d.orderOrigin,
    orderSource,
    service: d.service,
    plannedAmount: d.plannedAmount,
    visit: visitOf(d),
    funnel: d.funnel,
    tags: d.tags.slice(0, d.tagCount),
    custom: customOf(d),
    inProgressWallMs: d.inProgressWallMs,
    outcome: d.outcome,
    closedWallMs: d.closedWallMs,
    completedAmount: d.completedAmount,
    closingTags: d.closingTag === null ? [] : [d.closingTag],
    deletedWallMs: d.deletedWallMs,
    vanishedWallMs: d.vanishedWallMs,
  }
}

/** All generated deals of a day, in index order (unsorted, including future and vanished ones). */
export function generateDay(seed: number, site: ResolvedSiteConfig, dayNumber: number): GeneratedDeal[] {
  const count = dealCountOn(seed, site, dayNumber)
  const deals = new Array<GeneratedDeal>(count)
  for (let index = 0; index < count; index++) deals[index] = generateDeal(seed, site, dayNumber, index)
  return deals
}

/** Whether a generated deal is in the export at a clock (its order time has come and it has not vanished). */
export function isVisible(deal: GeneratedDeal, clockWallMs: number): boolean {
  return deal.orderWallMs <= clockWallMs && deal.vanishedWallMs > clockWallMs
}

/** The record of a generated deal as the export serves it at a clock. */
export function renderGeneratedDeal(deal: GeneratedDeal, clockWallMs: number): DealRecord {
  const closed = deal.closedWallMs <= clockWallMs
  const status = closed ? deal.outcome : deal.inProgressWallMs <= clockWallMs ? 'in_progress' : 'start'
  const tags = closed && deal.closingTags.length > 0 ? [...deal.tags, ...deal.closingTags] : deal.tags
  const record: DealRecord = {
    client: deal.client,
    completedAmount: closed && deal.outcome === 'final' ? deal.completedAmount : null,
    completedDate: closed ? formatCalltouchDate(Math.floor(deal.closedWallMs / MS_PER_DAY)) : null,
    createdDate: formatCalltouchDate(deal.dayNumber),
    funnel: deal.funnel,
    isDeleted: deal.deletedWallMs <= clockWallMs,
    manager: deal.manager,
    orderDate: deal.orderDate,
    orderId: deal.orderId,
    orderNumber: deal.orderNumber,
    orderOrigin: deal.orderOrigin,
    orderSource: deal.orderSource,
    orderStatus: status,
    plannedAmount: deal.plannedAmount,
    service: deal.service,
    tags: tags.length === 0 ? null : tags,
    visit: deal.visit,
  }
  if (deal.custom !== undefined) record.custom = deal.custom
  return record
}
