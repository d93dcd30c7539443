import type { Day } from '../../core/day.ts'
import type { Logger } from '../../core/logger.ts'
import { registerSecret } from '../../core/secrets.ts'
import type { HttpResponseBytes } from '../../http/fetch-bytes.ts'
import { createHttpClient, type HttpClient } from '../../http/http-client.ts'
import { HttpRequestError } from '../../http/http-request-error.ts'
import { REQUEST_PRIORITIES } from '../../http/request-limiter.ts'
import type { CampaignDayStats } from '../../warehouse/campaign-stats.ts'
import { parseTokenGrant, VkAdsTokenStore, type VkAdsTokenEndpoint, type VkAdsTokenGrant } from './token-store.ts'
import {
  ACCOUNT_STOP_CODES,
  describeVkError,
  MAX_RATE_LIMIT_WAIT_MS,
  rateLimitWaitMs,
  TOKEN_REPLACEMENT_CODES,
  VkAdsAccountError,
  VkAdsApiError,
  vkErrorOf,
  withRetryAfter,
} from './vk-ads-errors.ts'
import type { VkAdsLimiter } from './vk-ads-limiter.ts'
import { parseCount, parseMoneyMicros } from './vk-ads-money.ts'

/** Lists page at most 50 items ([DOC] "Стандарты API"; one client uses 250, the docs say 50). */
export const AD_PLANS_PAGE_LIMIT = 50
/** Ids per statistics request: the docs allow 200, a third-party client splits at 50; 50 is safe with both (§4.1). */
export const STATISTICS_MAX_IDS = 50
/** Days per statistics request: ≤ 90 is safe with the 92 one client uses (§4.1). */
export const STATISTICS_MAX_DAYS = 90
/** A list longer than this many pages is a server that never ends it. */
const MAX_LIST_PAGES = 2000

/** One ad plan (a "campaign" in the VK Ads UI) with its name at read time. */
export interface VkAdPlan {
  readonly id: string
  readonly name: string
  readonly status: string
}

export interface VkAdsClientConfig {
  /** `https://ads.vk.com` or the simulator's URL. */
  readonly baseUrl: string
  readonly clientId: string
  readonly clientSecret: string
  /** Where the token state file lives (see token-store.ts). */
  readonly stateDir: string
  /** The account's own limiter: VK counts per user. */
  readonly limiter: VkAdsLimiter
  readonly timeoutMs: number
  /** Retries of a GET after a 429, a 5xx, no answer or a cut-off body. */
  readonly maxRetries: number
  /** The run's clock, for token expiry. */
  readonly clock: () => Date
  readonly fetch?: typeof fetch | undefined
  readonly logger?: Logger | undefined
  readonly signal?: AbortSignal | undefined
  readonly minRetryDelayMs?: number | undefined
}

/**
 * One VK Ads account over the http layer: every call signed `Authorization: Bearer` with the
 * stored token (token-store.ts), replayed once with a new token after a 401 `invalid_token` or
 * `expired_token`; `invalid_client`, `invalid_user`, `revoked_token` and a used-up hourly or daily
 * limit stop the account ({@link VkAdsAccountError}, one line with the fix). GETs are retried after
 * a 429 (waiting for `Retry-After`, else the window VK says is used up), a 5xx, no answer or a
 * cut-off body; a mint is retried only after a 429, since a lost answer may have taken a token.
 *
 * @example
 * const client = new VkAdsClient({ baseUrl, clientId, clientSecret, stateDir, limiter, timeoutMs: 60_000, maxRetries: 5, clock })
 * const plans = await client.listAdPlans()
 */
export class VkAdsClient {
  readonly tokens: VkAdsTokenStore
  private readonly config: VkAdsClientConfig
  private readonly base: string
  /** GETs and refreshes: repeating them changes nothing at VK. */
  private readonly http: HttpClient
  /** Mints: repeating one after a lost answer could take a second token. */
  private readonly mintHttp: HttpClient
  /** Set once the hourly or daily limit is used up: no further request is sent. */
  private exhausted: VkAdsAccountError | undefined

  constructor(config: VkAdsClientConfig) {
    this.config = config
    registerSecret(config.clientSecret)
    this.base = config.baseUrl.replace(/\/+$/, '')
    const common = {
      limiter: config.limiter,
      timeoutMs: config.timeoutMs,
      maxRetries: config.maxRetries,
      logger: config.logger,
      logContext: { clientId: config.clientId },
      minRetryDelayMs: config.minRetryDelayMs,
      signal: config.signal,
      ...(config.fetch ? { fetch: config.fetch } : {}),
    }
    this.http = createHttpClient({ ...common, shouldRetry: isRetryableRead })
    this.mintHttp = createHttpClient({
      ...common,
      shouldRetry: (error) => error instanceof VkAdsApiError && error.status === 429 && error.retryable,
    })
    const endpoint: VkAdsTokenEndpoint = {
      mint: () => this.token(this.mintHttp, 'a new token (client_credentials)', { grant_type: 'client_credentials' }),
      refresh: (refreshToken) =>
        this.token(this.http, 'a token refresh', { grant_type: 'refresh_token', refresh_token: refreshToken }),
    }
    this.tokens = new VkAdsTokenStore({
      stateDir: config.stateDir,
      clientId: config.clientId,
      endpoint,
      clock: config.clock,
      logger: config.logger,
    })
  }

  /**
   * The account's currency from `GET /api/v2/user.json`: `currency`, else `account.currency`
   * (GUESS: the docs name `User.currency` without its shape); undefined when neither is a
   * three-letter code.
   */
  async accountCurrency(): Promise<string | undefined> {
    const json = await this.get('/api/v2/user.json', {}, `the user of VK Ads client ${this.config.clientId}`)
    const user = (json ?? {}) as { currency?: unknown; account?: { currency?: unknown } | null }
    for (const candidate of [user.currency, user.account?.currency])
      if (typeof candidate === 'string' && /^[A-Za-z]{3}$/.test(candidate.trim())) return candidate.trim().toUpperCase()
    return undefined
  }

  /** Every ad plan, active, blocked and deleted (so a deleted plan's spend keeps its name), by id. */
  async listAdPlans(): Promise<VkAdPlan[]> {
    const plans = new Map<string, VkAdPlan>()
    let offset = 0
    for (let page = 1; ; page++) {
      if (page > MAX_LIST_PAGES)
        throw new VkAdsApiError(
          `the ad plans of VK Ads client ${this.config.clientId}: more than ${MAX_LIST_PAGES} pages`,
          'invalid-body',
          { retryable: false },
        )
      const what = `the ad plans of VK Ads client ${this.config.clientId}, offset ${offset}`
      const json = await this.get(
        '/api/v2/ad_plans.json',
        {
          fields: 'id,name,status',
          _status__in: 'active,blocked,deleted',
          limit: String(AD_PLANS_PAGE_LIMIT),
          offset: String(offset),
        },
        what,
      )
      const { count, items } = (json ?? {}) as { count?: unknown; items?: unknown }
      if (!Array.isArray(items) || parseCount(count) === undefined) throw shapeError(what, 'it has no count and items')
      for (const item of items as unknown[]) {
        const plan = adPlanOf(item)
        if (plan === undefined)
          throw shapeError(what, `an item is not an ad plan with an id: ${JSON.stringify(item).slice(0, 100)}`)
        plans.set(plan.id, plan)
      }
      offset += items.length
      // offset ≥ count ends it; an empty page too, should count overstate what is left.
      if (items.length === 0 || offset >= (parseCount(count) ?? 0)) break
    }
    return [...plans.values()].sort((a, b) => compareIds(a.id, b.id))
  }

  /**
   * The daily statistics of `plans` over `firstDay..lastDay` (≤ {@link STATISTICS_MAX_DAYS} days),
   * one request per {@link STATISTICS_MAX_IDS} plans, as campaign-days with each plan's name at
   * read time. Zero days are included (the store drops them); `spent` becomes micros exactly.
   */
  async adPlanDays(plans: readonly VkAdPlan[], firstDay: Day, lastDay: Day): Promise<CampaignDayStats[]> {
    const names = new Map(plans.map((plan) => [plan.id, plan.name]))
    const rows: CampaignDayStats[] = []
    for (let start = 0; start < plans.length; start += STATISTICS_MAX_IDS) {
      const ids = plans.slice(start, start + STATISTICS_MAX_IDS).map((plan) => plan.id)
      const what = `statistics of ${ids.length} ad plans of VK Ads client ${this.config.clientId} from ${firstDay} to ${lastDay}`
      const json = await this.get(
        '/api/v2/statistics/ad_plans/day.json',
        { id: ids.join(','), date_from: firstDay, date_to: lastDay, metrics: 'base' },
        what,
      )
      rows.push(...statisticsRows(json, new Set(ids), names, what))
    }
    return rows
  }

  /** An authorized GET's parsed JSON; one replay with a new token after invalid_token or expired_token. */
  private async get(pathname: string, query: Record<string, string>, what: string): Promise<unknown> {
    const search = new URLSearchParams(query).toString()
    const url = `${this.base}${pathname}${search === '' ? '' : `?${search}`}`
    let token = await this.tokens.accessToken()
    for (let replayed = false; ; replayed = true) {
      if (this.exhausted) throw this.exhausted
      try {
        return await this.http.request({
          url,
          what,
          priority: REQUEST_PRIORITIES.firstPage,
          headers: { accept: 'application/json', authorization: `Bearer ${token}` },
          read: (response) => this.readJson(response, what),
        })
      } catch (error) {
        if (!(error instanceof VkAdsApiError) || error.status !== 401) throw this.accountLevel(error)
        if (replayed || !TOKEN_REPLACEMENT_CODES.includes(error.vkCode ?? '')) throw this.authStop(error)
        this.config.logger?.debug(
          { clientId: this.config.clientId, code: error.vkCode },
          `replacing a refused VK Ads token`,
        )
        token = await this.tokens.replaceRejected(token)
      }
    }
  }

  private async token(http: HttpClient, grant: string, form: Record<string, string>): Promise<VkAdsTokenGrant> {
    if (this.exhausted) throw this.exhausted
    const what = `${grant} for VK Ads client ${this.config.clientId}`
    const body = new URLSearchParams({
      ...form,
      client_id: this.config.clientId,
      client_secret: this.config.clientSecret,
    }).toString()
    try {
      return await http.request({
        url: `${this.base}/api/v2/oauth2/token.json`,
        what,
        method: 'POST',
        priority: REQUEST_PRIORITIES.discovery,
        headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
        body,
        read: (response) => {
          const grantOrProblem = parseTokenGrant(this.readJson(response, what))
          if (typeof grantOrProblem === 'string') throw shapeError(what, grantOrProblem)
          return grantOrProblem
        },
      })
    } catch (error) {
      // A refused grant is judged by the token store (403 = the token limit, invalid_grant = mint); these stop the account.
      if (error instanceof VkAdsApiError && ACCOUNT_STOP_CODES.includes(error.vkCode ?? '')) throw this.authStop(error)
      throw this.accountLevel(error)
    }
  }

  /** A 200's JSON, or the refusal as a {@link VkAdsApiError} saying whether to retry. */
  private readJson(response: HttpResponseBytes, what: string): unknown {
    const { status, headers, body } = response
    const rpsLimit = Number(headers.get('x-ratelimit-rps-limit') ?? Number.NaN)
    if (rpsLimit > 0) this.config.limiter.observeRpsLimit(rpsLimit)
    if (status === 200) {
      try {
        return JSON.parse(body.toString('utf8'))
      } catch (error) {
        throw new VkAdsApiError(
          `${what}: the answer is not JSON (${body.length} bytes, perhaps cut off)`,
          'invalid-body',
          {
            cause: error,
            retryable: true,
          },
        )
      }
    }
    const { code } = vkErrorOf(response)
    const answer = `VK Ads answered HTTP ${status}: ${describeVkError(response)}`
    if (status === 429) {
      const asked = new HttpRequestError(what, 'status', { response }).retryAfterMs
      const waitMs = rateLimitWaitMs(headers, asked, Date.now())
      if (waitMs === undefined || waitMs > MAX_RATE_LIMIT_WAIT_MS) {
        this.exhausted = this.limitStop(headers, waitMs)
        throw new VkAdsApiError(`${what}: ${answer}`, 'status', { response, answer, vkCode: code, retryable: false })
      }
      return throwRetryable(`${what}: ${answer}`, { status, headers: withRetryAfter(headers, waitMs) }, answer, code)
    }
    if (status >= 500) return throwRetryable(`${what}: ${answer}`, response, answer, code)
    throw new VkAdsApiError(`${what}: ${answer}`, 'status', { response, answer, vkCode: code, retryable: false })
  }

  /** The error to leave with: the account's stop when the limit is used up, else `error` itself. */
  private accountLevel(error: unknown): unknown {
    return this.exhausted ?? error
  }

  private limitStop(headers: Headers, waitMs: number | undefined): VkAdsAccountError {
    const window = waitMs === undefined ? 'daily' : 'hourly'
    const limit = headers.get(`x-ratelimit-${window}-limit`)
    return new VkAdsAccountError(
      `VK Ads client ${this.config.clientId} has used up its ${window} request limit${limit === null ? '' : ` of ${limit}`}; ` +
        `the remaining days stay due and the next run reads them (run again after the ${window === 'daily' ? 'day' : 'hour'} turns)`,
    )
  }

  private authStop(error: VkAdsApiError): VkAdsAccountError {
    const { clientId } = this.config
    const fixes: Record<string, string> = {
      invalid_client: `the client id or secret is wrong, or API access was blocked — check clientId and clientSecret in the config (VK Ads cabinet: Settings → API access), or ask VK support`,
      invalid_user: `the VK Ads user of this client is blocked — resolve it in the VK Ads cabinet or with VK support, then run again`,
      revoked_token: `access was revoked (the user withdrew it, or the client left the agency) — grant API access again, delete the old tokens (POST /api/v2/oauth2/token/delete.json, see README) and the state file ${this.tokens.file}, then run again`,
    }
    const fix =
      fixes[error.vkCode ?? ''] ??
      `the token was refused again after it was replaced — check the client's API access in the VK Ads cabinet, then run again`
    return new VkAdsAccountError(
      `VK Ads refused client ${clientId} (${error.vkCode ?? `HTTP ${error.status}`}): ${fix}`,
      {
        cause: error,
      },
    )
  }
}

/** GETs and refreshes: a 429 or 5xx the answer allowed, no answer, or a cut-off body. */
function isRetryableRead(error: HttpRequestError): boolean {
  if (error instanceof VkAdsApiError) return error.retryable
  return error.kind !== 'status'
}

function throwRetryable(
  message: string,
  response: { readonly status: number; readonly headers: Headers },
  answer: string,
  vkCode: string | undefined,
): never {
  throw new VkAdsApiError(message, 'status', { response, answer, vkCode, retryable: true })
}

/** An answer that parsed but is not what the docs describe: the same again would not help. */
function shapeError(what: string, problem: string): VkAdsApiError {
  return new VkAdsApiError(`${what}: ${problem}`, 'invalid-body', { answer: problem, retryable: false })
}

function adPlanOf(item: unknown): VkAdPlan | undefined {
  if (typeof item !== 'object' || item === null) return undefined
  const { id, name, status } = item as Record<string, unknown>
  const text = idText(id)
  if (text === undefined) return undefined
  return { id: text, name: typeof name === 'string' ? name : '', status: typeof status === 'string' ? status : '' }
}

/** An id as decimal digits, from a JSON number or string. */
function idText(id: unknown): string | undefined {
  const text = typeof id === 'number' && Number.isSafeInteger(id) ? String(id) : typeof id === 'string' ? id.trim() : ''
  return /^[0-9]{1,18}$/.test(text) ? text : undefined
}

function compareIds(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0)
}

/** `{items: [{id, rows: [{date, base: {shows, clicks, spent}}]}]}` as campaign-days of the asked ids. */
function statisticsRows(
  json: unknown,
  asked: ReadonlySet<string>,
  names: ReadonlyMap<string, string>,
  what: string,
): CampaignDayStats[] {
  const items = (json as { items?: unknown } | null)?.items
  if (!Array.isArray(items)) throw shapeError(what, 'it has no items')
  const rows: CampaignDayStats[] = []
  for (const item of items as unknown[]) {
    const { id, rows: days } = (item ?? {}) as { id?: unknown; rows?: unknown }
    const campaignId = idText(id)
    if (campaignId === undefined || !Array.isArray(days)) throw shapeError(what, `an item has no id or rows`)
    // Ids not asked for are not this read's to store.
    if (!asked.has(campaignId)) continue
    for (const row of days as unknown[]) {
      const { date, base } = (row ?? {}) as { date?: unknown; base?: unknown }
      const { shows, clicks, spent } = (base ?? {}) as { shows?: unknown; clicks?: unknown; spent?: unknown }
      const impressions = parseCount(shows)
      const clickCount = parseCount(clicks)
      const costMicros = parseMoneyMicros(spent)
      if (typeof date !== 'string' || impressions === undefined || clickCount === undefined || costMicros === undefined)
        throw shapeError(
          what,
          `ad plan ${campaignId} has a row without a date, whole shows and clicks, or a decimal spent: ${JSON.stringify(row).slice(0, 200)}`,
        )
      rows.push({
        day: date,
        campaignId,
        campaignName: names.get(campaignId) ?? '',
        impressions,
        clicks: clickCount,
        costMicros,
      })
    }
  }
  return rows
}
