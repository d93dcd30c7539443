import type { Logger } from '../core/logger.ts'
import type { HttpResponseBytes } from './fetch-bytes.ts'
import { createHttpClient, type HttpClient } from './http-client.ts'
import { HttpRequestError, type HttpRequestErrorOptions } from './http-request-error.ts'
import { createRequestLimiter, type RequestLimiter, type RequestLimiterConfig } from './request-limiter.ts'
import type { ProbeOutcome } from '../core/probe.ts'
import { messageOf } from '../core/errors.ts'
import { redact } from '../core/secrets.ts'

/**
 * What every Calltouch source shares (deals, calls, requests): one request budget, one retry
 * rule, one reading of refusals. Here, below the sources, because a source never imports a
 * sibling (.dependency-cruiser.mjs).
 */

/** The vendor allows 5 requests a second per IP (deals export page, last paragraph; LEADS-API.md §0). */
export const CALLTOUCH_MAX_REQUESTS_PER_SECOND = 5

/**
 * The request budget of every Calltouch request of the process, whatever its
 * host (api.calltouch.ru or a node's) or stream (deals, calls, requests): the vendor counts
 * 5 a second per IP (shared/calltouch/API.md, Limits; LEADS-API.md §0), so they share one limiter.
 */
export const CALLTOUCH_REQUEST_BUDGET = 'calltouch'

/** The limiter settings of {@link CALLTOUCH_REQUEST_BUDGET}; a setting above the vendor's limit is lowered to it. */
export function calltouchRequestBudget(requestsPerSecond: number): RequestLimiterConfig {
  return { requestsPerSecond, maxRequestsPerSecond: CALLTOUCH_MAX_REQUESTS_PER_SECOND }
}

/**
 * A failed Calltouch request: a refused answer or one that is not what was asked for (the
 * http layer's own failures, no answer or a stopped run, are HttpRequestErrors).
 */
export class CalltouchRequestError extends HttpRequestError {
  constructor(message: string, kind: 'status' | 'invalid-body', options: HttpRequestErrorOptions = {}) {
    super(message, kind, options)
    this.name = 'CalltouchRequestError'
  }
}

/**
 * Calltouch's retry rule (API.md, Limits and errors; LEADS-API.md §0): 429, 5xx, no answer and
 * a body that does not parse are worth repeating; other 4xx fail at once.
 */
export function isRetryableCalltouchFailure(error: HttpRequestError): boolean {
  if (error.kind !== 'status') return true
  const status = error.status ?? 0
  return status === 429 || status >= 500
}

/** A refusal of the site itself (wrong token or site id): every other request of the site would get the same. */
export function isCalltouchSiteRefusal(error: unknown): error is CalltouchRequestError {
  return error instanceof CalltouchRequestError && (error.status === 401 || error.status === 403)
}

/** The body of a 200; any other status becomes a CalltouchRequestError in the API's own words. */
export function calltouchOkBody(response: HttpResponseBytes, what: string): Buffer {
  const { status, body } = response
  if (status === 200) return body
  if (status === 429) throw new CalltouchRequestError(`${what}: HTTP 429, over the rate limit`, 'status', { response })
  if (status >= 500) throw new CalltouchRequestError(`${what}: HTTP ${status} from Calltouch`, 'status', { response })
  const hint = status === 403 ? ' — check the site id and its API token' : ''
  const answer = `Calltouch answered HTTP ${status}: ${calltouchErrorMessage(body.toString('utf8'))}${hint}`
  throw new CalltouchRequestError(`${what}: ${answer}`, 'status', { response, answer })
}

/** The API's own words: 403 `{message}`, other 4xx `{data: {apiErrorData: {errorMessage}}}`. */
export function calltouchErrorMessage(body: string): string {
  try {
    const json = JSON.parse(body) as {
      message?: unknown
      data?: { apiErrorData?: { errorMessage?: unknown; errorCode?: unknown } }
    }
    const apiError = json.data?.apiErrorData
    if (typeof apiError?.errorMessage === 'string')
      return apiError.errorCode === undefined
        ? apiError.errorMessage
        : `${apiError.errorMessage} (error code ${JSON.stringify(apiError.errorCode)})`
    if (typeof json.message === 'string') return json.message
  } catch {
    // Not JSON: the start of the text says more than nothing.
  }
  return body.slice(0, 200).replace(/\s+/g, ' ').trim() || '(empty answer)'
}

/** What every Calltouch client of one site sends its requests through. */
export interface CalltouchHttpConfig {
  readonly siteId: number
  /** The limiter of {@link CALLTOUCH_REQUEST_BUDGET}: every Calltouch endpoint shares it. */
  readonly limiter: RequestLimiter
  readonly timeoutMs: number
  readonly maxRetries: number
  readonly logger?: Logger | undefined
  readonly minRetryDelayMs?: number | undefined
  readonly signal?: AbortSignal | undefined
  readonly fetch?: typeof fetch | undefined
}

/** The HTTP client of one site's Calltouch requests (deals, calls, requests): Calltouch's retry rule, the site in every log line. */
export function createCalltouchHttpClient(config: CalltouchHttpConfig): HttpClient {
  return createHttpClient({
    limiter: config.limiter,
    timeoutMs: config.timeoutMs,
    maxRetries: config.maxRetries,
    shouldRetry: isRetryableCalltouchFailure,
    logger: config.logger,
    logContext: { siteId: config.siteId },
    minRetryDelayMs: config.minRetryDelayMs,
    signal: config.signal,
    ...(config.fetch ? { fetch: config.fetch } : {}),
  })
}

/**
 * One probe of a Calltouch endpoint (`check`): `ask` gets a limiter of its own at the configured
 * rate; its detail is the outcome, or its failure, redacted, on one line. Never throws.
 *
 * @example
 * const outcome = await probeCalltouch(settings, async (limiter) => `answers (${await count(limiter)})`)
 */
export async function probeCalltouch(
  settings: { readonly requestsPerSecond: number },
  ask: (limiter: RequestLimiter) => Promise<string>,
): Promise<ProbeOutcome> {
  const limiter = createRequestLimiter(calltouchRequestBudget(settings.requestsPerSecond))
  try {
    return { ok: true, detail: await ask(limiter) }
  } catch (error) {
    return { ok: false, error: redact(messageOf(error)) }
  } finally {
    await limiter.stop()
  }
}
