import pRetry from 'p-retry'
import { messageOf } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import { redact } from '../core/secrets.ts'
import { fetchBytes, type HttpResponseBytes } from './fetch-bytes.ts'
import { HttpRequestError } from './http-request-error.ts'
import type { RequestLimiter, RequestPriority } from './request-limiter.ts'

/** First wait before a retry; doubled each time, with jitter, up to {@link MAX_RETRY_DELAY_MS}. */
export const DEFAULT_MIN_RETRY_DELAY_MS = 500
export const MAX_RETRY_DELAY_MS = 15_000
/** A Retry-After longer than this is not waited for in full (a nightly run must end). */
export const MAX_RETRY_AFTER_MS = 60_000

export interface HttpClientConfig {
  /** The send-time limiter of the API's budget ({@link createRequestLimiters}): every attempt passes it. */
  readonly limiter: RequestLimiter
  /** Per attempt, body included. */
  readonly timeoutMs: number
  /** Attempts after the first, at most. */
  readonly maxRetries: number
  /** The source's rule: which failures are worth repeating (a `stopped` one never is). */
  readonly shouldRetry: (error: HttpRequestError) => boolean
  readonly fetch?: typeof fetch
  readonly logger?: Logger | undefined
  /** Identifiers added to every log line (`{ siteId }`). */
  readonly logContext?: Readonly<Record<string, unknown>>
  readonly minRetryDelayMs?: number | undefined
  /** Aborts requests in flight and stops retrying, when the run is being stopped (SIGTERM to `schedule`). */
  readonly signal?: AbortSignal | undefined
}

export interface HttpRequest<T> {
  readonly url: string
  /** What is asked for, in words (`deals of site 12345 from … page 2`): every message starts with it. */
  readonly what: string
  readonly priority: RequestPriority
  readonly method?: 'GET' | 'POST'
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: string | Uint8Array
  /** Overrides the client's for one request (node discovery tries twice at most). */
  readonly maxRetries?: number
  /**
   * Turns an answer of any status into the result, or throws an
   * {@link HttpRequestError} (`status`, `invalid-body`) that the source's
   * `shouldRetry` judges. Runs inside the attempt, so a body that does not
   * parse is retried like a failed request.
   */
  readonly read: (response: HttpResponseBytes) => T
}

/** One API's requests; the limiter it was given counts them and their retries. */
export interface HttpClient {
  request<T>(request: HttpRequest<T>): Promise<T>
}

/**
 * Sends requests through the limiter with a timeout each and retries them with
 * p-retry: exponential backoff with jitter from `minRetryDelayMs` up to
 * {@link MAX_RETRY_DELAY_MS}, waiting at least what `Retry-After` asks (up to
 * {@link MAX_RETRY_AFTER_MS}). Every retry is counted on the limiter and
 * logged; every error that leaves is an {@link HttpRequestError} without secrets.
 *
 * @example
 * const http = createHttpClient({ limiter, timeoutMs: 30_000, maxRetries: 6, shouldRetry: (error) => error.kind !== 'status' })
 * const text = await http.request({ url, what: 'report 7', priority: REQUEST_PRIORITIES.firstPage, read: ({ body }) => body.toString('utf8') })
 */
export function createHttpClient(config: HttpClientConfig): HttpClient {
  const { limiter, timeoutMs, logger, signal: stop } = config
  const worthRetrying = (error: unknown): boolean =>
    !(error instanceof HttpRequestError) || (error.kind !== 'stopped' && config.shouldRetry(error))
  return {
    request<T>(request: HttpRequest<T>): Promise<T> {
      const { url, what } = request
      const attempt = async (): Promise<T> => {
        const response = await fetchBytes(url, {
          what,
          timeoutMs,
          stop,
          fetch: config.fetch,
          method: request.method,
          headers: request.headers,
          body: request.body,
        })
        return request.read(response)
      }
      return pRetry(() => limiter.schedule(request.priority, url, attempt), {
        ...(stop ? { signal: stop } : {}),
        retries: request.maxRetries ?? config.maxRetries,
        factor: 2,
        minTimeout: config.minRetryDelayMs ?? DEFAULT_MIN_RETRY_DELAY_MS,
        maxTimeout: MAX_RETRY_DELAY_MS,
        randomize: true,
        shouldRetry: ({ error }) => stop?.aborted !== true && worthRetrying(error),
        onFailedAttempt: async ({ error, attemptNumber, retriesLeft }) => {
          // Only a failure the source judged retryable is a retry to count and log; anything else thrown by `read` is repeated quietly, as before the layer existed.
          if (!(error instanceof HttpRequestError) || !worthRetrying(error) || retriesLeft === 0) return
          limiter.countRetry()
          logger?.warn({ ...config.logContext, attempt: attemptNumber, err: redact(error.message) }, `retrying ${what}`)
          // p-retry's own backoff follows; a Retry-After asks for at least this much.
          if (error.retryAfterMs !== undefined) await sleep(Math.min(error.retryAfterMs, MAX_RETRY_AFTER_MS))
        },
      }).catch((error: unknown) => {
        if (error instanceof HttpRequestError) throw error
        // What else ends the retries: the run's stop (p-retry throws its reason) or a body `read` could not take.
        throw new HttpRequestError(
          `${what}: ${messageOf(error)}`,
          stop?.aborted === true ? 'stopped' : 'invalid-body',
          { cause: error },
        )
      })
    },
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
