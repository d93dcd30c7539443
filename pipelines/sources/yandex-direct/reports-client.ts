import { createHash } from 'node:crypto'
import type { Day } from '../../core/day.ts'
import type { Logger } from '../../core/logger.ts'
import type { HttpResponseBytes } from '../../http/fetch-bytes.ts'
import { createHttpClient, DEFAULT_MIN_RETRY_DELAY_MS, type HttpClient } from '../../http/http-client.ts'
import { HttpRequestError } from '../../http/http-request-error.ts'
import type { RequestCounters, RequestLimiter } from '../../http/request-limiter.ts'
import { BACK_OFF_SECONDS, clientLoginSetting, DirectApiError, parseDirectErrorBody, refusal } from './direct-errors.ts'
import { DIRECT_PRIORITIES, type DirectBudget } from './direct-limits.ts'
import { parseReportTsv, REPORT_FIELD_NAMES, ReportTsvError, type ReportRow } from './report-tsv.ts'

/** What a 201/202 waits when it names no `retryIn` (Yandex's own sample, API.md §5). */
export const DEFAULT_RETRY_IN_SECONDS = 60
/** A longer `retryIn` is not waited for in full: the report may be ready sooner, and a poll is cheap. */
export const MAX_RETRY_IN_SECONDS = 180
/** A report not ready this long after its first request is given up for the run (API.md §10: 10–15 min). */
export const DEFAULT_REPORT_TIMEOUT_MS = 15 * 60_000
/** Waits for a limit (9000, 56, 506, 152) before the request is given up. */
export const MAX_BACK_OFFS = 8
/** 502s of one report after which its range is read in halves (a one-day range is only retried). */
export const SPLIT_AFTER_502S = 2
/** Yandex's limit is not documented; the vendor's guess (API.md, Unknowns) is 255. */
export const MAX_REPORT_NAME_LENGTH = 255

/** The test hook of syncYandexDirectAccount: every vendor-driven wait is scaled. */
export interface DirectTiming {
  /** Milliseconds waited per second of `retryIn` or back-off (1000 in production). */
  readonly retryInScaleMs: number
  readonly reportTimeoutMs: number
}

export interface YandexDirectClientConfig {
  readonly baseUrl: string
  readonly token: string
  /** Sent as Client-Login when configured (an agency's token needs it). */
  readonly clientLogin?: string | undefined
  /** Where the account was configured, for the fix in messages. */
  readonly where: string
  readonly budget: DirectBudget
  readonly timeoutMs: number
  readonly maxRetries: number
  readonly timing: DirectTiming
  readonly logger?: Logger | undefined
  readonly signal?: AbortSignal | undefined
  readonly fetch?: typeof fetch | undefined
}

/** The advertiser as Clients.get names it. */
export interface DirectClientInfo {
  readonly login: string
  readonly currency: string
}

/** One report's definition as this source asks it. */
export interface SpendReportRequest {
  readonly firstDay: Day
  /** Inclusive. */
  readonly lastDay: Day
  readonly reportName: string
}

export interface SpendReport {
  readonly rows: ReportRow[]
  /** RequestId of the answer that carried the report. */
  readonly requestId: string | undefined
  /** Requests of this report: the first, the polls, retries and back-offs. */
  readonly requests: number
}

/** The body of a spend report request (API.md §3): money in micros (no returnMoneyInMicros header), net of VAT. */
export function spendReportBody(request: SpendReportRequest): { params: Record<string, unknown> } {
  return {
    params: {
      SelectionCriteria: { DateFrom: request.firstDay, DateTo: request.lastDay },
      FieldNames: [...REPORT_FIELD_NAMES],
      ReportName: request.reportName,
      ReportType: 'CAMPAIGN_PERFORMANCE_REPORT',
      DateRangeType: 'CUSTOM_DATE',
      Format: 'TSV',
      IncludeVAT: 'NO',
    },
  }
}

/**
 * A ReportName unique to the run and the range. Direct keeps a finished report for 5 hours and
 * answers the same name and parameters with it (API.md §5): a name used again by a later run
 * would bring back stale statistics. The hash covers the definition, the advertiser and the run's
 * start, so even two warehouses whose run ids coincide ask for different reports; the name stays
 * the same while one report is polled.
 *
 * @example
 * reportName({ runId: '42', runStartedAt: now, login: 'shop-client', firstDay: '2026-11-01', lastDay: '2026-11-30' })
 * // 'calltouch-etl run 42 2026-11-01..2026-11-30 3f9a0c1d2e'
 */
export function reportName(input: {
  readonly runId: string
  readonly runStartedAt: Date
  readonly login: string
  readonly firstDay: Day
  readonly lastDay: Day
}): string {
  const definition = spendReportBody({ firstDay: input.firstDay, lastDay: input.lastDay, reportName: '' })
  const hash = createHash('sha256')
    .update(JSON.stringify([definition, input.login, input.runStartedAt.toISOString(), input.runId]))
    .digest('hex')
    .slice(0, 10)
  const suffix = ` ${input.firstDay}..${input.lastDay} ${hash}`
  const head = `calltouch-etl run ${input.runId}`
  return `${head.slice(0, MAX_REPORT_NAME_LENGTH - suffix.length)}${suffix}`
}

/** The outcome of one request of a polled exchange. */
type Answer<T> = { readonly done: T } | { readonly waitSeconds: number; readonly why: string }

/**
 * Yandex Direct's Reports and Clients services for one advertiser, over the http layer. Every
 * request passes the token's limiter (20 in any 10 s, polls included) with its own timeout;
 * 500, 502, 52 and 1000–1002 are retried with backoff; 201/202 are polled after `retryIn`; limit
 * refusals (9000, 56, 506, 152) are waited out and sent again; any other refusal is a
 * {@link DirectApiError} in the vendor's words with the fix. Errors and logs never hold the token.
 *
 * @example
 * const client = new YandexDirectClient({ baseUrl, token, where: 'adAccounts[1]', budget: directBudgetFor(token), timeoutMs: 60_000, maxRetries: 5, timing })
 * const report = await client.fetchSpendReport({ firstDay: '2026-11-01', lastDay: '2026-11-30', reportName })
 */
export class YandexDirectClient {
  /** This account's requests and retries (the token's limiter counts every account's). */
  readonly counters: RequestCounters = { requests: 0, retries: 0 }
  private readonly config: YandexDirectClientConfig
  private readonly http: HttpClient
  private readonly baseUrl: string

  constructor(config: YandexDirectClientConfig) {
    this.config = config
    this.baseUrl = config.baseUrl.replace(/\/+$/, '')
    this.http = createHttpClient({
      limiter: countingLimiter(config.budget.limiter, this.counters),
      timeoutMs: config.timeoutMs,
      maxRetries: config.maxRetries,
      shouldRetry: (error) => !(error instanceof DirectApiError) || error.action === 'retry',
      logger: config.logger,
      logContext: config.clientLogin === undefined ? {} : { login: config.clientLogin },
      // Production waits 500 ms first; a test that scales retryIn scales this backoff alike.
      minRetryDelayMs: (DEFAULT_MIN_RETRY_DELAY_MS * config.timing.retryInScaleMs) / 1000,
      signal: config.signal,
      ...(config.fetch === undefined ? {} : { fetch: config.fetch }),
    })
  }

  /** The token's advertiser (or Client-Login's): its login and currency, from Clients.get. */
  async getClientInfo(): Promise<DirectClientInfo> {
    const url = `${this.baseUrl}/json/v5/clients`
    const what = `the Yandex Direct advertiser ${this.config.clientLogin ?? 'of the token'} (Clients.get)`
    const body = JSON.stringify({ method: 'get', params: { FieldNames: ['Login', 'Currency'] } })
    return this.exchange(what, Date.now() + this.config.timing.reportTimeoutMs, () =>
      this.http.request<Answer<DirectClientInfo>>({
        url,
        what,
        priority: DIRECT_PRIORITIES.firstRequest,
        method: 'POST',
        headers: this.headers(),
        body,
        read: (response) => ({ done: this.readClientInfo(response, what) }),
      }),
    )
  }

  /**
   * One spend report: sent, polled while Direct builds it offline, and parsed. Holds one of the
   * token's report slots throughout. The report is given up after `reportTimeoutMs`.
   */
  async fetchSpendReport(request: SpendReportRequest): Promise<SpendReport> {
    const url = `${this.baseUrl}/json/v5/reports`
    const login = this.config.clientLogin ?? 'of the token'
    const what = `Yandex Direct report of ${login} for ${request.firstDay}..${request.lastDay}`
    // The identical body and headers on every poll: that is how Direct finds the report again.
    const body = JSON.stringify(spendReportBody(request))
    const headers = {
      ...this.headers(),
      processingMode: 'auto',
      skipReportHeader: 'true',
      // The summary line is asked for and required: a body cut off cleanly (no content-length) shows only by its absence.
      skipReportSummary: 'false',
    }
    const release = await this.config.budget.reportSlots.acquire(what, this.config.signal)
    const requestsBefore = this.counters.requests
    let badGateways = 0
    let polls = 0
    const read = (response: HttpResponseBytes): Answer<SpendReport> => {
      const requestId = response.headers.get('requestid') ?? undefined
      const { status } = response
      if (status === 200) {
        try {
          return {
            done: {
              rows: parseReportTsv(response.body.toString('utf8'), { requireSummary: true }),
              requestId,
              requests: 0,
            },
          }
        } catch (error) {
          if (!(error instanceof ReportTsvError)) throw error
          throw new DirectApiError(`${what}: the report cannot be read (${error.message}; RequestId ${requestId})`, {
            action: 'retry',
            kind: 'invalid-body',
            response,
            requestId,
            cause: error,
          })
        }
      }
      if (status === 201 || status === 202) {
        polls += 1
        const queue = response.headers.get('reportsinqueue')
        return {
          waitSeconds: retryInSeconds(response.headers.get('retryin')),
          why: `HTTP ${status}, ${status === 201 ? 'queued' : 'building'}${queue === null ? '' : `, ${queue} in the queue`}, RequestId ${requestId}`,
        }
      }
      const error = refusal(response, { what, where: this.config.where })
      if (status === 502 && error.action === 'retry') {
        badGateways += 1
        if (badGateways >= SPLIT_AFTER_502S && request.firstDay < request.lastDay)
          throw new DirectApiError(`${error.message}; ${badGateways} times: the range is read in halves`, {
            action: 'split',
            response,
            errorCode: error.errorCode,
            requestId: error.requestId,
          })
      }
      throw error
    }
    try {
      const deadline = Date.now() + this.config.timing.reportTimeoutMs
      const report = await this.exchange(what, deadline, () =>
        this.http.request({
          url,
          what,
          priority: polls === 0 ? DIRECT_PRIORITIES.firstRequest : DIRECT_PRIORITIES.poll,
          method: 'POST',
          headers,
          body,
          read,
        }),
      )
      return { ...report, requests: this.counters.requests - requestsBefore }
    } finally {
      release()
    }
  }

  private headers(): Record<string, string> {
    return {
      authorization: `Bearer ${this.config.token}`,
      'accept-language': 'en',
      'content-type': 'application/json; charset=utf-8',
      ...(this.config.clientLogin === undefined ? {} : { 'client-login': this.config.clientLogin }),
    }
  }

  /**
   * Sends `send` until it is done: after a 201/202 it waits `retryIn`, after a limit's refusal its
   * back-off, each wait cut short at `deadline`, after which the exchange fails for this run.
   */
  private async exchange<T>(what: string, deadline: number, send: () => Promise<Answer<T>>): Promise<T> {
    const { retryInScaleMs } = this.config.timing
    let backOffs = 0
    let waits = 0
    for (;;) {
      let answer: Answer<T>
      try {
        answer = await send()
      } catch (error) {
        if (!(error instanceof DirectApiError) || error.action !== 'back-off') throw error
        backOffs += 1
        if (backOffs > MAX_BACK_OFFS)
          throw new DirectApiError(`${error.message}; still refused after ${MAX_BACK_OFFS} waits`, {
            action: 'fail-range',
            errorCode: error.errorCode,
            requestId: error.requestId,
          })
        this.config.budget.limiter.countRetry()
        this.counters.retries += 1
        answer = { waitSeconds: BACK_OFF_SECONDS[error.errorCode ?? 0] ?? DEFAULT_RETRY_IN_SECONDS, why: error.message }
      }
      if ('done' in answer) return answer.done
      const remainingMs = deadline - Date.now()
      if (remainingMs <= 0)
        throw new DirectApiError(
          `${what}: not ready within ${duration(this.config.timing.reportTimeoutMs)} (${waits} waits; last answer ${answer.why}); the range is read again by the next run`,
          { action: 'fail-range' },
        )
      waits += 1
      const waitMs = Math.min(answer.waitSeconds * retryInScaleMs, remainingMs)
      this.config.logger?.debug({ login: this.config.clientLogin, waitMs }, `${what}: ${answer.why}; asking again`)
      await sleep(waitMs, what, this.config.signal)
    }
  }

  private readClientInfo(response: HttpResponseBytes, what: string): DirectClientInfo {
    const requestId = response.headers.get('requestid') ?? undefined
    // The JSON services answer a refusal as an error object, often with HTTP 200.
    if (response.status !== 200 || parseDirectErrorBody(response.body) !== undefined)
      throw refusal(response, { what, where: this.config.where })
    let client: { Login?: unknown; Currency?: unknown } | undefined
    try {
      const json = JSON.parse(response.body.toString('utf8')) as { result?: { Clients?: unknown[] } }
      client = json.result?.Clients?.[0] as typeof client
    } catch (error) {
      throw new DirectApiError(`${what}: the answer is not JSON (RequestId ${requestId})`, {
        action: 'retry',
        kind: 'invalid-body',
        response,
        requestId,
        cause: error,
      })
    }
    const login = client?.Login
    const currency = client?.Currency
    if (typeof login !== 'string' || login === '' || typeof currency !== 'string' || !/^[A-Z]{3}$/.test(currency))
      throw new DirectApiError(
        `${what}: the answer names no client with a Login and a three-letter Currency (RequestId ${requestId}); set ${clientLoginSetting(this.config.where)} and the account's currency`,
        { action: 'fail-account', kind: 'invalid-body', response, requestId },
      )
    return { login, currency }
  }
}

/** `retryIn` in seconds: the default when absent or unreadable, at least 1, at most {@link MAX_RETRY_IN_SECONDS}. */
export function retryInSeconds(header: string | null): number {
  const seconds = header === null || !/^\s*\d+\s*$/.test(header) ? DEFAULT_RETRY_IN_SECONDS : Number(header)
  return Math.min(Math.max(seconds, 1), MAX_RETRY_IN_SECONDS)
}

/** The token's limiter, counting this account's share of its requests and retries too. */
function countingLimiter(shared: RequestLimiter, counters: RequestCounters): RequestLimiter {
  return {
    counters,
    schedule(priority, url, request) {
      return shared.schedule(priority, url, () => {
        counters.requests += 1
        return request()
      })
    },
    countRetry() {
      counters.retries += 1
      shared.countRetry()
    },
    waiting: () => shared.waiting(),
    // The token's limiter outlives one account.
    stop: () => Promise.resolve(),
  }
}

/** `15 min`, `90 s`, `250 ms`: a timeout as people write it. */
function duration(ms: number): string {
  if (ms >= 120_000 && ms % 60_000 === 0) return `${ms / 60_000} min`
  return ms >= 10_000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`
}

/** Waits `ms`; a stopped run ends the wait as a `stopped` failure. */
function sleep(ms: number, what: string, stop: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const stopped = (): void => {
      clearTimeout(timer)
      reject(new HttpRequestError(`${what}: interrupted, the run is stopping`, 'stopped'))
    }
    const timer = setTimeout(() => {
      stop?.removeEventListener('abort', stopped)
      resolve()
    }, ms)
    if (stop?.aborted === true) stopped()
    else stop?.addEventListener('abort', stopped, { once: true })
  })
}
