/**
 * The calls journal, `GET /calls-service/RestAPI/{siteId}/calls-diary/calls`
 * (LEADS-API.md §1): its query, and a call as it serves it at a clock.
 */
import { isVisible, renderGeneratedDeal } from './deal-generator.ts'
import { epochMsOfWall, type DirectIds, type GeneratedLead } from './lead-generator.ts'
import { fail, flag, LEADS_ERROR_CODES, parseRange, type LeadsError, type WallRange } from './lead-query.ts'
import { MAX_PAGE_LIMIT } from './simulator-options.ts'
import { formatCalltouchDateTime, parseCalltouchDate } from './wall-clock.ts'

/** `callTags[]` / `RequestTags[]` entry. */
export interface LeadTag {
  category: string
  type: string
  names: string[]
}

/** `orders[]` entry of a call (with `withOrders=true`): the deals made from it. */
export interface CallOrder {
  orderId: number
  orderNumber: string
  orderDate: string
  createdDate: string
  completedDate: string | null
  plannedAmount: number | null
  completedAmount: number | null
}

/** One call as the journal serves it; keys in the order they are written. */
export interface CallRecord {
  callId: number
  /** 'dd/mm/yyyy hh:mm:ss', site-local. */
  date: string
  /** Epoch **seconds**. */
  timestamp: number
  duration: number
  waitingConnect: number
  successful: boolean
  uniqueCall: boolean
  targetCall: boolean
  uniqTargetCall: boolean
  callbackCall: boolean
  attribution: number
  source: string | null
  medium: string | null
  keyword: string | null
  utmSource: string | null
  utmMedium: string | null
  utmCampaign: string | null
  utmContent: string | null
  utmTerm: string | null
  sessionId: number
  url: string | null
  hostname: string
  city: string
  callerNumber: string
  phoneNumber: string
  siteId: number
  /** With `withCallTags=true`. */
  callTags?: LeadTag[]
  /** With `withOrders=true`. */
  orders?: CallOrder[]
  /** With `withYandexDirect=true`; null when the call is not from Direct. */
  yandexDirect?: DirectIds | null
}

/** Optional blocks of a call (the journal's `with*` switches). */
export interface CallBlocks {
  withCallTags?: boolean
  withOrders?: boolean
  withYandexDirect?: boolean
}

/** A parsed, valid calls-journal request. */
export interface CallsQuery {
  paging: { page: number; limit: number } | undefined
  range: WallRange
  uniqueOnly: boolean
  targetOnly: boolean
  uniqTargetOnly: boolean
  callbackOnly: boolean
  blocks: Required<CallBlocks>
}

function positiveInteger(text: string): number | undefined {
  return /^\d{1,9}$/.test(text) && Number(text) >= 1 ? Number(text) : undefined
}

/** Validates a calls-journal query: `dd/mm/yyyy` dates, one day unless paged, `limit` ≤ 1000. */
export function parseCallsQuery(params: URLSearchParams): { query: CallsQuery } | { error: LeadsError } {
  let paging: CallsQuery['paging']
  const pageText = params.get('page')
  if (pageText !== null) {
    const limitText = params.get('limit')
    const page = positiveInteger(pageText)
    const limit = limitText === null ? MAX_PAGE_LIMIT : positiveInteger(limitText)
    if (page === undefined || limit === undefined)
      return fail(LEADS_ERROR_CODES.badPaging, 'Параметры page и limit должны быть целыми числами больше 0')
    if (limit > MAX_PAGE_LIMIT)
      return fail(LEADS_ERROR_CODES.limitTooLarge, `Параметр limit не может быть больше ${MAX_PAGE_LIMIT}`)
    paging = { page, limit }
  }
  const parsed = parseRange(params, parseCalltouchDate, 'dd/mm/yyyy')
  if ('error' in parsed) return parsed
  if (paging === undefined && parsed.range.fromDay !== parsed.range.toDay)
    return fail(
      LEADS_ERROR_CODES.paginationRequired,
      'Без постраничной выгрузки можно выбрать только один день: dateFrom должен совпадать с dateTo',
    )
  return {
    query: {
      paging,
      range: parsed.range,
      uniqueOnly: flag(params, 'uniqueOnly'),
      targetOnly: flag(params, 'targetOnly'),
      uniqTargetOnly: flag(params, 'uniqTargetOnly'),
      callbackOnly: flag(params, 'callbackOnly'),
      blocks: {
        withCallTags: flag(params, 'withCallTags'),
        withOrders: flag(params, 'withOrders'),
        withYandexDirect: flag(params, 'withYandexDirect'),
      },
    },
  }
}

/** Whether a call passes the query's flag filters at a clock. */
export function callMatches(lead: GeneratedLead, query: CallsQuery, clockWallMs: number): boolean {
  const target = lead.targetWallMs <= clockWallMs
  if (query.uniqueOnly && !lead.unique) return false
  if (query.targetOnly && !target) return false
  if (query.uniqTargetOnly && !(lead.unique && target)) return false
  if (query.callbackOnly && !lead.callback) return false
  return true
}

/** The tags of a lead at a clock, as `callTags` / `RequestTags`. */
export function leadTagsAt(lead: GeneratedLead, clockWallMs: number): LeadTag[] {
  const names = lead.lateTag !== null && lead.lateTagWallMs <= clockWallMs ? [...lead.tags, lead.lateTag] : lead.tags
  return names.length === 0 ? [] : [{ category: 'Пользовательские', type: 'manual', names: [...names] }]
}

/** The site's landing page of a lead's visit. */
export function landingUrl(hostname: string, lead: GeneratedLead): string | null {
  const visit = lead.visit
  if (visit === null || visit.source === null) return null
  return visit.medium === 'cpc' || visit.medium === 'social'
    ? `https://${hostname}/?utm_source=${encodeURIComponent(visit.utmSource ?? '')}&utm_medium=${visit.medium}`
    : `https://${hostname}/`
}

/** The tracked domain of a site. */
export function hostnameOf(siteId: number): string {
  return `site${siteId}.example.ru`
}

/** A call as the journal serves it at a clock (wall milliseconds of the site's zone). */
export function renderCall(
  lead: GeneratedLead,
  siteId: number,
  clockWallMs: number,
  timeZone: string,
  blocks: CallBlocks,
): CallRecord {
  const target = lead.targetWallMs <= clockWallMs
  const visit = lead.visit
  const hostname = hostnameOf(siteId)
  const record: CallRecord = {
    callId: lead.id,
    date: formatCalltouchDateTime(lead.wallMs),
    timestamp: Math.floor(epochMsOfWall(lead.wallMs, timeZone) / 1000),
    duration: lead.duration,
    waitingConnect: lead.successful ? lead.waitingConnect : 0,
    successful: lead.successful,
    uniqueCall: lead.unique,
    targetCall: target,
    uniqTargetCall: lead.unique && target,
    callbackCall: lead.callback,
    attribution: 1,
    source: visit?.source ?? null,
    medium: visit?.medium ?? null,
    keyword: visit?.keyword ?? null,
    utmSource: visit?.utmSource ?? null,
    utmMedium: visit?.utmMedium ?? null,
    utmCampaign: visit?.utmCampaign ?? null,
    utmContent: visit?.utmContent ?? null,
    utmTerm: visit?.utmTerm ?? null,
    sessionId: lead.sessionId,
    url: landingUrl(hostname, lead),
    hostname,
    city: lead.city,
    callerNumber: lead.callerPhone,
    phoneNumber: lead.trackingNumber,
    siteId,
  }
  if (blocks.withCallTags === true) record.callTags = leadTagsAt(lead, clockWallMs)
  if (blocks.withOrders === true) {
    const orders: CallOrder[] = []
    for (const deal of lead.deals) {
      if (!isVisible(deal, clockWallMs)) continue
      const r = renderGeneratedDeal(deal, clockWallMs)
      orders.push({
        orderId: r.orderId,
        orderNumber: r.orderNumber,
        orderDate: r.orderDate,
        createdDate: r.createdDate,
        completedDate: r.completedDate,
        plannedAmount: r.plannedAmount,
        completedAmount: r.completedAmount,
      })
    }
    record.orders = orders
  }
  if (blocks.withYandexDirect === true) record.yandexDirect = lead.direct
  return record
}
