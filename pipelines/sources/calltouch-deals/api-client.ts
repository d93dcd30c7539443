import { isUtf8 } from 'node:buffer'
import { messageOf } from '../../core/errors.ts'
import type { Logger } from '../../core/logger.ts'
import type { HttpClient } from '../../http/http-client.ts'
import {
  calltouchOkBody as okBody,
  CalltouchRequestError,
  createCalltouchHttpClient,
} from '../../http/calltouch-api.ts'
import { REQUEST_PRIORITIES, type RequestLimiter, type RequestPriority } from '../../http/request-limiter.ts'
import type { Day } from '../../core/day.ts'
import { formatDealsExportDate } from './calltouch-dates.ts'
import { DEFAULT_BASE_URL } from './config.ts'

// Shared with every Calltouch source (http/calltouch-api.ts); named here too for the deals' callers.
export {
  CALLTOUCH_REQUEST_BUDGET,
  calltouchRequestBudget,
  CalltouchRequestError,
  isRetryableCalltouchFailure,
} from '../../http/calltouch-api.ts'

/** The deals export pages at most 1000 records (vendor page); fewer pages means fewer API points. */
export const PAGE_LIMIT = 1000

/** One page of the deals export, its body exactly as received. */
export interface OrdersPage {
  /**
   * The response body as the bytes received (UTF-8), never re-serialized: 38-digit custom values
   * must not pass through a JS number. Bytes, not a string: half the size of a JavaScript string
   * of Cyrillic text, and outside the JavaScript heap while the page waits to be loaded.
   */
  readonly body: Uint8Array
  readonly page: number
  readonly pageTotal: number
  readonly recordsTotal: number
  /** The page's records' identities, in order; a record without orderNumber gets a key of its own. */
  readonly recordKeys: readonly string[]
  /** The days (DD/MM/YYYY) the records' orderDate names. */
  readonly orderDays: ReadonlySet<string>
}

/** The dates of a request, site-local, as the API filters orderDate. */
export interface DateRange {
  readonly dateFrom: Day
  readonly dateTo: Day
}

export interface CalltouchClientConfig {
  /** {@link DEFAULT_BASE_URL} asks getnodeid for the site's node; anything else is used as is. */
  readonly baseUrl: string
  readonly siteId: number
  readonly token: string
  /** The limiter of {@link CALLTOUCH_REQUEST_BUDGET}. */
  readonly limiter: RequestLimiter
  readonly timeoutMs: number
  readonly maxRetries: number
  readonly fetch?: typeof fetch
  readonly logger?: Logger
  /** Node discovery, on by default only for {@link DEFAULT_BASE_URL}. */
  readonly discoverNode?: boolean
  /** First wait before a retry (default 500 ms); doubled each retry, with jitter. */
  readonly minRetryDelayMs?: number
  /** The base URL of node N (tests point it at the simulator). */
  readonly nodeBaseUrl?: (nodeId: number) => string
  /** Aborts requests in flight and stops retrying, when the run is being stopped (SIGTERM to `schedule`). */
  readonly signal?: AbortSignal
}

/**
 * Reads the deals export of one site over the http layer, which sends every
 * request through the Calltouch budget's limiter with its own timeout (body
 * included) and retries what {@link isRetryableCalltouchFailure} allows with
 * exponential backoff and jitter, honouring Retry-After. Other 4xx fail at
 * once with the API's own message. Errors never contain the token.
 *
 * @example
 * const client = new CalltouchClient({ baseUrl, siteId: 12345, token, limiter, timeoutMs: 30_000, maxRetries: 6 })
 * const first = await client.fetchOrdersPage({ dateFrom: '2026-11-01', dateTo: '2026-11-03' }, 1)
 */
export class CalltouchClient {
  readonly siteId: number
  private readonly config: CalltouchClientConfig
  private readonly http: HttpClient
  private apiBase: Promise<string> | undefined

  constructor(config: CalltouchClientConfig) {
    this.config = config
    this.siteId = config.siteId
    this.http = createCalltouchHttpClient(config)
  }

  /** One page of deals whose orderDate falls in `range` (the API decides whether dateTo is included). */
  async fetchOrdersPage(
    range: DateRange,
    page: number,
    priority: RequestPriority = page === 1 ? REQUEST_PRIORITIES.firstPage : REQUEST_PRIORITIES.laterPage,
  ): Promise<OrdersPage> {
    const base = await this.resolveApiBase()
    const query = new URLSearchParams({
      clientApiId: this.config.token,
      dateFrom: formatDealsExportDate(range.dateFrom),
      dateTo: formatDealsExportDate(range.dateTo),
      page: String(page),
      limit: String(PAGE_LIMIT),
      withOrdersTags: 'true',
      withAllOrderOrigins: 'true',
    })
    const url = `${base}/calls-service/RestAPI/${this.siteId}/orders-diary/orders?${query.toString()}`
    const what = `deals of site ${this.siteId} from ${range.dateFrom} to ${range.dateTo}, page ${page}`
    return this.http.request({
      url,
      what,
      priority,
      headers: ACCEPT_JSON,
      read: (response) => parseOrdersPage(okBody(response, what), page, what),
    })
  }

  /**
   * The API's base URL for this site: with the vendor's default host, the node
   * `getnodeid` names (the legacy api-node{N} hosts), falling back to the
   * default host when that call does not answer 200 (API.md).
   */
  resolveApiBase(): Promise<string> {
    this.apiBase ??= this.discoverApiBase()
    return this.apiBase
  }

  private async discoverApiBase(): Promise<string> {
    const base = this.config.baseUrl.replace(/\/+$/, '')
    if (!(this.config.discoverNode ?? base === DEFAULT_BASE_URL)) return base
    const nodeBaseUrl = this.config.nodeBaseUrl ?? ((nodeId: number) => `https://api-node${nodeId}.calltouch.ru`)
    const url = `${base}/calls-service/RestAPI/${this.siteId}/getnodeid/`
    const what = `the API node of site ${this.siteId}`
    try {
      const nodeId = await this.http.request({
        url,
        what,
        priority: REQUEST_PRIORITIES.discovery,
        headers: ACCEPT_JSON,
        // One retry: without a node the default host still answers.
        maxRetries: 1,
        read: (response) => (JSON.parse(okBody(response, what).toString('utf8')) as { nodeId?: unknown }).nodeId,
      })
      if (typeof nodeId === 'number' && Number.isInteger(nodeId) && nodeId > 0)
        return nodeBaseUrl(nodeId).replace(/\/+$/, '')
    } catch (error) {
      this.config.logger?.warn(
        { siteId: this.siteId, err: messageOf(error) },
        `node discovery failed for site ${this.siteId}; using ${base}`,
      )
    }
    return base
  }
}

const ACCEPT_JSON = { accept: 'application/json' } as const

/** Validates a page's envelope; a body that does not parse is retried, never half-loaded. */
function parseOrdersPage(bytes: Buffer, page: number, what: string): OrdersPage {
  const text = bytes.toString('utf8')
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    throw new CalltouchRequestError(
      `${what}: the answer is not JSON (${text.length} characters, perhaps cut off)`,
      'invalid-body',
      { cause: error },
    )
  }
  const envelope = json as { page?: unknown; pageTotal?: unknown; recordsTotal?: unknown; records?: unknown }
  if (
    typeof json !== 'object' ||
    json === null ||
    !Array.isArray(envelope.records) ||
    typeof envelope.recordsTotal !== 'number'
  ) {
    throw new CalltouchRequestError(
      `${what}: the answer is not a page of deals (no records array or recordsTotal)`,
      'invalid-body',
    )
  }
  const records = envelope.records as unknown[]
  const orderDays = new Set<string>()
  const recordKeys = records.map((record, index) => {
    const { orderNumber, orderDate } = (record ?? {}) as { orderNumber?: unknown; orderDate?: unknown }
    if (typeof orderDate === 'string') orderDays.add(orderDate.slice(0, 10))
    return typeof orderNumber === 'string' || typeof orderNumber === 'number'
      ? String(orderNumber)
      : `\u0000no-order-number:${page}:${index}`
  })
  return {
    // Bytes that are not UTF-8 are kept as read (U+FFFD in their place), as PostgreSQL refuses them.
    body: isUtf8(bytes) ? bytes : Buffer.from(text, 'utf8'),
    orderDays,
    page: typeof envelope.page === 'number' ? envelope.page : page,
    pageTotal: typeof envelope.pageTotal === 'number' ? envelope.pageTotal : 0,
    recordsTotal: envelope.recordsTotal,
    recordKeys,
  }
}
