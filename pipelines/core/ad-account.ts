import type { Day } from './day.ts'

/**
 * What every ad account has, whatever its platform (Yandex Direct, VK Ads): the Calltouch site it
 * advertises, the channel keys its spend stands for, and how far back it is read. Each platform's
 * source adds its credentials (sources/yandex-direct/config.ts, sources/vk-ads/config.ts).
 */

/**
 * How the account's spend meets the deals: the deals' utm_source and utm_medium the account's ads
 * carry, and what their utm_campaign holds: the campaign `id` (Direct's `{campaign_id}`, VK's
 * `{{ad_plan_id}}`) or its `name`.
 */
export interface UtmMapping {
  readonly source: string
  readonly medium: string
  readonly campaign: 'id' | 'name'
}

export interface AdAccountBase {
  /** The Calltouch site whose deals the spend is set against. */
  readonly siteId: number
  /** First day a sync reads (default: the site's startDate). */
  readonly startDate: Day
  /** IANA zone of the account's days: the site's. */
  readonly timeZone: string
  readonly utm: UtmMapping
  /** The platform's API base URL (default the vendor's; the simulator or a proxy otherwise). */
  readonly baseUrl: string
  /** The account's currency when given in the config; otherwise the platform's. */
  readonly currency?: string | undefined
  /** Where the account was configured, for messages: `adAccounts[1]` or `environment`. */
  readonly where: string
}

/** How the ad accounts of a run are read, whatever the platform. */
export interface AdAccountSettings {
  /** Days up to today re-read by every sync: platforms refine recent statistics for days. */
  readonly lookbackDays: number
  /** Older days are re-read up to this age ... */
  readonly refreshMaxAgeDays: number
  /** ... once their last complete read is this many days old. */
  readonly refreshAfterDays: number
  /** Time allowed for one request, answer included. */
  readonly timeoutMs: number
  /** Retries of one request after a 429, a 5xx, a network error or a timeout. */
  readonly maxRetries: number
}

export const DEFAULT_AD_ACCOUNT_SETTINGS: AdAccountSettings = Object.freeze({
  lookbackDays: 10,
  refreshMaxAgeDays: 60,
  refreshAfterDays: 7,
  timeoutMs: 60_000,
  maxRetries: 5,
})

/** A range of days one request (or one report) covered, and why it failed when it did. */
export interface AdRangeFailure {
  readonly firstDay: Day
  readonly lastDay: Day
  readonly error: string
}

/** How one account's part of a run went. */
export interface AdAccountRunResult {
  readonly type: 'yandex-direct' | 'vk-ads'
  /** The ledger's account: Direct's client login, VK's client id. Null when the account could not even be identified. */
  readonly account: string | null
  readonly siteId: number
  readonly where: string
  /** The account's currency (config, else the platform's); null when it could not be learnt. The jobs layer records it with the account's channel keys. */
  readonly currency: string | null
  /** Days read completely and stored. */
  readonly daysRead: number
  /** Campaign-days written: new, changed, deleted; and read again unchanged. */
  readonly inserted: number
  readonly updated: number
  readonly deleted: number
  readonly unchanged: number
  /** HTTP requests sent (retries and polls included) and retries. */
  readonly requests: number
  readonly retries: number
  /** Ranges that failed, with the platform's reason. */
  readonly failures: readonly AdRangeFailure[]
  /** Why the whole account failed (a refused token, a wrong login), when it did. */
  readonly error: string | null
}
