import { isUtf8 } from 'node:buffer'
import type { Day } from '../../core/day.ts'
import type { Logger } from '../../core/logger.ts'
import { calltouchOkBody, CalltouchRequestError, createCalltouchHttpClient } from '../../http/calltouch-api.ts'
import type { HttpClient } from '../../http/http-client.ts'
import { REQUEST_PRIORITIES, type RequestLimiter, type RequestPriority } from '../../http/request-limiter.ts'
import { formatCallsJournalDate, formatRequestsJournalDate } from './lead-dates.ts'

/** The calls journal pages at most 1000 records (LEADS-API.md §1.1); fewer pages, fewer API points. */
export const CALLS_PAGE_LIMIT = 1000

/**
 * How many times a window is read again from page 1 because `recordsTotal` changed between its
 * pages (calls keep arriving for today, LEADS-API.md §1.2), before the window fails.
 */
export const MAX_CALLS_WINDOW_REREADS = 2

/** The vendor's host; the leads journals need no node discovery (LEADS-API.md §0: newer clients dropped it). */
export const DEFAULT_LEADS_BASE_URL = 'https://api.calltouch.ru'

/** A body exactly as received (UTF-8 bytes, never re-serialized: ids above 2^53 must not pass through a JS number). */
export type LeadsBody = Uint8Array

/** One page of the calls journal. */
export interface CallsPage {
  readonly body: LeadsBody
  readonly page: number
  /** Pages of the window; 1 for an unpaged answer (a bare array). */
  readonly pageTotal: number
  readonly recordsTotal: number
  /** Records on this page. */
  readonly records: number
}

/** Every page of a calls window, read completely, and what reading it cost. */
export interface CallsWindow {
  readonly bodies: readonly LeadsBody[]
  readonly recordsTotal: number
  /** Requests made (retries of one request not counted: the limiter counts those). */
  readonly requests: number
}

/** A calls window read whole, or stopped after its first page because it is too big to read at once. */
export type CallsWindowOutcome =
  | ({ readonly kind: 'read' } & CallsWindow)
  | { readonly kind: 'too-big'; readonly recordsTotal: number; readonly requests: number }

/** The requests journal's answer for one day: always a bare array (LEADS-API.md §2.2). */
export interface RequestsDay {
  readonly body: LeadsBody
  readonly records: number
}

/** Site-local days, inclusive. */
export interface LeadsDateRange {
  readonly dateFrom: Day
  readonly dateTo: Day
}

export interface LeadsClientConfig {
  /** Used as is: {@link DEFAULT_LEADS_BASE_URL}, or the simulator in tests. */
  readonly baseUrl: string
  readonly siteId: number
  readonly token: string
  /** The limiter of the shared Calltouch budget (http/calltouch-api.ts, CALLTOUCH_REQUEST_BUDGET). */
  readonly limiter: RequestLimiter
  readonly timeoutMs: number
  readonly maxRetries: number
  readonly fetch?: typeof fetch
  readonly logger?: Logger
  /** First wait before a retry (default 500 ms); doubled each retry, with jitter. */
  readonly minRetryDelayMs?: number
  readonly signal?: AbortSignal
}

/**
 * Reads a site's calls journal (`calls-diary/calls`, paged, day-first dates) and requests
 * journal (`requests`, a bare array, MONTH-first dates) over the http layer: every request
 * passes the one Calltouch budget's limiter, is retried by Calltouch's rule, and is named in
 * messages without its token (the http layer redacts `clientApiId`).
 *
 * @example
 * const client = new LeadsClient({ baseUrl, siteId: 12345, token, limiter, timeoutMs: 30_000, maxRetries: 6 })
 * const calls = await client.fetchCallsWindow({ dateFrom: '2024-05-01', dateTo: '2024-05-07' })
 * const requests = await client.fetchRequestsDay('2024-05-01')
 */
export class LeadsClient {
  readonly siteId: number
  private readonly config: LeadsClientConfig
  private readonly http: HttpClient

  constructor(config: LeadsClientConfig) {
    this.config = config
    this.siteId = config.siteId
    this.http = createCalltouchHttpClient(config)
  }

  /** The URL of one page of calls; its `clientApiId` is the token, so it never reaches a message unredacted. */
  callsPageUrl(range: LeadsDateRange, page: number): string {
    const query = new URLSearchParams({
      clientApiId: this.config.token,
      dateFrom: formatCallsJournalDate(range.dateFrom),
      dateTo: formatCallsJournalDate(range.dateTo),
      page: String(page),
      limit: String(CALLS_PAGE_LIMIT),
      withCallTags: 'true',
      withOrders: 'true',
      withYandexDirect: 'true',
    })
    return `${this.base()}/calls-service/RestAPI/${this.siteId}/calls-diary/calls?${query.toString()}`
  }

  /** The URL of one day of requests: month-first dates, siteId in the query. */
  requestsDayUrl(day: Day): string {
    const date = formatRequestsJournalDate(day)
    const query = new URLSearchParams({
      clientApiId: this.config.token,
      siteId: String(this.siteId),
      dateFrom: date,
      dateTo: date,
      withRequestTags: 'true',
      withYandexDirect: 'true',
    })
    return `${this.base()}/calls-service/RestAPI/requests?${query.toString()}`
  }

  /** One page of calls whose date falls in `range` (both ends inclusive). */
  async fetchCallsPage(
    range: LeadsDateRange,
    page: number,
    priority: RequestPriority = page === 1 ? REQUEST_PRIORITIES.firstPage : REQUEST_PRIORITIES.laterPage,
  ): Promise<CallsPage> {
    const what = `calls of site ${this.siteId} from ${range.dateFrom} to ${range.dateTo}, page ${page}`
    return this.http.request({
      url: this.callsPageUrl(range, page),
      what,
      priority,
      headers: ACCEPT_JSON,
      read: (response) => parseCallsPage(calltouchOkBody(response, what), page, what),
    })
  }

  /**
   * Every page of a calls window: page 1 first (it tells `recordsTotal`, and `onFirstPage` may
   * stop the read there, to cut the window smaller), then pages 2..N at once, so the limiter
   * keeps the budget busy. Never asks for more pages than `recordsTotal` needs at page 1's size
   * (`pageTotal` is not trusted: what it is for an empty result, 0 or 1, is not documented). A read is torn when a page disagrees on
   * `recordsTotal` or the pages do not add up to it (calls keep arriving for today, LEADS-API.md
   * §1.2): it is read again from page 1, at most {@link MAX_CALLS_WINDOW_REREADS} times.
   */
  async fetchCallsWindow(
    range: LeadsDateRange,
    options: { readonly onFirstPage?: (recordsTotal: number) => 'continue' | 'too-big' } = {},
  ): Promise<CallsWindowOutcome> {
    let requests = 0
    for (let read = 0; ; read++) {
      const first = await this.fetchCallsPage(range, 1)
      requests++
      if (options.onFirstPage?.(first.recordsTotal) === 'too-big')
        return { kind: 'too-big', recordsTotal: first.recordsTotal, requests }
      // Page 1's size is the page size the API uses (1000 asked; a smaller cap still reads every call).
      const lastPage = first.records === 0 ? 1 : Math.ceil(first.recordsTotal / first.records)
      const rest = await Promise.all(
        Array.from({ length: Math.max(0, lastPage - 1) }, (_, index) => this.fetchCallsPage(range, index + 2)),
      )
      requests += rest.length
      const pages = [first, ...rest]
      const received = pages.reduce((sum, page) => sum + page.records, 0)
      const whole = pages.every((page) => page.recordsTotal === first.recordsTotal) && received === first.recordsTotal
      if (whole)
        return { kind: 'read', bodies: pages.map((page) => page.body), recordsTotal: first.recordsTotal, requests }
      if (read >= MAX_CALLS_WINDOW_REREADS) {
        throw new CalltouchRequestError(
          `calls of site ${this.siteId} from ${range.dateFrom} to ${range.dateTo} changed while being read (${received} calls received, recordsTotal ${first.recordsTotal}), ${read + 1} reads in a row; the next run reads the window again`,
          'invalid-body',
        )
      }
    }
  }

  /** The requests created on `day` (site-local), in one request: the journal has no paging. */
  async fetchRequestsDay(day: Day): Promise<RequestsDay> {
    const what = `requests of site ${this.siteId} on ${day}`
    return this.http.request({
      url: this.requestsDayUrl(day),
      what,
      priority: REQUEST_PRIORITIES.firstPage,
      headers: ACCEPT_JSON,
      read: (response) => parseRequestsDay(calltouchOkBody(response, what), what),
    })
  }

  private base(): string {
    return this.config.baseUrl.replace(/\/+$/, '')
  }
}

const ACCEPT_JSON = { accept: 'application/json' } as const

/** A calls page: the paged envelope, or a bare array (the unpaged shape, one day), told apart by JSON type. */
function parseCallsPage(bytes: Buffer, page: number, what: string): CallsPage {
  const json = parseJson(bytes, what)
  const body = utf8Body(bytes)
  if (Array.isArray(json)) return { body, page, pageTotal: 1, recordsTotal: json.length, records: json.length }
  const envelope = (json ?? {}) as { page?: unknown; pageTotal?: unknown; recordsTotal?: unknown; records?: unknown }
  if (typeof json !== 'object' || json === null || !Array.isArray(envelope.records)) {
    throw new CalltouchRequestError(`${what}: the answer is not a page of calls (no records array)`, 'invalid-body')
  }
  const records = envelope.records.length
  return {
    body,
    page: typeof envelope.page === 'number' ? envelope.page : page,
    pageTotal: typeof envelope.pageTotal === 'number' ? envelope.pageTotal : 0,
    recordsTotal: typeof envelope.recordsTotal === 'number' ? envelope.recordsTotal : records,
    records,
  }
}

function parseRequestsDay(bytes: Buffer, what: string): RequestsDay {
  const json = parseJson(bytes, what)
  if (!Array.isArray(json)) {
    throw new CalltouchRequestError(`${what}: the answer is not an array of requests`, 'invalid-body')
  }
  return { body: utf8Body(bytes), records: json.length }
}

/** A body that does not parse is retried, never half-loaded (LEADS-API.md §0). */
function parseJson(bytes: Buffer, what: string): unknown {
  const text = bytes.toString('utf8')
  try {
    return JSON.parse(text) as unknown
  } catch (error) {
    throw new CalltouchRequestError(
      `${what}: the answer is not JSON (${text.length} characters, perhaps cut off)`,
      'invalid-body',
      { cause: error },
    )
  }
}

/** Bytes that are not UTF-8 are kept as read (U+FFFD in their place), as PostgreSQL refuses them. */
function utf8Body(bytes: Buffer): Buffer {
  return isUtf8(bytes) ? bytes : Buffer.from(bytes.toString('utf8'), 'utf8')
}
