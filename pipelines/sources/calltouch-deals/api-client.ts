import { isUtf8 } from 'node:buffer'
import pRetry from 'p-retry'
import { EtlError, messageOf } from '../../core/errors.ts'
import type { Logger } from '../../core/logger.ts'
import { redact } from '../../core/secrets.ts'
import { DEFAULT_BASE_URL } from '../../core/site-config.ts'
import { formatDealsExportDate, type Day } from './calltouch-dates.ts'
import { REQUEST_PRIORITIES, type RequestLimiter, type RequestPriority } from '../../http/request-limiter.ts'

/** The deals export pages at most 1000 records (vendor page); fewer pages means fewer API points. */
export const PAGE_LIMIT = 1000

/** First wait before a retry; doubled each time, with jitter, up to {@link MAX_RETRY_DELAY_MS}. */
const MIN_RETRY_DELAY_MS = 500
const MAX_RETRY_DELAY_MS = 15_000
/** A Retry-After longer than this is not waited for in full (a nightly run must end). */
const MAX_RETRY_AFTER_MS = 60_000

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

/** Whether a failed request is worth repeating. */
type Retryable = { readonly retryable: true; readonly retryAfterMs?: number | undefined } | { readonly retryable: false }

/** A failed request, described without the token; `retry` tells p-retry what to do. */
export class CalltouchRequestError extends EtlError {
  readonly retry: Retryable
  readonly status: number | undefined
  /** What the API answered, without which request it was (for a refusal that applies to every request of the site). */
  readonly answer: string | undefined

  constructor(message: string, retry: Retryable, options: { status?: number; cause?: unknown; answer?: string } = {}) {
    super('API', redact(message), { cause: options.cause, context: { status: options.status } })
    this.name = 'CalltouchRequestError'
    this.retry = retry
    this.status = options.status
    this.answer = options.answer === undefined ? undefined : redact(options.answer)
  }
}

/**
 * Reads the deals export of one site. Every request passes the process's one
 * limiter, has its own timeout (body included), and is retried with
 * exponential backoff and jitter after a 429 (honouring Retry-After), a 5xx, a
 * network error, a timeout or a body that does not parse. Other 4xx fail at
 * once with the API's own message. Errors never contain the token.
 *
 * @example
 * const client = new CalltouchClient({ baseUrl, siteId: 12345, token, limiter, timeoutMs: 30_000, maxRetries: 6 })
 * const first = await client.fetchOrdersPage({ dateFrom: '2026-11-01', dateTo: '2026-11-03' }, 1)
 */
export class CalltouchClient {
  readonly siteId: number
  private readonly config: CalltouchClientConfig
  private readonly fetch: typeof fetch
  private apiBase: Promise<string> | undefined

  constructor(config: CalltouchClientConfig) {
    this.config = config
    this.siteId = config.siteId
    this.fetch = config.fetch ?? globalThis.fetch
  }

  /** One page of deals whose orderDate falls in `range` (the API decides whether dateTo is included). */
  async fetchOrdersPage(range: DateRange, page: number, priority: RequestPriority = page === 1 ? REQUEST_PRIORITIES.firstPage : REQUEST_PRIORITIES.laterPage): Promise<OrdersPage> {
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
    return this.withRetries(what, priority, url, async (signal) => {
      return parseOrdersPage(await this.getBody(url, what, signal), page, what)
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
    try {
      const nodeId = await this.withRetries(`the API node of site ${this.siteId}`, REQUEST_PRIORITIES.discovery, url, async (signal) => {
        const body = JSON.parse((await this.getBody(url, `the API node of site ${this.siteId}`, signal)).toString('utf8')) as { nodeId?: unknown }
        return body.nodeId
      }, 1)
      if (typeof nodeId === 'number' && Number.isInteger(nodeId) && nodeId > 0) return nodeBaseUrl(nodeId).replace(/\/+$/, '')
    } catch (error) {
      this.config.logger?.warn({ siteId: this.siteId, err: messageOf(error) }, `node discovery failed for site ${this.siteId}; using ${base}`)
    }
    return base
  }

  private async withRetries<T>(what: string, priority: RequestPriority, url: string, attempt: (signal: AbortSignal) => Promise<T>, maxRetries = this.config.maxRetries): Promise<T> {
    const { limiter, timeoutMs, logger, signal: stop } = this.config
    return pRetry(
      () => limiter.schedule(priority, url, () => attempt(stop ? AbortSignal.any([AbortSignal.timeout(timeoutMs), stop]) : AbortSignal.timeout(timeoutMs))),
      {
        ...(stop ? { signal: stop } : {}),
        retries: maxRetries,
        factor: 2,
        minTimeout: this.config.minRetryDelayMs ?? MIN_RETRY_DELAY_MS,
        maxTimeout: MAX_RETRY_DELAY_MS,
        randomize: true,
        shouldRetry: ({ error }) => stop?.aborted !== true && (!(error instanceof CalltouchRequestError) || error.retry.retryable),
        onFailedAttempt: async ({ error, attemptNumber, retriesLeft }) => {
          const retry = error instanceof CalltouchRequestError ? error.retry : undefined
          if (retry?.retryable !== true || retriesLeft === 0) return
          limiter.countRetry()
          logger?.warn({ siteId: this.siteId, attempt: attemptNumber, err: redact(error.message) }, `retrying ${what}`)
          // p-retry's own backoff follows; a Retry-After asks for at least this much.
          if (retry.retryAfterMs !== undefined) await sleep(Math.min(retry.retryAfterMs, MAX_RETRY_AFTER_MS))
        },
      },
    ).catch((error: unknown) => {
      if (error instanceof CalltouchRequestError) throw error
      throw new CalltouchRequestError(`${what}: ${messageOf(error)}`, { retryable: false }, { cause: error })
    })
  }

  /** GET `url` and read its body's bytes within the signal's time; turns every failure into a CalltouchRequestError. */
  private async getBody(url: string, what: string, signal: AbortSignal): Promise<Buffer> {
    let response: Response
    let body: Buffer
    try {
      response = await this.fetch(url, { signal, headers: { accept: 'application/json' } })
      body = Buffer.from(await response.arrayBuffer())
    } catch (error) {
      if (this.config.signal?.aborted) throw new CalltouchRequestError(`${what}: interrupted, the run is stopping`, { retryable: false }, { cause: error })
      const reason = signal.aborted ? `no answer within ${this.config.timeoutMs} ms` : `network error (${networkCause(error)})`
      throw new CalltouchRequestError(`${what}: ${reason}`, { retryable: true }, { cause: error })
    }
    if (response.status === 200) return body
    const status = response.status
    if (status === 429) {
      throw new CalltouchRequestError(`${what}: HTTP 429, over the rate limit`, { retryable: true, retryAfterMs: retryAfterMs(response.headers.get('retry-after')) }, { status })
    }
    if (status >= 500) throw new CalltouchRequestError(`${what}: HTTP ${status} from Calltouch`, { retryable: true }, { status })
    const hint = status === 403 ? ' — check the site id and its API token' : ''
    const answer = `Calltouch answered HTTP ${status}: ${apiErrorMessage(body.toString('utf8'))}${hint}`
    throw new CalltouchRequestError(`${what}: ${answer}`, { retryable: false }, { status, answer })
  }
}

/** Validates a page's envelope; a body that does not parse is retried, never half-loaded. */
function parseOrdersPage(bytes: Buffer, page: number, what: string): OrdersPage {
  const text = bytes.toString('utf8')
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    throw new CalltouchRequestError(`${what}: the answer is not JSON (${text.length} characters, perhaps cut off)`, { retryable: true }, { cause: error })
  }
  const envelope = json as { page?: unknown; pageTotal?: unknown; recordsTotal?: unknown; records?: unknown }
  if (typeof json !== 'object' || json === null || !Array.isArray(envelope.records) || typeof envelope.recordsTotal !== 'number') {
    throw new CalltouchRequestError(`${what}: the answer is not a page of deals (no records array or recordsTotal)`, { retryable: true })
  }
  const records = envelope.records as unknown[]
  const orderDays = new Set<string>()
  const recordKeys = records.map((record, index) => {
    const { orderNumber, orderDate } = (record ?? {}) as { orderNumber?: unknown; orderDate?: unknown }
    if (typeof orderDate === 'string') orderDays.add(orderDate.slice(0, 10))
    return typeof orderNumber === 'string' || typeof orderNumber === 'number' ? String(orderNumber) : `\u0000no-order-number:${page}:${index}`
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

/** The API's own words: 403 `{message}`, other 4xx `{data: {apiErrorData: {errorMessage}}}`. */
function apiErrorMessage(body: string): string {
  try {
    const json = JSON.parse(body) as { message?: unknown; data?: { apiErrorData?: { errorMessage?: unknown; errorCode?: unknown } } }
    const apiError = json.data?.apiErrorData
    if (typeof apiError?.errorMessage === 'string') return apiError.errorCode === undefined ? apiError.errorMessage : `${apiError.errorMessage} (error code ${String(apiError.errorCode)})`
    if (typeof json.message === 'string') return json.message
  } catch {
    // Not JSON: the start of the text says more than nothing.
  }
  return body.slice(0, 200).replace(/\s+/g, ' ').trim() || '(empty answer)'
}

/** Retry-After as seconds or as an HTTP date. */
function retryAfterMs(header: string | null): number | undefined {
  if (header === null) return undefined
  const seconds = Number(header)
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000
  const at = Date.parse(header)
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now())
}

/** undici hides the reason (ECONNRESET, "other side closed") in `cause`. */
function networkCause(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error
  const code = (cause as { code?: unknown } | null)?.code
  return typeof code === 'string' ? `${code}: ${messageOf(cause)}` : messageOf(cause)
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
