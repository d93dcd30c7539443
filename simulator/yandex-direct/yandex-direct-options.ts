/**
 * Options of the simulated Yandex Direct cabinets, their defaults and their
 * validation. Default options serve one advertiser whose campaigns are named
 * like the simulated Calltouch deals' Yandex `utm_campaign` values, so ROI by
 * campaign joins (simulator/deal-generator.ts, CAMPAIGNS.yandex_cpc).
 */
import { hashString } from '../prng.ts'
import { dayNumberOf } from '../wall-clock.ts'

/** One campaign of a simulated account. */
export interface DirectCampaignConfig {
  /** Campaign id (digits; current ids have 8–9). */
  id: number
  /** Name at the start; `rename()` changes it from a clock time on. */
  name: string
  /** `CampaignType` column. Default 'TEXT_CAMPAIGN'. */
  type?: string
}

/** One simulated advertiser (a Direct "client"). */
export interface DirectAccountConfig {
  /** Advertiser login: the `Client-Login` header and the `ClientLogin` column. */
  login: string
  /** The advertiser's own OAuth token (works without `Client-Login`). */
  token: string
  /** Account currency (`Clients.get` → `Currency`). Default 'RUB'. */
  currency?: string
  /** VAT percent applied with `IncludeVAT: YES` (`Clients.get` → `VatRate`). Default 20. */
  vatRate?: number
  /** The campaigns, or how many to generate (`<login>_campaign_<n>`). Default: the six default campaigns. */
  campaigns?: DirectCampaignConfig[] | number
  /** First day with statistics, 'YYYY-MM-DD'. Default '2025-01-01'. */
  historyStart?: string
  /** Mean spend of one campaign on an active day, in currency units. Default 3000. */
  dailyCostRub?: number
}

/**
 * Faults and switches, replaceable at run time (`POST /_sim/yandex-direct/faults`).
 * Every fault decision is a pure function of (seed, fault kind, n), n being the
 * number of the Reports request (since start, reset or the last change of faults)
 * that passed authorisation and the limits.
 */
export interface YandexDirectFaults {
  /** Share (0..1) of Reports requests answered 500 (error 1000) or 502 (error 1002, JSON); which one is seeded. */
  serverErrorRate?: number
  /** Share of Reports requests answered 502 with an HTML body (not JSON). */
  htmlBadGatewayRate?: number
  /** Share of 200 TSV answers whose body is cut off mid-report (a clean end, no content-length). */
  truncateRate?: number
  /** Share of Reports requests whose connection is destroyed without an answer. */
  resetRate?: number
  /** Share of Reports requests answered only after `slowMs`. */
  slowRate?: number
  /** Delay of a slow answer. Default 30 000 ms. */
  slowMs?: number
  /** `processingMode: auto` always goes through the offline queue (201/202/200). Default false. */
  forceOffline?: boolean
  /** The `retryIn` header of 201/202 answers, in seconds. Default 1. */
  retryInSeconds?: number
  /** Wall time an offline report spends queued, then building. Default 100 ms queued + 300 ms building. */
  queuedMs?: number
  buildMs?: number
}

/** Options of {@link SimulatedYandexDirect} (`SimulatorOptions.yandexDirect`). All optional. */
export interface YandexDirectSimOptions {
  /** The advertisers. Default one: login 'shop-client', token 'direct-test-token', RUB, six campaigns. */
  accounts?: DirectAccountConfig[]
  /** An agency OAuth token: its requests must name one of `agencyClients` in `Client-Login` (else error 54). */
  agencyToken?: string
  /** Logins the agency token may act for. Default every account. */
  agencyClients?: string[]
  /** `auto` reports with more rows than this go offline; `online` ones are refused (error 4002). Default 100 000. */
  onlineMaxRows?: number
  /** Reports requests per login in any sliding 10 s window. Default 20 (vendor limit). */
  requestsPer10s?: number
  /** Concurrent requests per login (all services). Default 5 (vendor limit). */
  maxConcurrent?: number
  /** Offline reports queued or building per login. Default 5 (vendor limit). */
  maxQueuedReports?: number
  /** How long a finished offline report is kept, in hours of the simulator clock. Default 5. */
  keepReadyHours?: number
  /** HTTP status of Reports errors 53/54 (bad token, no rights). Default 400 (GUESS, see README). */
  authErrorStatus?: 400 | 401 | 403
  /** HTTP status of Reports errors 56/506 (limits). Default 400 (GUESS, see README). */
  limitErrorStatus?: 400 | 429
  /** Points a login may spend per day in the JSON services (`Units` header). Default 64 000. */
  unitsDailyLimit?: number
  /** Faults and switches at start. Default none. */
  faults?: YandexDirectFaults
}

export const DEFAULT_DIRECT_TOKEN = 'direct-test-token'
export const DEFAULT_DIRECT_LOGIN = 'shop-client'
export const DEFAULT_DIRECT_HISTORY_START = '2025-01-01'
export const DEFAULT_DAILY_COST_RUB = 3000

/**
 * The default advertiser's campaigns: the four named like the deals' Yandex
 * `utm_campaign` values, then two that match no deal (unmatched spend).
 */
export const DEFAULT_DIRECT_CAMPAIGNS: readonly Readonly<Required<DirectCampaignConfig>>[] = Object.freeze([
  { id: 70012345, name: 'brand_moscow', type: 'TEXT_CAMPAIGN' },
  { id: 70012346, name: 'poisk_remont_kvartir', type: 'TEXT_CAMPAIGN' },
  { id: 70012347, name: 'rsya_retarget', type: 'TEXT_CAMPAIGN' },
  { id: 70012348, name: 'Поиск | Москва | Ремонт', type: 'UNIFIED_CAMPAIGN' },
  { id: 70012349, name: 'video_awareness', type: 'CPM_BANNER_CAMPAIGN' },
  { id: 70012350, name: 'smart_banners_test', type: 'SMART_CAMPAIGN' },
])

export const DEFAULT_DIRECT_ACCOUNT: Readonly<DirectAccountConfig> = Object.freeze({
  login: DEFAULT_DIRECT_LOGIN,
  token: DEFAULT_DIRECT_TOKEN,
  currency: 'RUB',
})

/** Faults with every default filled in. */
export interface ResolvedDirectFaults {
  serverErrorRate: number
  htmlBadGatewayRate: number
  truncateRate: number
  resetRate: number
  slowRate: number
  slowMs: number
  forceOffline: boolean
  retryInSeconds: number
  queuedMs: number
  buildMs: number
}

/** An account with every default filled in. */
export interface ResolvedDirectAccount {
  login: string
  token: string
  currency: string
  vatRate: number
  campaigns: readonly Required<DirectCampaignConfig>[]
  historyStartDay: number
  dailyCostMicros: number
}

export interface ResolvedDirectOptions {
  accounts: ResolvedDirectAccount[]
  agencyToken: string | undefined
  agencyClients: ReadonlySet<string>
  onlineMaxRows: number
  requestsPer10s: number
  maxConcurrent: number
  maxQueuedReports: number
  keepReadyMs: number
  authErrorStatus: 400 | 401 | 403
  limitErrorStatus: 400 | 429
  unitsDailyLimit: number
  faults: ResolvedDirectFaults
}

function share(name: string, value: number | undefined): number {
  if (value === undefined) return 0
  if (!Number.isFinite(value) || value < 0 || value > 1)
    throw new RangeError(`yandexDirect.faults.${name} must be between 0 and 1, got ${value}`)
  return value
}

function count(name: string, value: number | undefined, fallback: number, min = 0): number {
  if (value === undefined) return fallback
  if (!Number.isInteger(value) || value < min)
    throw new RangeError(`yandexDirect.${name} must be an integer of at least ${min}, got ${value}`)
  return value
}

/** Fills in the defaults of faults and switches and validates them. */
export function resolveDirectFaults(faults: YandexDirectFaults | undefined): ResolvedDirectFaults {
  const f = faults ?? {}
  return {
    serverErrorRate: share('serverErrorRate', f.serverErrorRate),
    htmlBadGatewayRate: share('htmlBadGatewayRate', f.htmlBadGatewayRate),
    truncateRate: share('truncateRate', f.truncateRate),
    resetRate: share('resetRate', f.resetRate),
    slowRate: share('slowRate', f.slowRate),
    slowMs: count('faults.slowMs', f.slowMs, 30_000),
    forceOffline: f.forceOffline ?? false,
    retryInSeconds: count('faults.retryInSeconds', f.retryInSeconds, 1),
    queuedMs: count('faults.queuedMs', f.queuedMs, 100),
    buildMs: count('faults.buildMs', f.buildMs, 300),
  }
}

/** Campaigns generated for an account that asks for `n` of them: ids from a hash of the login, so accounts differ. */
export function generatedCampaigns(login: string, n: number): Required<DirectCampaignConfig>[] {
  const base = 71_000_000 + (hashString(login) % 900) * 10_000
  return Array.from({ length: n }, (_, i) => ({
    id: base + i + 1,
    name: `${login}_campaign_${i + 1}`,
    type: 'TEXT_CAMPAIGN',
  }))
}

function resolveAccount(account: DirectAccountConfig): ResolvedDirectAccount {
  if (!account.login) throw new RangeError('every yandexDirect account needs a login')
  if (!account.token) throw new RangeError(`yandexDirect account ${account.login} needs a token`)
  const historyStart = account.historyStart ?? DEFAULT_DIRECT_HISTORY_START
  const historyStartDay = dayNumberOf(historyStart)
  if (historyStartDay === undefined)
    throw new RangeError(
      `historyStart of yandexDirect account ${account.login} must be 'YYYY-MM-DD', got ${JSON.stringify(historyStart)}`,
    )
  const given = account.campaigns ?? DEFAULT_DIRECT_CAMPAIGNS
  const campaigns =
    typeof given === 'number'
      ? generatedCampaigns(account.login, count(`accounts[${account.login}].campaigns`, given, 0))
      : given.map((c) => ({ id: c.id, name: c.name, type: c.type ?? 'TEXT_CAMPAIGN' }))
  for (const c of campaigns) {
    if (!Number.isSafeInteger(c.id) || c.id <= 0)
      throw new RangeError(`campaign ids of ${account.login} must be positive integers, got ${c.id}`)
    if (/[\t\n\r]/.test(c.name))
      throw new RangeError(`campaign ${c.id} of ${account.login}: a name cannot hold a tab or a line break`)
  }
  if (new Set(campaigns.map((c) => c.id)).size !== campaigns.length)
    throw new RangeError(`campaigns of ${account.login} must have distinct ids`)
  const dailyCostRub = account.dailyCostRub ?? DEFAULT_DAILY_COST_RUB
  if (!Number.isFinite(dailyCostRub) || dailyCostRub < 0 || dailyCostRub > 10_000_000)
    throw new RangeError(`dailyCostRub of ${account.login} must be between 0 and 10000000, got ${dailyCostRub}`)
  return {
    login: account.login,
    token: account.token,
    currency: account.currency ?? 'RUB',
    vatRate: account.vatRate ?? 20,
    campaigns,
    historyStartDay,
    dailyCostMicros: Math.round(dailyCostRub * 1_000_000),
  }
}

/** Fills in every default and validates; throws a RangeError naming the bad option. */
export function resolveDirectOptions(options: YandexDirectSimOptions): ResolvedDirectOptions {
  const accounts = (options.accounts ?? [DEFAULT_DIRECT_ACCOUNT]).map(resolveAccount)
  const logins = new Set(accounts.map((a) => a.login.toLowerCase()))
  if (logins.size !== accounts.length) throw new RangeError('yandexDirect accounts must have distinct logins')
  if (new Set(accounts.map((a) => a.token)).size !== accounts.length)
    throw new RangeError('yandexDirect accounts must have distinct tokens')
  const agencyClients = new Set((options.agencyClients ?? accounts.map((a) => a.login)).map((l) => l.toLowerCase()))
  for (const login of agencyClients)
    if (!logins.has(login)) throw new RangeError(`agencyClients names ${login}, which is no yandexDirect account`)
  const keepReadyHours = options.keepReadyHours ?? 5
  if (!(keepReadyHours > 0)) throw new RangeError(`yandexDirect.keepReadyHours must be positive, got ${keepReadyHours}`)
  return {
    accounts,
    agencyToken: options.agencyToken,
    agencyClients,
    onlineMaxRows: count('onlineMaxRows', options.onlineMaxRows, 100_000),
    requestsPer10s: count('requestsPer10s', options.requestsPer10s, 20, 1),
    maxConcurrent: count('maxConcurrent', options.maxConcurrent, 5, 1),
    maxQueuedReports: count('maxQueuedReports', options.maxQueuedReports, 5, 1),
    keepReadyMs: keepReadyHours * 3_600_000,
    authErrorStatus: options.authErrorStatus ?? 400,
    limitErrorStatus: options.limitErrorStatus ?? 400,
    unitsDailyLimit: count('unitsDailyLimit', options.unitsDailyLimit, 64_000, 1),
    faults: resolveDirectFaults(options.faults),
  }
}
