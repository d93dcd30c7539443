/**
 * The requests journal, `GET /calls-service/RestAPI/requests?siteId=…`
 * (LEADS-API.md §2): **month-first** query dates, no paging, always a bare array.
 */
import { isVisible, renderGeneratedDeal } from './deal-generator.ts'
import { hostnameOf, landingUrl, leadTagsAt, type LeadTag } from './calls-journal.ts'
import { epochMsOfWall, type DirectIds, type GeneratedLead } from './lead-generator.ts'
import {
  fail,
  flag,
  LEADS_ERROR_CODES,
  parseMonthFirstDate,
  parseRange,
  type LeadsError,
  type WallRange,
} from './lead-query.ts'
import { formatCalltouchDateTime } from './wall-clock.ts'

/** `session`: the visit a request is attributed to (source fields live here, not at the top level). */
export interface RequestSession {
  sessionId: number
  sessionDate: string | null
  source: string | null
  medium: string | null
  /** Plural, unlike the calls' `keyword`. */
  keywords: string | null
  city: string
  url: string | null
  utmSource: string | null
  utmMedium: string | null
  utmCampaign: string | null
  utmContent: string | null
  utmTerm: string | null
}

/** `client`: who sent the request (personal data). */
export interface RequestClient {
  clientId: number
  fio: string | null
  phones: { phoneNumber: string; phoneType: string }[]
  contacts: { contactType: string; contactValue: string }[]
}

/** `orders[]` entry of a request: `sum` is a string, `dateCreated` epoch milliseconds. */
export interface RequestOrder {
  orderId: number
  orderNumber: string
  status: string
  sum: string
  dateCreated: number
}

/** One request as the journal serves it; keys in the order they are written. */
export interface RequestRecord {
  requestId: number
  requestNumber: string
  /** Epoch **milliseconds**. */
  date: number
  /** 'dd/mm/yyyy hh:mm:ss', site-local (day-first, although the query is month-first). */
  dateStr: string
  subject: string
  siteId: number
  manager: string | null
  targetRequest: boolean
  uniqueRequest: boolean
  uniqTargetRequest: boolean
  session: RequestSession
  client: RequestClient
  orders: RequestOrder[]
  /** With `withRequestTags=true` (capital R, as Calltouch spells it). */
  RequestTags?: LeadTag[]
  /** With `withYandexDirect=true`; null when the request is not from Direct. */
  yandexDirect?: DirectIds | null
}

/** Optional blocks of a request. */
export interface RequestBlocks {
  withRequestTags?: boolean
  withYandexDirect?: boolean
}

/** A parsed, valid requests-journal query. */
export interface RequestsQuery {
  siteId: number
  range: WallRange
  blocks: Required<RequestBlocks>
}

/** Validates a requests-journal query: `siteId` required, `mm/dd/yyyy` dates, any range. */
export function parseRequestsQuery(params: URLSearchParams): { query: RequestsQuery } | { error: LeadsError } {
  const siteText = params.get('siteId')
  if (siteText === null || !/^\d{1,12}$/.test(siteText))
    return fail(LEADS_ERROR_CODES.missingSiteId, 'Параметр siteId обязателен')
  const parsed = parseRange(params, parseMonthFirstDate, 'mm/dd/yyyy')
  if ('error' in parsed) return parsed
  return {
    query: {
      siteId: Number(siteText),
      range: parsed.range,
      blocks: {
        withRequestTags: flag(params, 'withRequestTags'),
        withYandexDirect: flag(params, 'withYandexDirect'),
      },
    },
  }
}

/** A request as the journal serves it at a clock (wall milliseconds of the site's zone). */
export function renderRequest(
  lead: GeneratedLead,
  siteId: number,
  clockWallMs: number,
  timeZone: string,
  blocks: RequestBlocks,
): RequestRecord {
  const target = lead.targetWallMs <= clockWallMs
  const visit = lead.visit
  const orders: RequestOrder[] = []
  for (const deal of lead.deals) {
    if (!isVisible(deal, clockWallMs)) continue
    const r = renderGeneratedDeal(deal, clockWallMs)
    orders.push({
      orderId: r.orderId,
      orderNumber: r.orderNumber,
      status: r.orderStatus,
      sum: String(r.completedAmount ?? r.plannedAmount ?? 0),
      dateCreated: epochMsOfWall(deal.orderWallMs, timeZone),
    })
  }
  const record: RequestRecord = {
    requestId: lead.id,
    requestNumber: lead.requestNumber,
    date: epochMsOfWall(lead.wallMs, timeZone),
    dateStr: formatCalltouchDateTime(lead.wallMs),
    subject: lead.subject,
    siteId,
    manager: lead.manager,
    targetRequest: target,
    uniqueRequest: lead.unique,
    uniqTargetRequest: lead.unique && target,
    session: {
      sessionId: lead.sessionId,
      sessionDate: lead.sessionWallMs === null ? null : formatCalltouchDateTime(lead.sessionWallMs),
      source: visit?.source ?? null,
      medium: visit?.medium ?? null,
      keywords: visit?.keyword ?? null,
      city: lead.city,
      url: landingUrl(hostnameOf(siteId), lead),
      utmSource: visit?.utmSource ?? null,
      utmMedium: visit?.utmMedium ?? null,
      utmCampaign: visit?.utmCampaign ?? null,
      utmContent: visit?.utmContent ?? null,
      utmTerm: visit?.utmTerm ?? null,
    },
    client: {
      clientId: lead.clientId,
      fio: lead.fio,
      phones: [{ phoneNumber: lead.callerPhone, phoneType: 'MOBILE' }],
      contacts: lead.email === null ? [] : [{ contactType: 'EMAIL', contactValue: lead.email }],
    },
    orders,
  }
  if (blocks.withRequestTags === true) record.RequestTags = leadTagsAt(lead, clockWallMs)
  if (blocks.withYandexDirect === true) record.yandexDirect = lead.direct
  return record
}
