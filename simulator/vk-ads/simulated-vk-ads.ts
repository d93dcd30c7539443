/**
 * VK Ads (OAuth2 tokens, ad_plans, statistics v2, rate limits) as
 * shared/vk-ads/API.md describes it, on the simulator's one HTTP server.
 * What it serves is a pure function of the seed, the clock, the options and the
 * corrections, renames and token calls received. See simulator/README.md, "VK Ads".
 */
import type http from 'node:http'
import type { SimulatedApi, SimulatorClock } from '../simulated-api.ts'
import { dayNumberOf, MS_PER_DAY, toWallMs } from '../wall-clock.ts'
import { buildAdPlans, summarizeAdPlan, type AdPlan, type AdPlanSummary } from './ad-plan-catalog.ts'
import {
  correctionKey,
  expectedRowsOf,
  isApiError,
  parseStatisticsQuery,
  servedDay,
  spentToKopecks,
  statisticsBody,
  type CorrectionMap,
  type StatisticsNow,
  type VkAdsCorrection,
  type VkAdsExpectedRow,
} from './ad-plan-statistics.ts'
import { handleVkAdsAdmin, type VkAdsAdminTarget } from './vk-ads-admin.ts'
import { readBody, unauthorized, VkAdsAnswer } from './vk-ads-answer.ts'
import { NO_VK_ADS_FAULT, VkAdsFaultInjector } from './vk-ads-fault-injector.ts'
import { tokenDelete, tokenRequest, type OAuthContext } from './vk-ads-oauth.ts'
import {
  resolveVkAdsFaults,
  resolveVkAdsOptions,
  type ResolvedVkAdsAccount,
  type ResolvedVkAdsFaults,
  type ResolvedVkAdsOptions,
  type VkAdsFaultConfig,
  type VkAdsSimOptions,
} from './vk-ads-options.ts'
import { rateLimitHeaders, RunningClock, throttlingBody, VkAdsRateLimiter } from './vk-ads-rate-limiter.ts'
import { adPlansBody, userBody } from './vk-ads-resources.ts'
import { VkAdsStatsRecorder, type VkAdsSimStats } from './vk-ads-stats.ts'
import { VkAdsTokenStore, type VkAdsToken } from './vk-ads-token-store.ts'

export type { VkAdsSimOptions, VkAdsAccountConfig, VkAdsFaultConfig, AdPlanConfig } from './vk-ads-options.ts'
export type { VkAdsSimStats, VkAdsAccountStats } from './vk-ads-stats.ts'
export type { VkAdsCorrection, VkAdsExpectedRow } from './ad-plan-statistics.ts'
export type { AdPlanSummary } from './ad-plan-catalog.ts'

const TOKEN_PATH = '/api/v2/oauth2/token.json'
const TOKEN_DELETE_PATH = '/api/v2/oauth2/token/delete.json'
const RESOURCES = new Set([
  '/api/v2/user.json',
  '/api/v2/ad_plans.json',
  '/api/v2/statistics/ad_plans/day.json',
  '/api/v2/throttling.json',
])

/** An account at run time: its configuration, its plans (names may change) and whether its user is blocked. */
interface AccountState {
  readonly config: ResolvedVkAdsAccount
  readonly plans: AdPlan[]
  readonly planById: Map<number, AdPlan>
  blocked: boolean
}

export class SimulatedVkAds implements SimulatedApi, VkAdsAdminTarget {
  private readonly resolved: ResolvedVkAdsOptions
  private readonly startDay: number
  private accounts = new Map<string, AccountState>()
  private readonly tokens: VkAdsTokenStore
  private readonly faultInjector: VkAdsFaultInjector
  private readonly runningClock: RunningClock
  private readonly limiter: VkAdsRateLimiter
  private readonly recorder = new VkAdsStatsRecorder()
  private readonly corrections: CorrectionMap = new Map()
  private readonly timers = new Set<NodeJS.Timeout>()

  constructor(
    readonly options: VkAdsSimOptions,
    readonly clock: SimulatorClock,
    readonly seed: number,
  ) {
    this.resolved = resolveVkAdsOptions(options)
    this.startDay = Math.floor(toWallMs(clock.nowMs(), clock.timeZone) / MS_PER_DAY)
    this.tokens = new VkAdsTokenStore(seed, this.resolved.maxTokensPerUser)
    this.faultInjector = new VkAdsFaultInjector(seed, resolveVkAdsFaults(undefined))
    this.runningClock = new RunningClock(clock)
    this.limiter = new VkAdsRateLimiter(this.resolved.rateLimits, this.runningClock, clock.timeZone)
    this.reset()
  }

  owns(path: string): boolean {
    return path.startsWith('/api/v2/') || path.startsWith('/api/v3/') || path.startsWith('/_sim/vk-ads/')
  }

  async handle(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    if (url.pathname.startsWith('/_sim/vk-ads/')) return handleVkAdsAdmin(this, req, res, url)
    const arrivedAtMs = Date.now()
    this.recorder.arrived()
    const send = (answer: VkAdsAnswer, truncate = false): void => {
      this.recorder.answered(answer.status)
      if (truncate) this.recorder.fault('truncated')
      answer.write(res, truncate)
    }
    const path = url.pathname
    if (path === TOKEN_PATH || path === TOKEN_DELETE_PATH) {
      if (req.method !== 'POST') return send(VkAdsAnswer.apiError(405, 'ERR_METHOD_NOT_ALLOWED', 'Use POST'))
      const form = new URLSearchParams(await readBody(req))
      const outcome = (path === TOKEN_PATH ? tokenRequest : tokenDelete)(form, this.oauthContext())
      if (outcome.clientId !== undefined) this.recorder.accountRequest(outcome.clientId, arrivedAtMs)
      return send(outcome.answer)
    }

    const auth = this.authenticate(req)
    const account = auth instanceof VkAdsAnswer ? undefined : auth
    if (account !== undefined) this.recorder.accountRequest(account.config.clientId, arrivedAtMs)
    const peekHeaders = (): Record<string, string> =>
      account === undefined ? {} : rateLimitHeaders(this.limiter.peek(account.config.userId))

    const fault = req.method === 'GET' ? this.faultInjector.next() : NO_VK_ADS_FAULT
    if (fault.reset) {
      this.recorder.fault('reset')
      req.socket.destroy()
      return
    }
    if (fault.serverError !== undefined) {
      this.recorder.fault('serverError')
      const message = fault.serverError === 500 ? 'Internal server error' : 'Service temporarily unavailable'
      return send(VkAdsAnswer.apiError(fault.serverError, 'ERR_INTERNAL', message, peekHeaders()))
    }
    if (fault.burst429) {
      this.recorder.fault('burst429')
      if (account !== undefined) this.recorder.rateLimited(account.config.clientId)
      return send(this.tooManyRequests('second', 1, peekHeaders()))
    }
    if (fault.slowMs > 0) {
      this.recorder.fault('slow')
      await this.sleep(fault.slowMs)
      if (res.destroyed) return
    }
    if (account === undefined) return send(auth as VkAdsAnswer)

    const decision = this.limiter.admit(account.config.userId)
    const headers = rateLimitHeaders(decision.state)
    if (!decision.admitted) {
      this.recorder.rateLimited(account.config.clientId)
      return send(this.tooManyRequests(decision.window, decision.retryAfterSeconds, headers))
    }
    const answer = this.route(req.method ?? 'GET', path, url.searchParams, account, decision.state).withHeaders(headers)
    send(answer, fault.truncate && answer.status === 200)
  }

  private route(
    method: string,
    path: string,
    params: URLSearchParams,
    account: AccountState,
    state: Parameters<typeof throttlingBody>[0],
  ): VkAdsAnswer {
    if (!RESOURCES.has(path))
      return VkAdsAnswer.apiError(404, 'ERR_WRONG_RESOURCE', `No resource ${path} in the simulator`)
    if (method !== 'GET') return VkAdsAnswer.apiError(405, 'ERR_METHOD_NOT_ALLOWED', `Use GET for ${path}`)
    switch (path) {
      case '/api/v2/user.json':
        return VkAdsAnswer.json(200, userBody(account.config, this.resolved))
      case '/api/v2/throttling.json':
        return VkAdsAnswer.json(200, throttlingBody(state))
      case '/api/v2/ad_plans.json': {
        const body = adPlansBody(account.plans, params, this.resolved)
        return isApiError(body)
          ? VkAdsAnswer.apiError(body.status, body.code, body.message)
          : VkAdsAnswer.json(200, body)
      }
      default:
        return this.statistics(params, account)
    }
  }

  private statistics(params: URLSearchParams, account: AccountState): VkAdsAnswer {
    const now = this.statisticsNow()
    const query = parseStatisticsQuery(params, now.today)
    if (isApiError(query)) return VkAdsAnswer.apiError(query.status, query.code, query.message)
    const unknown = query.ids.filter((id) => !account.planById.has(id))
    if (unknown.length > 0 && this.resolved.unknownStatisticsIds === 'fail')
      return VkAdsAnswer.apiError(
        400,
        'ERR_WRONG_ADPLANS',
        `Ad plans ${unknown.join(',')} do not exist or are not accessible to this token`,
      )
    const plans = query.ids.flatMap((id) => account.planById.get(id) ?? [])
    const body = statisticsBody(
      plans,
      query,
      (plan, day) => servedDay(this.seed, account.config.userId, plan, day, now, this.corrections),
      this.resolved.moneyFormat === 'fixed2',
    )
    return VkAdsAnswer.json(200, body)
  }

  private tooManyRequests(window: string, retryAfterSeconds: number, headers: Record<string, string>): VkAdsAnswer {
    return VkAdsAnswer.apiError(429, 'ERR_TOO_MANY_REQUESTS', `Rate limit exceeded (${window} window)`, {
      ...headers,
      ...(this.resolved.retryAfter ? { 'retry-after': String(retryAfterSeconds) } : {}),
    })
  }

  /** The account of a valid bearer token, or the 401 to answer. */
  private authenticate(req: http.IncomingMessage): AccountState | VkAdsAnswer {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')
    if (match === null) return unauthorized('invalid_token', 'Authorization: Bearer <access_token> header is missing')
    const token: VkAdsToken | string = this.tokens.authenticate(match[1] as string, this.clock.nowMs())
    if (typeof token === 'string') return unauthorized(token as Parameters<typeof unauthorized>[0])
    const account = this.accounts.get(token.clientId)
    if (account === undefined) return unauthorized('invalid_client')
    if (account.blocked) return unauthorized('invalid_user')
    return account
  }

  private oauthContext(): OAuthContext {
    return {
      account: (clientId) => this.accounts.get(clientId),
      tokens: this.tokens,
      nowMs: this.clock.nowMs(),
      options: this.resolved,
    }
  }

  private statisticsNow(): StatisticsNow {
    const wallMs = toWallMs(this.clock.nowMs(), this.clock.timeZone)
    const today = Math.floor(wallMs / MS_PER_DAY)
    return { today, todayFraction: (wallMs - today * MS_PER_DAY) / MS_PER_DAY }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer)
        resolve()
      }, ms)
      this.timers.add(timer)
    })
  }

  private account(clientId: string): AccountState {
    const account = this.accounts.get(clientId)
    if (account === undefined)
      throw new RangeError(
        `No VK Ads account ${JSON.stringify(clientId)}; there are ${[...this.accounts.keys()].join(', ')}`,
      )
    return account
  }

  private plan(clientId: string, adPlanId: number): AdPlan {
    const plan = this.account(clientId).planById.get(adPlanId)
    if (plan === undefined) throw new RangeError(`No ad plan ${adPlanId} in VK Ads account ${JSON.stringify(clientId)}`)
    return plan
  }

  // ---- for tests and admin paths ----

  /** Same as `GET /_sim/vk-ads/stats`. */
  stats(): VkAdsSimStats {
    const nowMs = this.clock.nowMs()
    return this.recorder.snapshot([...this.accounts.keys()], (clientId) => {
      const { userId } = this.account(clientId).config
      const counts = this.tokens.counts(clientId, userId)
      return {
        tokenMints: counts.mints,
        tokenRefreshes: counts.refreshes,
        liveTokens: this.tokens.held(clientId, userId, nowMs),
        maxLiveTokens: counts.maxHeld,
      }
    })
  }

  /** The faults in force (`expireTokensNow` is one-shot, so always false here). */
  faults(): ResolvedVkAdsFaults {
    return this.faultInjector.current
  }

  /** Replaces every fault (same as `POST /_sim/vk-ads/faults`) and restarts their sequence. */
  setFaults(faults: VkAdsFaultConfig): void {
    const resolved = resolveVkAdsFaults(faults)
    if (resolved.expireTokensNow) this.recorder.fault('expiredTokens', this.tokens.expireAll(this.clock.nowMs()))
    this.faultInjector.replace({ ...resolved, expireTokensNow: false })
  }

  /** A late correction: from now on the API serves these values for the plan's day. Spend in the account currency. */
  correct(correction: VkAdsCorrection): void {
    const plan = this.plan(correction.clientId, correction.adPlanId)
    const day = dayNumberOf(correction.day)
    if (day === undefined) throw new RangeError(`day must be 'YYYY-MM-DD', got ${JSON.stringify(correction.day)}`)
    for (const name of ['clicks', 'shows'] as const) {
      const value = correction[name]
      if (value !== undefined && (!Number.isInteger(value) || value < 0))
        throw new RangeError(`${name} must be a non-negative integer, got ${value}`)
    }
    const key = correctionKey(this.account(correction.clientId).config.userId, plan.id, day)
    const previous = this.corrections.get(key) ?? {}
    this.corrections.set(key, {
      ...previous,
      ...(correction.spent === undefined ? {} : { spentKopecks: spentToKopecks(correction.spent) }),
      ...(correction.clicks === undefined ? {} : { clicks: correction.clicks }),
      ...(correction.shows === undefined ? {} : { shows: correction.shows }),
    })
  }

  /** Renames a plan: every answer from now on carries the new name, `updated` moves to the clock. */
  renameAdPlan(clientId: string, adPlanId: number, name: string): void {
    const plan = this.plan(clientId, adPlanId)
    plan.name = name
    plan.updatedWallMs = toWallMs(this.clock.nowMs(), this.clock.timeZone)
  }

  /** The user withdrew access: its tokens answer 401 revoked_token (and still count toward the limit). */
  revokeTokens(clientId: string): number {
    return this.tokens.revokeAll(clientId, this.account(clientId).config.userId)
  }

  /** Blocks (or unblocks) the account's user: 401 invalid_user on every call and at the token endpoint. */
  blockUser(clientId: string, blocked = true): void {
    this.account(clientId).blocked = blocked
  }

  /** Every plan of the account (deleted included), in id order, with current names. */
  adPlans(clientId: string): AdPlanSummary[] {
    return this.account(clientId).plans.map(summarizeAdPlan)
  }

  /**
   * The non-zero rows statistics serve now for all the account's plans (deleted
   * included) over fromDay..toDay inclusive ('YYYY-MM-DD'), by day then plan id,
   * corrections and renames applied. The 366-day limit is not applied.
   */
  expectedRows(clientId: string, fromDay: string, toDay: string): VkAdsExpectedRow[] {
    const account = this.account(clientId)
    const from = dayNumberOf(fromDay)
    const to = dayNumberOf(toDay)
    if (from === undefined || to === undefined)
      throw new RangeError(`days must be 'YYYY-MM-DD', got ${JSON.stringify(fromDay)} and ${JSON.stringify(toDay)}`)
    const now = this.statisticsNow()
    return expectedRowsOf(account.plans, from, to, (plan, day) =>
      servedDay(this.seed, account.config.userId, plan, day, now, this.corrections),
    )
  }

  /** Back to the start state: tokens, blocks, renames, corrections, faults, stats, rate-limit windows. */
  reset(): void {
    this.accounts = new Map(
      this.resolved.accounts.map((config) => {
        const plans = buildAdPlans(this.seed, config, this.startDay)
        return [config.clientId, { config, plans, planById: new Map(plans.map((p) => [p.id, p])), blocked: false }]
      }),
    )
    this.tokens.clear()
    this.corrections.clear()
    this.limiter.clear()
    this.runningClock.restart()
    this.recorder.reset()
    this.faultInjector.replace({ ...this.resolved.faults, expireTokensNow: false })
  }

  close(): void {
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
  }
}
