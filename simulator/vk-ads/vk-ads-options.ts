/**
 * Options of the simulated VK Ads cabinets, their defaults and validation.
 * Where shared/vk-ads/API.md says GUESS, the default is one reading and an
 * option plays the other (simulator/README.md, "VK Ads").
 */
import { dayNumberOf } from '../wall-clock.ts'

/** An ad plan's status as the API writes it ([DOC] AdPlans). */
export type AdPlanStatus = 'active' | 'blocked' | 'deleted'
export const AD_PLAN_STATUSES: readonly AdPlanStatus[] = ['active', 'blocked', 'deleted']

/** One ad plan ("campaign" in the VK Ads UI). */
export interface AdPlanConfig {
  id: number
  name: string
  status: AdPlanStatus
  /** First day with activity and the `created` date, 'YYYY-MM-DD'. Default: the account's historyStart. */
  createdDay?: string
  /**
   * Last day with activity of a blocked or deleted plan, 'YYYY-MM-DD'. Default: a seeded day
   * between createdDay and today. Ignored for active plans (they run until today).
   */
  lastActiveDay?: string
}

/** One advertiser account: an API access (client_id/client_secret) and the user it belongs to. */
export interface VkAdsAccountConfig {
  clientId: string
  clientSecret: string
  userId: number
  username: string
  /** Currency of `spent` (the account's). Default 'RUB'. */
  currency?: string
  /** The plans, or how many to generate (named `vk_plan_<n>`, ids from 7000001). Default: the shop's five. */
  adPlans?: readonly AdPlanConfig[] | number
  /** First day with spend, 'YYYY-MM-DD'. Default '2025-01-01' (the simulated deals' start). */
  historyStart?: string
}

/** Calendar-window limits per user ([DOC]: per second, hour and day; numbers unpublished). */
export interface VkAdsRateLimitConfig {
  perSecond?: number
  perHour?: number
  perDay?: number
}

/**
 * Faults to inject into the GET API requests (never the token endpoints or admin
 * calls). Each decision is a pure function of (seed, kind, n), n counting those
 * requests from start, reset or the last change of faults.
 */
export interface VkAdsFaultConfig {
  /** Share (0..1) answered 500 or 503 `{"error":{"code":"ERR_INTERNAL",…}}`. */
  failureRate?: number
  /** With probability `rate` a request starts a burst of `length` (default 5) consecutive 429s. */
  burst429?: { rate: number; length?: number }
  /** Share of 200 answers whose JSON is cut off halfway. */
  truncateRate?: number
  /** Share of requests whose connection is destroyed without an answer. */
  resetRate?: number
  /** Share of requests answered only after `slowMs` (default 30 000). */
  slowRate?: number
  slowMs?: number
  /** One-shot: every token held now expires at once (its next use answers 401 expired_token). */
  expireTokensNow?: boolean
}

/** Options of {@link SimulatedVkAds}; `{}` serves the shop's one account. */
export interface VkAdsSimOptions {
  /** Default: {@link DEFAULT_VK_ADS_ACCOUNT}. */
  accounts?: readonly VkAdsAccountConfig[]
  /** Default {@link DEFAULT_VK_ADS_RATE_LIMITS}; `false` = no limit (headers still sent, with the defaults). */
  rateLimits?: VkAdsRateLimitConfig | false
  /** Send `Retry-After` (seconds to the end of the exhausted window) with a 429. Default false. */
  retryAfter?: boolean
  /** Largest list `limit` accepted. Default 50 ([DOC]); 250 as one client uses. */
  maxListLimit?: 50 | 250
  /** A list `limit` above maxListLimit: 'reject' (400 ERR_WRONG_PARAMETER, default) or 'clamp'. */
  overListLimit?: 'reject' | 'clamp'
  /** Whether ad_plans.json lists deleted plans without a status filter. Default false (GUESS). */
  listDeletedByDefault?: boolean
  /** Statistics with an unknown id: 'fail' the whole request (default, GUESS) or 'skip' the id. */
  unknownStatisticsIds?: 'fail' | 'skip'
  /** Body of token-endpoint errors: OAuth `{"error","error_description"}` (default) or VK `{"error":{"code","message"}}`. */
  tokenErrorForm?: 'oauth' | 'vk'
  /** Tokens a (client_id, user) may hold at once ([DOC]: 5). */
  maxTokensPerUser?: number
  /** A refresh also replaces the refresh_token (VK support can enable it). Default false. */
  rotateRefreshToken?: boolean
  /** Where user.json carries the currency: 'user' (`currency`, default GUESS), 'account' (`account.currency`), 'both'. */
  userCurrencyAt?: 'user' | 'account' | 'both'
  /** Money strings: 'trim' trailing zeros ("86.4", "0": the [DOC] example, default) or 'fixed2' ("86.40", "0.00"). */
  moneyFormat?: 'trim' | 'fixed2'
  /** Faults at start (and after reset). Default none. */
  faults?: VkAdsFaultConfig
}

export const DEFAULT_VK_ADS_HISTORY_START = '2025-01-01'
export const DEFAULT_VK_ADS_RATE_LIMITS: Readonly<Required<VkAdsRateLimitConfig>> = Object.freeze({
  perSecond: 10,
  perHour: 2000,
  perDay: 20_000,
})
export const DEFAULT_MAX_TOKENS_PER_USER = 5
export const DEFAULT_VK_ADS_SLOW_MS = 30_000
export const DEFAULT_VK_ADS_BURST_LENGTH = 5
/** First id of generated plans (`adPlans: <number>`). */
export const GENERATED_AD_PLAN_FIRST_ID = 7_000_001

/**
 * The shop's plans: the three the simulated deals carry as `utm_campaign` of
 * source vk (simulator/deal-generator.ts, CAMPAIGNS.social), one active plan no
 * deal names, and one deleted plan that spent in the summer of 2026 (inside the
 * 366 days statistics reach back from the default clock).
 */
export const DEFAULT_AD_PLANS: readonly AdPlanConfig[] = Object.freeze([
  { id: 6617841, name: 'vk_lookalike', status: 'active' },
  { id: 6711647, name: 'vk_retarget_осень', status: 'active' },
  { id: 6758203, name: 'vk_promo', status: 'active' },
  { id: 6802519, name: 'Охват | Москва', status: 'active', createdDay: '2026-06-01' },
  { id: 6590114, name: 'vk_leto_2026', status: 'deleted', createdDay: '2026-05-15', lastActiveDay: '2026-09-30' },
])

export const DEFAULT_VK_ADS_ACCOUNT: Readonly<VkAdsAccountConfig> = Object.freeze({
  clientId: 'vk-test-client',
  clientSecret: 'vk-test-secret',
  userId: 1000001,
  username: 'shop@vk',
  currency: 'RUB',
  adPlans: DEFAULT_AD_PLANS,
  historyStart: DEFAULT_VK_ADS_HISTORY_START,
})

/** Faults with every default filled in. */
export interface ResolvedVkAdsFaults {
  failureRate: number
  burst429Rate: number
  burst429Length: number
  truncateRate: number
  resetRate: number
  slowRate: number
  slowMs: number
  expireTokensNow: boolean
}

/** An account with defaults filled in; plans are resolved later (they need the seed and today). */
export interface ResolvedVkAdsAccount {
  clientId: string
  clientSecret: string
  userId: number
  username: string
  currency: string
  adPlans: readonly AdPlanConfig[] | number
  historyStartDay: number
}

export interface ResolvedVkAdsOptions {
  accounts: ResolvedVkAdsAccount[]
  rateLimits: Required<VkAdsRateLimitConfig> | false
  retryAfter: boolean
  maxListLimit: 50 | 250
  overListLimit: 'reject' | 'clamp'
  listDeletedByDefault: boolean
  unknownStatisticsIds: 'fail' | 'skip'
  tokenErrorForm: 'oauth' | 'vk'
  maxTokensPerUser: number
  rotateRefreshToken: boolean
  userCurrencyAt: 'user' | 'account' | 'both'
  moneyFormat: 'trim' | 'fixed2'
  faults: ResolvedVkAdsFaults
}

function share(name: string, value: number | undefined): number {
  if (value === undefined) return 0
  if (!Number.isFinite(value) || value < 0 || value > 1)
    throw new RangeError(`vkAds.faults.${name} must be between 0 and 1, got ${value}`)
  return value
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`)
  return value
}

/** Fills in the defaults of a fault configuration and validates it. */
export function resolveVkAdsFaults(faults: VkAdsFaultConfig | undefined): ResolvedVkAdsFaults {
  const f = faults ?? {}
  return {
    failureRate: share('failureRate', f.failureRate),
    burst429Rate: share('burst429.rate', f.burst429?.rate),
    burst429Length: positiveInteger('vkAds.faults.burst429.length', f.burst429?.length, DEFAULT_VK_ADS_BURST_LENGTH),
    truncateRate: share('truncateRate', f.truncateRate),
    resetRate: share('resetRate', f.resetRate),
    slowRate: share('slowRate', f.slowRate),
    slowMs: f.slowMs === undefined ? DEFAULT_VK_ADS_SLOW_MS : positiveInteger('vkAds.faults.slowMs', f.slowMs, 1),
    expireTokensNow: f.expireTokensNow === true,
  }
}

function resolveAccount(account: VkAdsAccountConfig): ResolvedVkAdsAccount {
  const where = `vkAds account ${JSON.stringify(account.clientId)}`
  if (!account.clientId || !account.clientSecret) throw new RangeError(`${where} needs a clientId and a clientSecret`)
  if (!Number.isInteger(account.userId) || account.userId <= 0)
    throw new RangeError(`${where}: userId must be a positive integer, got ${account.userId}`)
  const historyStart = account.historyStart ?? DEFAULT_VK_ADS_HISTORY_START
  const historyStartDay = dayNumberOf(historyStart)
  if (historyStartDay === undefined)
    throw new RangeError(`${where}: historyStart must be 'YYYY-MM-DD', got ${JSON.stringify(historyStart)}`)
  const adPlans = account.adPlans ?? DEFAULT_AD_PLANS
  if (typeof adPlans === 'number') {
    if (!Number.isInteger(adPlans) || adPlans < 0 || adPlans > 100_000)
      throw new RangeError(`${where}: adPlans must be a plan list or a count of 0 to 100000, got ${adPlans}`)
  } else {
    const ids = new Set<number>()
    for (const plan of adPlans) {
      if (!Number.isInteger(plan.id) || plan.id <= 0)
        throw new RangeError(`${where}: ad plan ids must be positive integers, got ${plan.id}`)
      if (ids.has(plan.id)) throw new RangeError(`${where}: ad plan id ${plan.id} appears twice`)
      ids.add(plan.id)
      if (!AD_PLAN_STATUSES.includes(plan.status))
        throw new RangeError(`${where}: ad plan ${plan.id} has status ${JSON.stringify(plan.status)}`)
      for (const day of [plan.createdDay, plan.lastActiveDay])
        if (day !== undefined && dayNumberOf(day) === undefined)
          throw new RangeError(`${where}: ad plan ${plan.id} has a day ${JSON.stringify(day)} that is not 'YYYY-MM-DD'`)
    }
  }
  return {
    clientId: account.clientId,
    clientSecret: account.clientSecret,
    userId: account.userId,
    username: account.username,
    currency: account.currency ?? 'RUB',
    adPlans,
    historyStartDay,
  }
}

/** Fills in every default and validates; throws a RangeError naming the bad option. */
export function resolveVkAdsOptions(options: VkAdsSimOptions): ResolvedVkAdsOptions {
  const accounts = (options.accounts ?? [DEFAULT_VK_ADS_ACCOUNT]).map(resolveAccount)
  if (new Set(accounts.map((a) => a.clientId)).size !== accounts.length)
    throw new RangeError('vkAds accounts must have distinct clientIds')
  if (new Set(accounts.map((a) => a.userId)).size !== accounts.length)
    throw new RangeError('vkAds accounts must have distinct userIds')
  const limits = options.rateLimits === false ? false : { ...DEFAULT_VK_ADS_RATE_LIMITS, ...options.rateLimits }
  if (limits !== false)
    for (const [name, value] of Object.entries(limits)) positiveInteger(`vkAds.rateLimits.${name}`, value, 1)
  const maxListLimit = options.maxListLimit ?? 50
  if (maxListLimit !== 50 && maxListLimit !== 250)
    throw new RangeError(`vkAds.maxListLimit must be 50 or 250, got ${String(maxListLimit)}`)
  return {
    accounts,
    rateLimits: limits,
    retryAfter: options.retryAfter ?? false,
    maxListLimit,
    overListLimit: options.overListLimit ?? 'reject',
    listDeletedByDefault: options.listDeletedByDefault ?? false,
    unknownStatisticsIds: options.unknownStatisticsIds ?? 'fail',
    tokenErrorForm: options.tokenErrorForm ?? 'oauth',
    maxTokensPerUser: positiveInteger('vkAds.maxTokensPerUser', options.maxTokensPerUser, DEFAULT_MAX_TOKENS_PER_USER),
    rotateRefreshToken: options.rotateRefreshToken ?? false,
    userCurrencyAt: options.userCurrencyAt ?? 'user',
    moneyFormat: options.moneyFormat ?? 'trim',
    faults: resolveVkAdsFaults(options.faults),
  }
}
