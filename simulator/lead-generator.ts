/**
 * Generates a site's leads — calls and requests ("заявки") — for one day, as a
 * pure function of (seed, site, dayNumber). Two kinds of lead:
 *
 * - **linked**: the lead behind a generated deal (`orderSource.callId` or
 *   `requestNumber`), at the deal's lead time (`DealDraws.leadWallMs`, up to 600 s
 *   before its orderDate, so a deal just after midnight has its lead the day
 *   before). Read from the deal generator's own draws, never changing them; the
 *   lead's other values come from a separate stream keyed by the deal. About 1
 *   deal in 20 names instead the lead of an earlier deal (`sharedLeadDayOf`: the
 *   same client buying again 1–20 days later), so that lead has two deals.
 * - **unlinked**: leads without a deal, from their own stream, enough of them
 *   that the day has about `callsPerDay` calls and `requestsPerDay` requests.
 *
 * Nothing here depends on the clock: a {@link GeneratedLead} carries its future
 * (when it becomes target, when a late tag is added) and is rendered at a clock
 * by calls-journal.ts and requests-journal.ts.
 */
import { DateTime } from 'luxon'
import {
  daysSharingLeadOf,
  dealCountOn,
  dealRandom,
  DealDraws,
  drawDeal,
  drawOrderWallMs,
  generateDeal,
  linkedRequestIdOf,
  NOT_FILLED,
  NOT_SET,
  phoneText,
  serialOf,
  VISIT_DIRECT,
  type GeneratedDeal,
} from './deal-generator.ts'
import type { DealVisit } from './deal-record.ts'
import { createRandom, hash32, unitHash, weightedChoice, type Random } from './prng.ts'
import type { ResolvedSiteConfig } from './simulator-options.ts'
import { formatCalltouchDateTime, isoWeekday, MS_PER_DAY, MS_PER_SECOND } from './wall-clock.ts'
import { DEFAULT_DIRECT_CAMPAIGNS } from './yandex-direct/yandex-direct-options.ts'

/** `yandexDirect` block of a lead: ids of the Direct ad that brought it. */
export interface DirectIds {
  campaignId: number
  adGroupId: number
  adId: number
  criteriaId: number
}

/** A lead with its whole future; times are site-local wall milliseconds. */
export interface GeneratedLead {
  kind: 'call' | 'request'
  dayNumber: number
  /** `callId` of a call, `requestId` of a request. */
  id: number
  /** `requestNumber` of a request (the site's own id; '' for calls). */
  requestNumber: string
  wallMs: number
  callerPhone: string
  fio: string | null
  email: string | null
  clientId: number
  visit: DealVisit | null
  sessionId: number
  /** Wall time of the attributed visit, or null when there is none. */
  sessionWallMs: number | null
  city: string
  /** The tracking number dialled (calls). */
  trackingNumber: string
  duration: number
  waitingConnect: number
  successful: boolean
  callback: boolean
  unique: boolean
  /** When the lead becomes target (Infinity: never); equal to wallMs when target from the start. */
  targetWallMs: number
  /** Tags from the start. */
  tags: readonly string[]
  /** A tag added later (a deep refresh's catch), or null. */
  lateTag: string | null
  lateTagWallMs: number
  subject: string
  manager: string | null
  direct: DirectIds | null
  /** The generated deals made from this lead, oldest first: none, one, or (a client buying again) more. */
  deals: GeneratedDeal[]
}

/** Both journals of a day, each sorted by time then id. */
export interface LeadDay {
  calls: GeneratedLead[]
  requests: GeneratedLead[]
}

/** Salts of the leads' own streams (the deal generator uses 1–8). */
const SALT = { linked: 41, call: 42, request: 43, count: 44, countRoll: 45, direct: 46 } as const
/** Ids of leads without a deal: far above every deal serial (dayNumber × 400 000 + index). */
const UNLINKED_ID_BASE = 20_000_000_000
const UNLINKED_IDS_PER_DAY = 1_000_000
/** Share of unlinked requests whose site sent no number: requestNumber is requestId as text (LEADS-API.md §4 GUESS). */
const NUMBERLESS_REQUEST_SHARE = 0.1

const WEEKDAY_FACTOR = [1.1, 1.2, 1.15, 1.1, 1.0, 0.8, 0.65] as const
const HOURS = weightedChoice(
  [1, 0.5, 0.3, 0.2, 0.2, 0.3, 1, 3, 7, 10, 11, 11, 10, 10, 10, 10, 9, 8, 7, 5, 4, 3, 2, 1.5].map(
    (weight, hour) => [hour, weight] as const,
  ),
)
type Channel = 'yandex_cpc' | 'google_cpc' | 'direct' | 'organic' | 'social'
const CHANNELS = weightedChoice<Channel>([
  ['yandex_cpc', 34],
  ['google_cpc', 12],
  ['direct', 20],
  ['organic', 22],
  ['social', 12],
])
/** The deal generator's campaign names (so unlinked leads fall on the same campaigns as deals). */
const CAMPAIGNS: Record<'yandex_cpc' | 'google_cpc' | 'social', readonly string[]> = {
  yandex_cpc: ['brand_moscow', 'poisk_remont_kvartir', 'rsya_retarget', 'Поиск | Москва | Ремонт'],
  google_cpc: ['search_brand', 'pmax_moscow', 'Поиск — Ремонт'],
  social: ['vk_lookalike', 'vk_retarget_осень', 'vk_promo'],
}
const KEYWORDS = [
  'ремонт квартир',
  'ремонт квартир под ключ цена',
  'дизайн интерьера москва',
  'натяжные потолки',
  'купить кухню недорого',
  'укладка плитки',
] as const
/** Yandex Direct campaign ids by the name deals and leads carry in utmCampaign (the Direct simulator's defaults). */
const DIRECT_CAMPAIGN_IDS = new Map(DEFAULT_DIRECT_CAMPAIGNS.map((c) => [c.name, c.id]))
const CLIENT_NAMES = [
  'Вася',
  'Иван Петрович',
  'Мария Ковалёва',
  'Пётр Сидоров',
  'Екатерина',
  'Артём Фёдоров',
  'Наталья Юрьевна',
  'Игорь',
  'Светлана Орлова',
] as const
const MAIL_NAMES = ['ivan', 'maria.k', 'petr.sidorov', 'katya', 'artem.f', 'natalia', 'igor77', 'sveta.orlova'] as const
const MAIL_HOSTS = ['mail.ru', 'yandex.ru', 'gmail.com'] as const
const CITIES = ['Москва', 'Москва', 'Москва', 'Химки', 'Подольск', 'Санкт-Петербург', 'Казань'] as const
const SUBJECTS = ['Обратный звонок', 'Заявка на замер', 'Расчёт стоимости', 'Онлайн-чат'] as const
const MANAGERS = ['Анна Смирнова', 'Коля', 'Дмитрий Петров', 'Елена Кузнецова'] as const
const TAGS = ['первичный', 'повторный', 'спам', 'не дозвонились', 'консультация'] as const
const LATE_TAGS = ['квалифицирован', 'отказ клиента', 'дубль'] as const

/** A call or request serial of a day without a deal. */
function unlinkedId(dayNumber: number, kind: 'call' | 'request', k: number): number {
  return UNLINKED_ID_BASE + dayNumber * UNLINKED_IDS_PER_DAY + (kind === 'call' ? 0 : UNLINKED_IDS_PER_DAY / 2) + k
}

/** A `visit`-shaped attribution drawn for a lead without a deal, as the deal generator writes its visits. */
function drawVisit(random: Random, leadWallMs: number): { visit: DealVisit | null; sessionWallMs: number | null } {
  const channel = random.weighted(CHANNELS)
  if (random.chance(0.06)) return { visit: null, sessionWallMs: null }
  const sessionWallMs = leadWallMs - random.int(10, 1800) * MS_PER_SECOND
  const visitDate = formatCalltouchDateTime(sessionWallMs)
  const base = { additionalTags: [], visitDate }
  switch (channel) {
    case 'direct':
      return {
        visit: {
          ...base,
          utmSource: '',
          utmTerm: '',
          utmContent: '',
          utmMedium: '',
          source: '(direct)',
          medium: '(none)',
          keyword: NOT_SET,
          utmCampaign: '',
        },
        sessionWallMs,
      }
    case 'organic':
      return {
        visit: {
          ...base,
          utmSource: NOT_FILLED,
          utmTerm: NOT_FILLED,
          utmContent: NOT_FILLED,
          utmMedium: NOT_FILLED,
          source: random.chance(0.75) ? 'yandex' : 'google',
          medium: 'organic',
          keyword: NOT_SET,
          utmCampaign: NOT_FILLED,
        },
        sessionWallMs,
      }
    case 'social':
      return {
        visit: {
          ...base,
          utmSource: 'vk',
          utmTerm: NOT_FILLED,
          utmContent: `post_${random.int(100, 999)}`,
          utmMedium: 'social',
          source: 'vk',
          medium: 'social',
          keyword: NOT_SET,
          utmCampaign: random.pick(CAMPAIGNS.social),
        },
        sessionWallMs,
      }
    default: {
      const source = channel === 'yandex_cpc' ? 'yandex' : 'google'
      const keyword = random.pick(KEYWORDS)
      return {
        visit: {
          ...base,
          utmSource: source,
          utmTerm: keyword,
          utmContent: `ad_${random.int(1_000_000, 9_999_999)}`,
          utmMedium: 'cpc',
          source,
          medium: 'cpc',
          keyword,
          utmCampaign: random.pick(CAMPAIGNS[channel]),
        },
        sessionWallMs,
      }
    }
  }
}

/** The Direct ids of a lead from yandex/cpc on a known campaign, else null. */
function directIdsOf(seed: number, visit: DealVisit | null, leadId: number): DirectIds | null {
  if (visit === null || visit.source !== 'yandex' || visit.medium !== 'cpc') return null
  const campaignId = DIRECT_CAMPAIGN_IDS.get(visit.utmCampaign ?? '')
  if (campaignId === undefined) return null
  const group = hash32(seed, campaignId, leadId, SALT.direct) % 20
  return {
    campaignId,
    adGroupId: 5_000_000_000 + campaignId * 20 + group,
    adId: 15_000_000_000 + (hash32(seed, campaignId, group, 1) % 1_000_000_000),
    criteriaId: 40_000_000_000 + (hash32(seed, campaignId, leadId, 2) % 1_000_000_000),
  }
}

/** Draws everything a lead has besides its id, time, visit and deal. */
function drawLeadRest(
  random: Random,
  kind: 'call' | 'request',
  wallMs: number,
  linked: boolean,
): Pick<
  GeneratedLead,
  | 'fio'
  | 'email'
  | 'city'
  | 'waitingConnect'
  | 'callback'
  | 'unique'
  | 'targetWallMs'
  | 'tags'
  | 'lateTag'
  | 'lateTagWallMs'
  | 'subject'
  | 'manager'
> {
  const unique = random.chance(linked ? 0.8 : 0.65)
  const target = random.chance(linked ? 0.9 : 0.35)
  // Half of the target leads are marked target later (a person listens to the call, a CRM rule runs).
  const targetWallMs = !target
    ? Infinity
    : random.chance(0.5)
      ? wallMs
      : wallMs + random.int(3600, 10 * 86_400) * MS_PER_SECOND
  const tags = random.chance(0.3) ? [random.pick(TAGS)] : []
  const late = random.chance(0.25)
  const lateTag = late ? random.pick(LATE_TAGS) : null
  const lateTagWallMs = late ? wallMs + random.int(1, 45) * MS_PER_DAY : Infinity
  const fio = random.chance(kind === 'request' ? 0.8 : 0.3) ? random.pick(CLIENT_NAMES) : null
  const email =
    kind === 'request' && random.chance(0.5) ? `${random.pick(MAIL_NAMES)}@${random.pick(MAIL_HOSTS)}` : null
  return {
    fio,
    email,
    city: random.pick(CITIES),
    waitingConnect: random.int(2, 40),
    callback: kind === 'call' && random.chance(0.05),
    unique,
    targetWallMs,
    tags,
    lateTag,
    lateTagWallMs,
    subject: random.pick(SUBJECTS),
    manager: random.chance(0.5) ? random.pick(MANAGERS) : null,
  }
}

function trackingNumber(seed: number, siteId: number, visit: DealVisit | null): string {
  const key = visit === null ? 0 : hash32(visit.source?.length ?? 0, visit.medium?.length ?? 0)
  return `7495${String(hash32(seed, siteId, key, 7) % 10_000_000).padStart(7, '0')}`
}

const draws = new DealDraws()

/**
 * The journal's requestNumber of a request behind a numberless deal (the site sent none, so the deal
 * names the requestId): a value Calltouch generated, never the requestId, so only the digest's
 * requestId fallback links the two (LEADS-API.md §4, the other GUESS).
 */
function generatedRequestNumber(requestId: number): string {
  return `ct-${requestId.toString(36)}`
}

/** The leads behind the generated deals of `dealDay` whose lead time falls on `dayNumber` (with every deal naming each). */
function linkedLeads(seed: number, site: ResolvedSiteConfig, dayNumber: number, dealDay: number, out: LeadDay): void {
  const count = dealCountOn(seed, site, dealDay)
  for (let index = 0; index < count; index++) {
    if (dealDay !== dayNumber) {
      // Only a deal in the first 10 minutes of the next day can have its lead today: its first two draws tell.
      const orderWallMs = drawOrderWallMs(dealRandom(seed, site.siteId, dealDay, index), dealDay)
      if (orderWallMs - 600 * MS_PER_SECOND >= dealDay * MS_PER_DAY) continue
    }
    drawDeal(draws, seed, site, dealDay, index)
    // A deal naming an earlier deal's lead has none of its own.
    if (draws.leadSerial !== serialOf(dealDay, index)) continue
    if (Math.floor(draws.leadWallMs / MS_PER_DAY) !== dayNumber) continue
    const deal = generateDeal(seed, site, dealDay, index)
    const random = createRandom(seed, site.siteId, dealDay, index, SALT.linked)
    const kind = draws.isCall ? 'call' : 'request'
    const source = deal.orderSource
    const id =
      source.type === 'CALL' ? (source.callId as number) : linkedRequestIdOf(draws.leadSerial, draws.numberless)
    const rest = drawLeadRest(random, kind, draws.leadWallMs, true)
    const deals = [deal]
    for (const day of daysSharingLeadOf(seed, site, dealDay, index)) deals.push(generateDeal(seed, site, day, index))
    const lead: GeneratedLead = {
      kind,
      dayNumber,
      id,
      requestNumber:
        source.type === 'CALL' ? '' : draws.numberless ? generatedRequestNumber(id) : (source.requestNumber as string),
      wallMs: draws.leadWallMs,
      callerPhone: deal.client.phones,
      ...rest,
      fio: deal.client.fio ?? rest.fio,
      clientId: 4_000_000 + (hash32(seed, site.siteId, draws.phoneDigits) % 90_000_000),
      visit: deal.visit,
      sessionId: 1_000_000_000 + (hash32(seed, site.siteId, id, 3) % 1_000_000_000),
      sessionWallMs: draws.visitKind >= VISIT_DIRECT ? draws.visitWallMs : null,
      trackingNumber: source.type === 'CALL' ? (source.phoneNumber as string) : '',
      duration: draws.isCall ? draws.duration : 0,
      successful: !draws.isCall || draws.duration > 0,
      direct: directIdsOf(seed, deal.visit, id),
      deals,
    }
    ;(kind === 'call' ? out.calls : out.requests).push(lead)
  }
}

/** How many leads without a deal a day has: the rest of the day's mean after the deals' leads. */
function unlinkedCount(
  seed: number,
  site: ResolvedSiteConfig,
  dayNumber: number,
  kind: 'call' | 'request',
  linked: number,
): number {
  if (dayNumber < site.historyStartDay) return 0
  const perDay = kind === 'call' ? site.callsPerDay : site.requestsPerDay
  const salt = kind === 'call' ? 0 : 1
  const weekday = WEEKDAY_FACTOR[isoWeekday(dayNumber) - 1] ?? 1
  const noise = 0.8 + 0.4 * unitHash(seed, site.siteId, dayNumber, SALT.count, salt)
  const mean = perDay * weekday * noise - linked
  if (mean <= 0) return 0
  return Math.min(
    UNLINKED_IDS_PER_DAY / 2 - 1,
    Math.floor(mean + unitHash(seed, site.siteId, dayNumber, SALT.countRoll, salt)),
  )
}

function unlinkedLead(
  seed: number,
  site: ResolvedSiteConfig,
  dayNumber: number,
  kind: 'call' | 'request',
  k: number,
): GeneratedLead {
  const random = createRandom(seed, site.siteId, dayNumber, k, kind === 'call' ? SALT.call : SALT.request)
  const wallMs = dayNumber * MS_PER_DAY + (random.weighted(HOURS) * 3600 + random.int(0, 3599)) * MS_PER_SECOND
  const id = unlinkedId(dayNumber, kind, k)
  const phoneDigits = random.int(0, 999_999_999)
  const { visit, sessionWallMs } = drawVisit(random, wallMs)
  const successful = kind === 'request' || random.chance(0.85)
  const duration = kind === 'call' && successful ? random.int(5, 600) : 0
  const numberless = kind === 'request' && random.chance(NUMBERLESS_REQUEST_SHARE)
  return {
    kind,
    dayNumber,
    id,
    requestNumber:
      kind === 'call' ? '' : numberless ? String(id) : `W-${(id - UNLINKED_ID_BASE).toString(36).toUpperCase()}`,
    wallMs,
    callerPhone: phoneText(phoneDigits),
    ...drawLeadRest(random, kind, wallMs, false),
    clientId: 4_000_000 + (hash32(seed, site.siteId, phoneDigits) % 90_000_000),
    visit,
    sessionId: 1_000_000_000 + (hash32(seed, site.siteId, id, 3) % 1_000_000_000),
    sessionWallMs,
    trackingNumber: kind === 'call' ? trackingNumber(seed, site.siteId, visit) : '',
    duration,
    successful,
    direct: directIdsOf(seed, visit, id),
    deals: [],
  }
}

function byTimeThenId(a: GeneratedLead, b: GeneratedLead): number {
  return a.wallMs - b.wallMs || a.id - b.id
}

/** Both journals of a site's day, regardless of the clock (future leads included). */
export function generateLeadDay(seed: number, site: ResolvedSiteConfig, dayNumber: number): LeadDay {
  const out: LeadDay = { calls: [], requests: [] }
  linkedLeads(seed, site, dayNumber, dayNumber, out)
  linkedLeads(seed, site, dayNumber, dayNumber + 1, out)
  for (const kind of ['call', 'request'] as const) {
    const list = kind === 'call' ? out.calls : out.requests
    const n = unlinkedCount(seed, site, dayNumber, kind, list.length)
    for (let k = 0; k < n; k++) list.push(unlinkedLead(seed, site, dayNumber, kind, k))
    list.sort(byTimeThenId)
  }
  return out
}

/** Epoch milliseconds of a site-local wall time (the journals' `timestamp` and `date`). */
export function epochMsOfWall(wallMs: number, timeZone: string): number {
  const hour = Math.floor(wallMs / 3_600_000)
  const key = `${timeZone}|${hour}`
  let offsetMs = offsets.get(key)
  if (offsetMs === undefined) {
    const guess = wallMs - DateTime.fromMillis(wallMs, { zone: timeZone }).offset * 60_000
    offsetMs = DateTime.fromMillis(guess, { zone: timeZone }).offset * 60_000
    if (offsets.size > 50_000) offsets.clear()
    offsets.set(key, offsetMs)
  }
  return wallMs - offsetMs
}
const offsets = new Map<string, number>()
